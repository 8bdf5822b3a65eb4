"""Places from the owner's own files: KT's store list and the 디지털 배움터 venue list as
delivered files, used instead of scraping the sites when a file source is configured.

`RETENTION_KT_STORES_SOURCE` / `RETENTION_LEARNING_CENTERS_SOURCE` name a landing folder or a
`gs://` prefix holding one CSV per month, `kt_stores_<YYYY-MM>.csv` and
`learning_centers_<YYYY-MM>.csv`. A file is read as people send it: UTF-8 with or without a
byte order mark, or CP949/EUC-KR as Korean Excel saves it (the validation warns and names the
encoding); columns by their header in any order, under the names of the 2023 crawl, of the
owner's own spreadsheet or in English (`COLUMNS`). It is landed as received in
`raw.place_crawls`, one row per data line with its line number (`source_row`), the columns
the platform does not read kept as JSON (`extra_columns`), the header as received; then it
goes through the same normalising, geocoding, checks and versioned publish as a crawl, with
`origin = 'owner_file'` and the file's URI in `core.places.source_uri`.

A file's id is the source, the month and a hash of its bytes: the same file landed twice is
landed once (a re-run gives the same tables); a corrected file is a new crawl of the month,
kept beside the first in raw.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import unicodedata
from dataclasses import dataclass

from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER
from retention.places.refresh import NoCrawl, latest_landed_crawl, scrape_and_land
from retention.schedule import crawl_month
from retention.sources.csv_files import CsvFile, SourceFileError, SourceFileMissing, landing_file, read_csv_file
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

OWNER_FILE = "owner_file"

# What the platform reads from a file, by source: column -> headers accepted for it (compared
# without spaces, underscores or case). The first is the 2023 crawl's header; then what the
# owner's own exports call it; then English.
COLUMNS = {
    KT_STORE_FINDER: {
        "type_label": ("장소타입", "매장유형", "매장구분", "유형", "type", "type_label", "store_type"),
        "name": ("장소", "매장명", "점포명", "name", "store_name"),
        "address": ("주소", "매장주소", "도로명주소", "address"),
        "phone": ("전화번호", "대표번호", "연락처", "phone"),
    },
    DIGITAL_LEARNING_CENTERS: {
        "name": ("장소명", "교육장명", "교육장", "배움터명", "name", "venue_name"),
        "address": ("주소명", "교육장주소", "도로명주소", "주소", "address"),
        "phone": ("전화번호", "연락처", "phone"),
        "detail_url": ("상세페이지", "상세페이지URL", "URL", "detail_url"),
    },
}
REQUIRED = {KT_STORE_FINDER: ("type_label", "name", "address"), DIGITAL_LEARNING_CENTERS: ("name", "address")}
SETTINGS = {KT_STORE_FINDER: "RETENTION_KT_STORES_SOURCE", DIGITAL_LEARNING_CENTERS: "RETENTION_LEARNING_CENTERS_SOURCE"}
FILE_NAMES = {KT_STORE_FINDER: "kt_stores", DIGITAL_LEARNING_CENTERS: "learning_centers"}


# The columns file sources added to the places tables reach a warehouse created before them
# through sql/migrations/0001_place_file_columns.sql (new ones have them from the DDL).


def file_location(source: str) -> str | None:
    """The landing folder or `gs://` prefix of the source's files; None: scrape the site."""
    return os.environ.get(SETTINGS[source]) or None


def monthly_file(location: str, source: str, month: dt.date) -> str:
    return landing_file(location, f"{FILE_NAMES[source]}_{month:%Y-%m}.csv")


def _key(header: str) -> str:
    text = unicodedata.normalize("NFC", header).casefold()
    return "".join(ch for ch in text if not ch.isspace() and ch != "_")


_ALIASES = {source: {_key(alias): column for column, aliases in columns.items() for alias in aliases}
            for source, columns in COLUMNS.items()}


