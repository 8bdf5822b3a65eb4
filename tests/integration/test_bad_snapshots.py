"""Bad snapshot files, each fed through land -> validate -> publish on the emulator.

For every case: the expected decision and message; `core` either untouched or holding only
the good rows; and nothing lost: every data row of the file is in `raw`, and every row that
did not reach `core` is in `ops.quarantine`. A previous week is published first, so the
volume check has something to compare with.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from collections.abc import Callable

import pytest

from retention.config import BUNDLED_TELCO_SNAPSHOT, Settings
from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
from retention.quality.gates import DataQualityError
from retention.sources.csv_files import SourceFileError, SourceFileMissing
from retention.warehouse import Warehouse

pytestmark = pytest.mark.emulator

BASE_WEEK = dt.date(2026, 11, 2)
HEADER, ROWS = (lambda r: (r[0], r[1:]))(list(csv.reader(BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline=""))))
COLUMN = {name: index for index, name in enumerate(HEADER)}


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def with_values(column: str, changes: dict[int, str]) -> str:
    rows = [list(row) for row in ROWS]
    for index, value in changes.items():
        rows[index][COLUMN[column]] = value
    return to_csv(HEADER, rows)


def without_column(column: str) -> str:
    keep = [i for i, name in enumerate(HEADER) if name != column]
    return to_csv([HEADER[i] for i in keep], [[row[i] for i in keep] for row in ROWS])


def renamed(column: str, new_name: str) -> str:
    return to_csv([new_name if name == column else name for name in HEADER], ROWS)


def truncated_last_line() -> str:
    text = to_csv(HEADER, ROWS)
    return text[: text.rstrip("\n").rfind(",", 0, len(text) - 200)]


def korean_cities() -> str:
    return with_values("City", {0: "서울", 1: "부산"})


@dataclass(frozen=True)
class Case:
    name: str
    content: Callable[[], str | bytes | None]
    outcome: str
    """publish, publish_with_warnings, block, or the name of the exception landing raises."""
    message: str
    published: int | None = None
    quarantined: int = 0
    encoding: str = "utf-8"


CASES = [
    Case("missing column", lambda: without_column("MonthlyCharges"), "block", r"missing: monthly_charges"),
    Case("renamed column", lambda: renamed("MonthlyCharges", "Monthly Charge"), "block",
         r"missing: monthly_charges.*contract does not know.*Monthly Charge"),
    Case("wrong type", lambda: with_values("MonthlyCharges", dict.fromkeys(range(len(ROWS)), "n/a")), "block",
         r'7043 of 7043 rows .*monthly_charges=\\"n/a\\" is not a number'),
    Case("duplicate customer ids", lambda: to_csv(HEADER, ROWS + [ROWS[10], ROWS[20]]), "publish_with_warnings",
         r"4 of 7045 rows quarantined", published=7041, quarantined=4),
    Case("negative charges", lambda: with_values("MonthlyCharges", {3: "-20.5", 4: "-1", 5: "-0.01"}),
         "publish_with_warnings", r"3 of 7043 rows quarantined", published=7040, quarantined=3),
    Case("ages out of range", lambda: with_values("Age", {7: "150", 8: "7"}), "publish_with_warnings",
         r"2 of 7043 rows quarantined", published=7041, quarantined=2),
    Case("too many bad rows", lambda: with_values("Age", dict.fromkeys(range(0, 7043, 50), "200")), "block",
         r"141 of 7043 rows \(2\.0%\) failed blocking row checks, above the allowed 1\.0%.*age"),
    Case("empty file", lambda: b"", "SourceFileError", r"is empty"),
    Case("header only", lambda: to_csv(HEADER, []), "block", r"The file has customer rows.*observed 0"),
    Case("truncated last line", truncated_last_line, "publish_with_warnings", r"1 of 7043 rows quarantined",
         published=7042, quarantined=1),
    Case("legacy Korean encoding", lambda: korean_cities().encode("cp949"), "publish_with_warnings",
         r"warnings: file_is_plain_utf8: cp949", published=7043, encoding="cp949"),
    Case("UTF-8 byte order mark", lambda: to_csv(HEADER, ROWS).encode("utf-8-sig"), "publish_with_warnings",
         r"file_is_plain_utf8: utf-8-sig", published=7043, encoding="utf-8-sig"),
    Case("extra unknown columns", lambda: to_csv(HEADER + ["Loyalty Tier"], [r + ["gold"] for r in ROWS]),
         "publish_with_warnings", r"file_has_no_unknown_columns: Loyalty Tier", published=7043),
    Case("ten times smaller", lambda: to_csv(HEADER, ROWS[::10]), "block",
         r"Row count is within 0\.5x-2x of the last published snapshot \(7043 rows\).*observed 705"),
    Case("not valid text", lambda: b"customerID,gender\n\xff\xfe\xfa\xfb,Male\n", "SourceFileError",
         r"neither UTF-8 nor CP949"),
    Case("file does not exist", lambda: None, "SourceFileMissing", r"no file at .*drop the week's file there"),
]


@pytest.fixture(scope="module")
def published_base_week(emulator, tmp_path_factory):
    """One warehouse for all cases, with the bundled snapshot published for BASE_WEEK."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETENTION_DATASET_PREFIX", "bad_files_")
        warehouse = Warehouse.connect(Settings.from_env())
        ensure_tables(warehouse)
        landed = land_snapshot(warehouse, BASE_WEEK, source="bundled")
        validate_snapshot(warehouse, landed)
        publish_customers(warehouse, BASE_WEEK, landed.load_id)
        yield warehouse


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.name for case in CASES])
def test_bad_snapshot(published_base_week, tmp_path, index):
    case = CASES[index]
    warehouse = published_base_week
    week = BASE_WEEK + dt.timedelta(weeks=index + 1)
    content = case.content()
    if content is not None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (tmp_path / f"telco_customers_{week}.csv").write_bytes(data)
    before = _core_weeks(warehouse)

    if case.outcome in ("SourceFileError", "SourceFileMissing"):
        expected = SourceFileMissing if case.outcome == "SourceFileMissing" else SourceFileError
        with pytest.raises(expected, match=case.message):
            land_snapshot(warehouse, week, source=str(tmp_path))
        assert _core_weeks(warehouse) == before
        assert warehouse.count_rows(_raw(warehouse), "_snapshot_date = @w", {"w": week}) == 0
        return

    landed = land_snapshot(warehouse, week, source=str(tmp_path))
    assert landed.encoding == case.encoding
    if case.outcome == "block":
        with pytest.raises(DataQualityError, match=case.message):
            validate_snapshot(warehouse, landed)
        with pytest.raises(DataQualityError, match="not cleared for publishing"):
            publish_customers(warehouse, week, landed.load_id)
        assert _core_weeks(warehouse) == before
    else:
        result = validate_snapshot(warehouse, landed)
        assert result["decision"] == case.outcome
        assert __import__("re").search(case.message, result["message"]), result["message"]
        publish_customers(warehouse, week, landed.load_id)
        assert _core_weeks(warehouse) == {**before, week: case.published}

    # Nothing lost: the file's every data row is in raw; what core lacks is in quarantine.
    file_rows = len(list(csv.reader(io.StringIO(data.decode(case.encoding).lstrip("\ufeff"))))) - 1
    in_raw = warehouse.count_rows(_raw(warehouse), "_load_id = @l", {"l": landed.load_id})
    assert in_raw == landed.rows == file_rows
    quarantined = warehouse.count_rows(warehouse.table_id("ops", "quarantine"), "load_id = @l", {"l": landed.load_id})
    if case.outcome != "block":
        assert quarantined == case.quarantined == in_raw - case.published
    run = warehouse.rows("SELECT decision, message FROM `{{ ops }}.validation_runs` WHERE load_id = @l",
                         {"l": landed.load_id})
    assert [r["decision"] for r in run] == [case.outcome]


def _raw(warehouse) -> str:
    return warehouse.table_id("raw", "telco_customer_snapshots")


def _core_weeks(warehouse) -> dict[dt.date, int]:
    rows = warehouse.rows("SELECT snapshot_date AS w, COUNT(*) AS n FROM `{{ core }}.customers` GROUP BY w")
    return {row["w"]: row["n"] for row in rows}
