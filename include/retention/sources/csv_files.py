"""Where a week's source file comes from, and how it is read exactly as received.

Weekly sources are CSV files named `<name>_<YYYY-MM-DD>.csv` (the Monday of the week) in a
landing folder or a `gs://` prefix (see README, "Input contracts"). Values are kept as the
text that arrived; typing happens in the warehouse, so the raw layer can always show what
the file said.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path



class SourceFileError(RuntimeError):
    """A source file cannot be used as it is; the message says which and what to do.
    Retrying will not help: the file has to be fixed."""


class SourceFileMissing(SourceFileError):
    """The week's file is not there (yet): retrying later may find it."""


@dataclass(frozen=True)
class CsvFile:
    source_uri: str
    header: list[str]
    """Column names as they appear in the file."""
    rows: list[list[str]]
    """Data rows, values as text, in file order (blank lines skipped)."""
    sha256: str
    encoding: str = "utf-8"
    """How the bytes were decoded: `utf-8`, `utf-8-sig` (a byte order mark was removed) or `cp949`."""
    line_numbers: list[int] | None = None
    """The file line each row starts on (a quoted field may span lines)."""

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


def weekly_file(location: str, name: str, snapshot_date: dt.date) -> str:
    """`<location>/<name>_<YYYY-MM-DD>.csv`, for a landing folder or a `gs://` prefix."""
    return landing_file(location, f"{name}_{snapshot_date.isoformat()}.csv")


def landing_file(location: str, file_name: str) -> str:
    """`<location>/<file_name>`, for a landing folder or a `gs://` prefix."""
    if location.startswith("gs://"):
        return f"{location.rstrip('/')}/{file_name}"
    return str(Path(location) / file_name)


def read_csv_file(uri: str, *, column_name: Callable[[str], str] = snake_case) -> CsvFile:
    data = _read_bytes(uri)
    text, encoding = decode(data, uri)
    return read_csv_text(text, uri, hashlib.sha256(data).hexdigest(), encoding, column_name=column_name)


def read_header(reader, uri: str, column_name: Callable[[str], str] = snake_case) -> list[str]:
    """The header line of a CSV reader; an empty file, a broken header, or two headers meaning the
    same column (by `column_name`) are refused with the file's name."""
    try:
        header = next(reader)
    except StopIteration:
        raise SourceFileError(f"{uri} is empty: expected a CSV header line and data rows") from None
    except csv.Error as error:
        raise SourceFileError(f"{uri}: the header line is not valid CSV ({error})") from None
    names = [column_name(h) for h in header]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise SourceFileError(
            f"{uri}: header columns {[h for h, n in zip(header, names, strict=True) if n in clashes]} all mean "
            f"{clashes}; rename or drop the duplicates"
        )
    return header


def read_csv_text(
    text: str, uri: str, sha256: str, encoding: str = "utf-8", *, column_name: Callable[[str], str] = snake_case
) -> CsvFile:
    """`column_name` says what a header means; two headers meaning the same column are refused
    (snake_case for the weekly files; the places files map Hangul headers their own way)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = read_header(reader, uri, column_name)
    rows, line_numbers = [], []
    previous_end = reader.line_num
    try:
        for row in reader:
            if row:
                rows.append(row)
                line_numbers.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as error:
        raise SourceFileError(f"{uri}: not valid CSV after line {reader.line_num} ({error})") from None
    return CsvFile(source_uri=uri, header=header, rows=rows, sha256=sha256, encoding=encoding,
                   line_numbers=line_numbers)


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
            line = data.count(b"\n", 0, utf8_error.start) + 1
            raise SourceFileError(
                f"{uri} is neither UTF-8 nor CP949/EUC-KR text (first bad byte at offset {utf8_error.start}, "
                f"line {line}): "
                "re-export the file as UTF-8 CSV"
            ) from None


def _read_bytes(uri: str) -> bytes:
    if uri.startswith("gs://"):
        # Airflow's object storage resolves the bucket with the same Google connection as BigQuery.
        from airflow.sdk import ObjectStoragePath

        from retention.config import Settings

        path = ObjectStoragePath(uri, conn_id=Settings.from_env().gcp_conn_id)
        if not path.exists():
            raise SourceFileMissing(f"no file at {uri}: upload the week's file there, or fix the source setting")
        return path.read_bytes()
    path = Path(uri)
    if not path.is_file():
        raise SourceFileMissing(
            f"no file at {path}: drop the week's file there (named <source>_YYYY-MM-DD.csv, "
            "see README, Input contracts), or fix the source setting"
        )
    return path.read_bytes()
