"""A weekly CSV file read as a stream of row chunks, so that no file is ever held whole.

Two passes over the bytes: the first hashes them (the load id) and finds the encoding
(UTF-8, UTF-8 with a byte order mark, else CP949) block by block; the second parses them
with the standard `csv` module, chunk by chunk, keeping the file line each row starts on.
Both passes read at most one block or one chunk at a time, whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from retention.sources.csv_files import CsvFile, SourceFileError, SourceFileMissing, read_header

BLOCK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RowChunk:
    rows: list[list[str]]
    """Data rows, values as text, in file order (blank lines skipped)."""
    line_numbers: list[int]
    """The file line each row starts on (a quoted field may span lines)."""


@dataclass(frozen=True)
class CsvStream:
    """A CSV file's header, encoding and hash, and a way to read its rows chunk by chunk."""

    source_uri: str
    header: list[str]
    sha256: str
    encoding: str
    _opener: object = None
    _rows: list[list[str]] | None = None
    _line_numbers: list[int] | None = None

    @property
    def load_id(self) -> str:
        """Same bytes, same id: re-landing a file replaces itself, a corrected file is kept beside it."""
        return self.sha256[:16]

    def chunks(self, chunk_rows: int) -> Iterator[RowChunk]:
        """The data rows, at most `chunk_rows` at a time; raises SourceFileError on invalid CSV."""
        if self._rows is not None:
            lines = self._line_numbers or [index + 2 for index in range(len(self._rows))]
            for start in range(0, len(self._rows), chunk_rows):
                yield RowChunk(self._rows[start:start + chunk_rows], lines[start:start + chunk_rows])
            return
        with self._opener() as binary:  # type: ignore[misc]
            text = io.TextIOWrapper(binary, encoding=self.encoding, newline="")
            reader = csv.reader(text)
            next(reader)
            rows: list[list[str]] = []
            lines: list[int] = []
            previous_end = reader.line_num
            try:
                for row in reader:
                    if row:
                        rows.append(row)
                        lines.append(previous_end + 1)
                        if len(rows) == chunk_rows:
                            yield RowChunk(rows, lines)
                            rows, lines = [], []
                    previous_end = reader.line_num
            except csv.Error as error:
                raise SourceFileError(f"{self.source_uri}: not valid CSV after line {reader.line_num} ({error})") from None
            if rows:
                yield RowChunk(rows, lines)


def from_csv_file(csv_file: CsvFile) -> CsvStream:
    """A file already in memory (generated demo data) as a stream, so one landing path serves both."""
    return CsvStream(csv_file.source_uri, csv_file.header, csv_file.sha256, csv_file.encoding,
                     _rows=csv_file.rows, _line_numbers=csv_file.line_numbers)


def open_csv(uri: str) -> CsvStream:
    """Hash the file, find its encoding and read its header; the rows are read later, by `chunks`."""
    opener = _opener(uri)
    sha256, encoding = _hash_and_encoding(opener, uri)
    with opener() as binary:
        header = read_header(csv.reader(io.TextIOWrapper(binary, encoding=encoding, newline="")), uri)
    return CsvStream(uri, header, sha256, encoding, _opener=opener)


def _hash_and_encoding(opener, uri: str) -> tuple[str, str]:
    """UTF-8 (a byte order mark is removed), else the legacy Korean CP949 (a superset of EUC-KR)."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_error: int | None = None
    offset = 0
    bom = False
    with opener() as binary:
        while block := binary.read(BLOCK_BYTES):
            if offset == 0:
                bom = block.startswith(codecs.BOM_UTF8)
            digest.update(block)
            if utf8_error is None:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError as error:
                    utf8_error = offset + error.start
            offset += len(block)
    if utf8_error is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError as error:
            utf8_error = offset - len(error.object) + error.start
    if utf8_error is None:
        return digest.hexdigest(), "utf-8-sig" if bom else "utf-8"
    cp949 = codecs.getincrementaldecoder("cp949")()
    try:
        with opener() as binary:
            while block := binary.read(BLOCK_BYTES):
                cp949.decode(block)
            cp949.decode(b"", final=True)
    except UnicodeDecodeError:
        raise SourceFileError(
            f"{uri} is neither UTF-8 nor CP949/EUC-KR text (first bad byte at offset {utf8_error}): "
            "re-export the file as UTF-8 CSV"
        ) from None
    return digest.hexdigest(), "cp949"


def _opener(uri: str):
    """A function that opens the file for binary reading, once per pass."""
    if uri.startswith("gs://"):
        # Airflow's object storage resolves the bucket with the same Google connection as BigQuery.
        from airflow.sdk import ObjectStoragePath

        from retention.config import Settings

        path = ObjectStoragePath(uri, conn_id=Settings.from_env().gcp_conn_id)
        if not path.exists():
            raise SourceFileMissing(f"no file at {uri}: upload the week's file there, or fix the source setting")

        @contextmanager
        def open_remote() -> Iterator[BinaryIO]:
            with path.open("rb") as handle:
                yield handle

        return open_remote
    local = Path(uri)
    if not local.is_file():
        raise SourceFileMissing(
            f"no file at {local}: drop the week's file there (named <source>_YYYY-MM-DD.csv, "
            "see README, Input contracts), or fix the source setting"
        )
    return lambda: local.open("rb")
