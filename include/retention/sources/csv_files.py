"""Where a week's source file comes from, and how it is read exactly as received.

Weekly sources are CSV files named `<name>_<YYYY-MM-DD>.csv` (the Monday of the week) in a
landing folder or a `gs://` prefix (see README, "Input contracts"). Values are kept as the
text that arrived; typing happens in the warehouse, so the raw layer can always show what
the file said.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
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
    file_name = f"{name}_{snapshot_date.isoformat()}.csv"
    if location.startswith("gs://"):
        return f"{location.rstrip('/')}/{file_name}"
    return str(Path(location) / file_name)


def read_csv_file(uri: str) -> CsvFile:
    """The whole file in memory, for small files; landing streams it (`csv_stream.open_csv`)."""
    from retention.sources.csv_stream import open_csv

    stream = open_csv(uri)
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    for chunk in stream.chunks(100_000):
        rows += chunk.rows
        line_numbers += chunk.line_numbers
    return CsvFile(source_uri=uri, header=stream.header, rows=rows, sha256=stream.sha256, encoding=stream.encoding,
                   line_numbers=line_numbers)


def read_csv_text(text: str, uri: str, sha256: str, encoding: str = "utf-8") -> CsvFile:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceFileError(f"{uri} is empty: expected a CSV header line and data rows") from None
    except csv.Error as error:
        raise SourceFileError(f"{uri}: the header line is not valid CSV ({error})") from None
    names = [snake_case(h) for h in header]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise SourceFileError(
            f"{uri}: header columns {[h for h, n in zip(header, names, strict=True) if n in clashes]} all mean "
            f"{clashes}; rename or drop the duplicates"
        )
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