def column_of(source: str, header: str) -> str:
    """The column a header gives (`name`, `address`...), or the header itself (an extra column)."""
    return _ALIASES[source].get(_key(header), header.strip())


@dataclass(frozen=True)
class PlaceFile:
    """What validation needs to know of a landed file, read back from raw.place_crawls."""

    source: str
    source_uri: str
    encoding: str
    header: list[str]
    missing_columns: list[str]
    """Required columns no header gives."""
    extra_columns: list[str]
    """Headers the platform does not read (kept in raw, not published)."""

    def accepted_headers(self, column: str) -> str:
        return ", ".join(COLUMNS[self.source][column])


def place_file(source: str, source_uri: str, encoding: str, header: list[str]) -> PlaceFile:
    columns = {column_of(source, h) for h in header}
    return PlaceFile(
        source=source, source_uri=source_uri, encoding=encoding, header=header,
        missing_columns=[c for c in REQUIRED[source] if c not in columns],
        extra_columns=[h for h in header if column_of(source, h) not in COLUMNS[source]],
    )


def land_places(warehouse: Warehouse, source: str, month: dt.date) -> dict:
    """The month's places of `source`: from the owner's file when a file source is configured,
    else scraped from the site (`scrape_and_land`, which raises NoCrawl when there is none)."""
    location = file_location(source)
    if location is None:
        return scrape_and_land(warehouse, source, month)
    return land_place_file(warehouse, source, month, monthly_file(location, source, month))


def land_place_file(warehouse: Warehouse, source: str, month: dt.date, uri: str) -> dict:
    """Land one month's file of `source` as received. When it is not there, a past month re-uses
    the file landed for it then, or is skipped (NoCrawl) if there was none; this month raises
    SourceFileMissing (retried: the file may be late). SourceFileError when it cannot be read at
    all (empty, not text, no data lines)."""
    try:
        csv_file = read_csv_file(uri, column_name=lambda header: column_of(source, header))
    except SourceFileMissing:
        landed = latest_landed_crawl(warehouse, source, month, origin=OWNER_FILE)
        if landed is not None:
            log.info("%s is gone; re-using the %s file landed for %s (crawl %s)", uri, source, month,
                     landed["crawl_id"])
            place_file = landed_place_file(warehouse, source, month, landed["crawl_id"])
            return {**landed, "source_uri": place_file.source_uri, "encoding": place_file.encoding}
        if month < crawl_month(dt.datetime.now(dt.UTC)):
            # A backfill of a month from before the files were delivered: nothing to wait for.
            raise NoCrawl(f"no {source} file for the past month {month:%Y-%m} at {uri}, and none was landed for "
                          "it: core.places is unchanged")
        raise SourceFileMissing(
            f"no {source} file for {month:%Y-%m} at {uri}: drop the month's file there (named "
            f"{FILE_NAMES[source]}_YYYY-MM.csv, see README, 'Places'), or unset {SETTINGS[source]} to scrape the "
            "site instead; core.places keeps the last published places"
        ) from None
    except SourceFileError as error:
        raise SourceFileError(f"{error}; fix or re-export the file and put it back under the same name "
                              "(see README, 'Places'); core.places keeps the last published places") from None
    if not any(header.strip() for header in csv_file.header):
        raise SourceFileError(f"{uri}, line 1: the header line is blank; the first line must name the columns "
                              f"({', '.join(COLUMNS[source])}); core.places keeps the last published places")
    if not csv_file.rows:
        raise SourceFileError(f"{uri} has a header (line 1) but no places after it: send the whole list; "
                              "core.places keeps the last published places")
    csv_file = dataclasses.replace(csv_file, encoding=korean_encoding(csv_file))
    crawl_id = f"{source}-{month:%Y%m}-{csv_file.sha256[:12]}"
    already = latest_landed_crawl(warehouse, source, month, crawl_id=crawl_id)
    if already is not None:
        log.info("%s was landed before as crawl %s: not landed again", uri, crawl_id)
        return {**already, "source_uri": uri, "encoding": csv_file.encoding}
    rows = raw_rows(source, month, crawl_id, csv_file, dt.datetime.now(dt.UTC))
    warehouse.replace_rows(
        warehouse.table_id("raw", "place_crawls"), rows, {"crawl_date": month, "source": source, "crawl_id": crawl_id}
    )
    log.info("landed %s %s places for %s from %s (%s) as crawl %s", len(rows), source, month, uri,
             csv_file.encoding, crawl_id)
    return {"source": source, "crawl_date": month.isoformat(), "crawl_id": crawl_id, "rows": len(rows),
            "origin": OWNER_FILE, "source_uri": uri, "encoding": csv_file.encoding}


