"""Bad place files, each delivered as a month's KT store list and fed through the DAG's steps
(land -> validate -> publish) on the emulator.

For every case: the expected outcome and message (naming the file, and the line where there is
one); `core.places` either untouched or holding only the good places; and nothing lost: every
data line of a file that could be read is in `raw.place_crawls`, and every line that did not
reach `core.places` is accounted for (quarantined, a repeat, or outside Seoul). The bundled
2023 crawl (471 Seoul stores) is published first, so the volume check has a last month.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from retention.config import Settings
from retention.places.bundled import BUNDLED_FILES
from retention.places.files import land_places
from retention.places.model import KT_STORE_FINDER
from retention.places.refresh import NoCrawl, ensure_tables, publish_crawl, seed_bundled_places, validate_crawl
from retention.quality.gates import DataQualityError
from retention.sources.csv_files import SourceFileError, SourceFileMissing
from retention.warehouse import Warehouse

pytestmark = pytest.mark.emulator

FIRST_MONTH = dt.date(2027, 1, 1)
HEADER, ROWS = (lambda r: (r[0], r[1:]))(list(csv.reader(
    BUNDLED_FILES[KT_STORE_FINDER].open(encoding="utf-8", newline=""))))  # 장소타입,장소,주소,전화번호; 475 stores


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


def changed(column: int, lines: range | list[int], value: Callable[[str], str]) -> str:
    rows = [list(row) for row in ROWS]
    for index in lines:
        rows[index][column] = value(rows[index][column])
    return to_csv(HEADER, rows)


def cut_lines(every: int) -> str:
    """Every `every`-th store loses its address and phone (a line cut short when exported)."""
    rows = [row[:2] if index % every == every - 1 else row for index, row in enumerate(ROWS)]
    return to_csv(HEADER, rows)


@dataclass(frozen=True)
class Case:
    name: str
    content: Callable[[], str | bytes | None]
    outcome: str
    """publish_with_warnings, block, or the exception landing raises."""
    message: str
    published: int | None = None
    quarantined: int = 0


CASES = [
    Case("empty file", lambda: b"", "SourceFileError", r"kt_stores_2027-01\.csv is empty"),
    Case("header only", lambda: to_csv(HEADER, []), "SourceFileError",
         r"kt_stores_2027-02\.csv has a header \(line 1\) but no places"),
    Case("blank first line", lambda: "\r\n" + to_csv(HEADER, ROWS), "SourceFileError",
         r"kt_stores_2027-03\.csv, line 1: the header line is blank"),
    Case("not text", lambda: to_csv(HEADER, ROWS[:2]).encode() + b"\xff\xfe\xfa\xfb,x\r\n", "SourceFileError",
         r"kt_stores_2027-04\.csv is neither UTF-8 nor CP949/EUC-KR text \(.*line 4\): re-export"),
    Case("one column under two headers", lambda: to_csv(HEADER + ["address"], [r + [r[2]] for r in ROWS]),
         "SourceFileError", r"kt_stores_2027-05\.csv: header columns \['주소', 'address'\] all mean \['address'\]"),
    Case("address column missing", lambda: to_csv(["장소타입", "장소", "전화번호"], [[r[0], r[1], r[3]] for r in ROWS]),
         "block", r"kt_stores_2027-06\.csv\) was not published.*no column address \(headers accepted: 주소, "),
    Case("mostly outside Seoul", lambda: changed(2, range(0, 475, 2), lambda a: re.sub(r"^서울\S*", "경기도", a)),
         "block", r"kt_stores_2027-07\.csv\) was not published.*mostly_in_seoul: observed 241 of 475 \(50\.7%\), "
                  r"lines 2, 4, 6"),
    Case("far fewer stores than last month", lambda: to_csv(HEADER, ROWS[::10]), "block",
         r"kt_stores_2027-08\.csv\) was not published.*within 0\.8x-1\.25x of the published places \(471\).*"
         r"observed 48\b"),
    Case("unknown store types", lambda: changed(0, range(475), lambda t: "매장"), "block",
         r"kt_stores_2027-09\.csv\) was not published: 471 of 471 rows \(100\.0%\) failed blocking row checks.*"
         r"place_type"),
    Case("many lines cut short", lambda: cut_lines(40), "block",
         r"kt_stores_2027-10\.csv\) was not published: 11 of 471 rows \(2\.3%\) failed blocking row checks.*"
         r"file_error.*line 41 has 2 fields, the header has 4"),
    Case("one line cut short", lambda: cut_lines(400), "publish_with_warnings",
         r"kt_stores_2027-11\.csv\): 1 of 471 rows quarantined", published=470, quarantined=1),
    Case("two stores without a name", lambda: changed(1, [5, 6], lambda n: " "), "publish_with_warnings",
         r"kt_stores_2027-12\.csv\): 2 of 471 rows quarantined", published=469, quarantined=2),
    Case("file not delivered", lambda: None, "SourceFileMissing",
         r"no kt_store_finder file for 2028-01 at .*kt_stores_2028-01\.csv: drop the month's file there"),
]


def month_of(index: int) -> dt.date:
    months = FIRST_MONTH.month - 1 + index
    return dt.date(FIRST_MONTH.year + months // 12, months % 12 + 1, 1)


@pytest.fixture(scope="module")
def published_bundled(emulator):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETENTION_DATASET_PREFIX", "bad_place_files_")
        warehouse = Warehouse.connect(Settings.from_env())
        ensure_tables(warehouse)
        seed_bundled_places(warehouse)
        yield warehouse


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.name for case in CASES])
def test_bad_place_file(published_bundled, tmp_path, monkeypatch, index):
    case, warehouse, month = CASES[index], published_bundled, month_of(index)
    monkeypatch.setenv("RETENTION_KT_STORES_SOURCE", str(tmp_path))
    content = case.content()
    if content is not None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (tmp_path / f"kt_stores_{month:%Y-%m}.csv").write_bytes(data)
    before = _current(warehouse)

    if case.outcome in ("SourceFileError", "SourceFileMissing"):
        expected = SourceFileMissing if case.outcome == "SourceFileMissing" else SourceFileError
        with pytest.raises(expected, match=case.message) as raised:
            land_places(warehouse, KT_STORE_FINDER, month)
        assert "core.places keeps the last published places" in str(raised.value)
        assert _current(warehouse) == before
        assert _raw_rows(warehouse, month) == 0
        return

    landed = land_places(warehouse, KT_STORE_FINDER, month)
    assert landed["origin"] == "owner_file"
    if case.outcome == "block":
        with pytest.raises(DataQualityError, match=case.message) as raised:
            validate_crawl(warehouse, KT_STORE_FINDER, month, landed["crawl_id"])
        assert "fix the file and re-run" in str(raised.value).lower()
        assert "core.places keeps the last published places" in str(raised.value)
        with pytest.raises(DataQualityError, match="not cleared for publishing"):
            publish_crawl(warehouse, KT_STORE_FINDER, month, landed["crawl_id"])
        assert _current(warehouse) == before
    else:
        result = validate_crawl(warehouse, KT_STORE_FINDER, month, landed["crawl_id"])
        assert result["decision"] == case.outcome
        assert re.search(case.message, result["message"]), result["message"]
        publish_crawl(warehouse, KT_STORE_FINDER, month, landed["crawl_id"])
        assert len(_current(warehouse)) == case.published

    # Nothing lost: every data line is in raw; what core.places lacks is accounted for.
    file_lines = len([row for row in csv.reader(io.StringIO(data.decode("utf-8"))) if row]) - 1
    assert _raw_rows(warehouse, month) == landed["rows"] == file_lines
    if case.outcome != "block":
        prepared = warehouse.rows(
            "SELECT COUNTIF(duplicate_of_row IS NOT NULL) AS repeats, COUNTIF(out_of_area) AS outside "
            "FROM `{{ raw }}.places_prepared` WHERE crawl_id = @c", {"c": landed["crawl_id"]})[0]
        quarantined = warehouse.count_rows(warehouse.table_id("ops", "quarantine"), "load_id = @c",
                                           {"c": landed["crawl_id"]})
        assert quarantined == case.quarantined
        assert file_lines == case.published + quarantined + prepared["repeats"] + prepared["outside"]
    decisions = warehouse.rows("SELECT decision FROM `{{ ops }}.validation_runs` WHERE load_id = @c",
                               {"c": landed["crawl_id"]})
    assert [row["decision"] for row in decisions] == [case.outcome]


def test_a_past_month_without_a_file_is_skipped_and_one_whose_file_is_gone_re_uses_it(
    published_bundled, tmp_path, monkeypatch
):
    """Backfills: a month from before the files were delivered has nothing to wait for; a month
    whose file was landed and later removed from the landing folder gives the same crawl."""
    warehouse, past = published_bundled, dt.date(2026, 6, 1)
    monkeypatch.setenv("RETENTION_KT_STORES_SOURCE", str(tmp_path))
    with pytest.raises(NoCrawl, match=r"no kt_store_finder file for the past month 2026-06 .* unchanged"):
        land_places(warehouse, KT_STORE_FINDER, past)
    (tmp_path / "kt_stores_2026-07.csv").write_text(to_csv(HEADER, ROWS), encoding="utf-8")
    landed = land_places(warehouse, KT_STORE_FINDER, dt.date(2026, 7, 1))
    (tmp_path / "kt_stores_2026-07.csv").unlink()
    again = land_places(warehouse, KT_STORE_FINDER, dt.date(2026, 7, 1))
    assert again == landed and again["rows"] == 475


def _current(warehouse) -> list[dict]:
    return warehouse.rows(
        "SELECT place_id, name, address, crawl_id FROM `{{ core }}.places` "
        "WHERE source = @s AND valid_to IS NULL ORDER BY place_id", {"s": KT_STORE_FINDER})


def _raw_rows(warehouse, month: dt.date) -> int:
    return warehouse.count_rows(warehouse.table_id("raw", "place_crawls"), "crawl_date = @d AND source = @s",
                                {"d": month, "s": KT_STORE_FINDER})
