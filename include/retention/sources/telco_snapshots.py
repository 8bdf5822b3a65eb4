"""Where a week's customer snapshot file comes from, and how it is read exactly as received.

A snapshot is a CSV file with the IBM Telco Customer Churn header (see README, "Snapshot
contract"). Values are kept as the text that arrived; typing happens in the warehouse, so
the raw layer can always show what the file said.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from retention.config import BUNDLED_TELCO_SNAPSHOT

FILE_PATTERN = "telco_customers_{date}.csv"


class SnapshotError(RuntimeError):
    """A snapshot file cannot be used as it is; the message says which and what to do.
    Retrying will not help: the file has to be fixed."""


class SnapshotMissing(SnapshotError):
    """The week's file is not there (yet): retrying later may find it."""


@dataclass(frozen=True)
class Snapshot:
    source_uri: str
    header: list[str]
    """Column names as they appear in the file."""
    rows: list[list[str]]
    """Data rows, values as text, in file order (row i is line i + 2 of the file)."""
    sha256: str
    encoding: str = "utf-8"
    """How the bytes were decoded: `utf-8`, `utf-8-sig` (a byte order mark was removed) or `cp949`."""

    @property
    def load_id(self) -> str:
        """Same bytes, same id: re-landing a file replaces itself, a corrected file is kept beside it."""
        return self.sha256[:16]


def snake_case(name: str) -> str:
    """`customerID` -> `customer_id`, `Churn Score.1` -> `churn_score_1`, `StreamingTV` -> `streaming_tv`."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()
    return name or "unnamed"


def locate_snapshot(source: str, snapshot_date: dt.date) -> str:
    """The file for one week: the bundled IBM file, or `telco_customers_<date>.csv` in a folder or bucket."""
    if source == "bundled":
        return str(BUNDLED_TELCO_SNAPSHOT)
    name = FILE_PATTERN.format(date=snapshot_date.isoformat())
    if source.startswith("gs://"):
        return f"{source.rstrip('/')}/{name}"
    return str(Path(source) / name)


def read_snapshot(uri: str) -> Snapshot:
    data = _read_bytes(uri)
    text, encoding = decode(data, uri)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SnapshotError(f"{uri} is empty: expected a CSV header line and customer rows") from None
    except csv.Error as error:
        raise SnapshotError(f"{uri}: the header line is not valid CSV ({error})") from None
    rows = []
    try:
        rows.extend(row for row in reader if row)
    except csv.Error as error:
        raise SnapshotError(f"{uri}: not valid CSV after line {reader.line_num} ({error})") from None
    return Snapshot(source_uri=uri, header=header, rows=rows, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding)


def decode(data: bytes, uri: str) -> tuple[str, str]:
    """UTF-8 (a byte order mark is removed), else the legacy Korean CP949 (a superset of EUC-KR)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp949"), "cp949"
        except UnicodeDecodeError:
            raise SnapshotError(
                f"{uri} is neither UTF-8 nor CP949/EUC-KR text (first bad byte at offset {utf8_error.start}): "
                "re-export the file as UTF-8 CSV"
            ) from None


def _read_bytes(uri: str) -> bytes:
    if uri.startswith("gs://"):
        # Airflow's object storage resolves the bucket with the same Google connection as BigQuery.
        from airflow.sdk import ObjectStoragePath

        from retention.config import Settings

        path = ObjectStoragePath(uri, conn_id=Settings.from_env().gcp_conn_id)
        if not path.exists():
            raise SnapshotMissing(f"no snapshot at {uri}: upload the week's file there or fix RETENTION_TELCO_SNAPSHOT_SOURCE")
        return path.read_bytes()
    path = Path(uri)
    if not path.is_file():
        raise SnapshotMissing(
            f"no snapshot file at {path}: drop the week's file there (named like "
            f"{FILE_PATTERN.format(date='YYYY-MM-DD')}) or set RETENTION_TELCO_SNAPSHOT_SOURCE"
        )
    return path.read_bytes()