def korean_encoding(csv_file: CsvFile) -> str:
    """`euc-kr` for a CP949-decoded file whose every character EUC-KR has (the two agree on
    those bytes), `cp949` when it uses what only CP949 has (똠, 햏...); else as decoded."""
    if csv_file.encoding != "cp949":
        return csv_file.encoding
    text = "".join(csv_file.header + [value for row in csv_file.rows for value in row])
    # Python's euc_kr also writes syllables outside the standard's 2,350 as 8-byte jamo
    # sequences, which is not what Excel wrote: only the same bytes as CP949 count as EUC-KR.
    try:
        return "euc-kr" if text.encode("euc_kr") == text.encode("cp949") else "cp949"
    except UnicodeEncodeError:
        return "cp949"


def raw_rows(source: str, month: dt.date, crawl_id: str, csv_file: CsvFile, landed_at: dt.datetime) -> list[dict]:
    """One row per data line, values exactly as the file has them (not even stripped)."""
    header = csv_file.header
    columns = [column_of(source, h) for h in header]
    lines = csv_file.line_numbers or [index + 2 for index in range(len(csv_file.rows))]
    rows = []
    for position, (values, line) in enumerate(zip(csv_file.rows, lines, strict=True), start=1):
        known, extras = {}, {}
        for name, column, value in zip(header, columns, values, strict=False):
            if column in COLUMNS[source]:
                known[column] = value
            else:
                extras[name] = value
        if len(values) > len(header):
            extras["(beyond the header)"] = values[len(header):]
        rows.append({
            "crawl_date": month, "source": source, "crawl_id": crawl_id, "origin": OWNER_FILE, "base_url": None,
            "crawled_at": landed_at, "source_row": line, "type_label": known.get("type_label"),
            "name": known.get("name"), "address": known.get("address"), "phone": known.get("phone"),
            "detail_url": known.get("detail_url"), "page": None, "position": position, "loaded_at": landed_at,
            "source_uri": csv_file.source_uri, "file_encoding": csv_file.encoding,
            "file_header": json.dumps(header, ensure_ascii=False),
            "extra_columns": json.dumps(extras, ensure_ascii=False) if extras else None,
            "file_error": (f"line {line} has {len(values)} fields, the header has {len(header)} (cut or shifted line)"
                           if len(values) != len(header) else None),
        })
    return rows


def landed_place_file(warehouse: Warehouse, source: str, crawl_date: dt.date, crawl_id: str) -> PlaceFile | None:
    """The file a landed crawl came from; None for a scrape or the bundled crawl."""
    rows = warehouse.rows(
        "SELECT ANY_VALUE(source_uri) AS source_uri, ANY_VALUE(file_encoding) AS encoding, "
        "ANY_VALUE(file_header) AS header FROM `{{ raw }}.place_crawls` "
        "WHERE crawl_date = @d AND source = @source AND crawl_id = @crawl_id AND origin = @origin",
        {"d": crawl_date, "source": source, "crawl_id": crawl_id, "origin": OWNER_FILE}, source="raw.place_crawls",
    )
    if not rows or rows[0]["source_uri"] is None:
        return None
    row = rows[0]
    return place_file(source, row["source_uri"], row["encoding"], json.loads(row["header"]))
