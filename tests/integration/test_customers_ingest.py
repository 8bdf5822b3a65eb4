"""Landing a snapshot in raw and publishing it to core, on the local emulator."""

from __future__ import annotations

import csv
import datetime as dt
import shutil

import pytest

from retention.config import BUNDLED_TELCO_SNAPSHOT, SQL_DIR
from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
from retention.warehouse import WarehouseError

pytestmark = pytest.mark.emulator

WEEK = dt.date(2026, 11, 23)


@pytest.fixture
def bundled_sample():
    """The bundled header and every 200th row (a representative churn rate), plus the 11 rows
    with blank TotalCharges: 47 rows."""
    with BUNDLED_TELCO_SNAPSHOT.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    blank = header.index("TotalCharges")
    return header, rows[::200] + [row for row in rows if row[blank] == " "]


def _ingest(warehouse, folder, week=WEEK):
    landed = land_snapshot(warehouse, week, source=str(folder))
    validate_snapshot(warehouse, landed)
    return landed, publish_customers(warehouse, week, landed.load_id)


def test_snapshot_is_typed_and_cleaned_in_core(warehouse, snapshot_file, bundled_sample):
    ensure_tables(warehouse)
    path = snapshot_file(*bundled_sample)
    landed, published = _ingest(warehouse, path.parent)
    assert landed.rows == published["rows"] == 47
    row = warehouse.rows(
        "SELECT * FROM `{{ core }}.customers` WHERE customer_id = '3668-QPYBK' AND snapshot_date = @w", {"w": WEEK}
    )[0]
    assert row["senior_citizen"] is False and row["partner"] is False and row["churned"] is True
    assert row["tenure_months"] == 2 and row["monthly_charges"] == 53.85 and row["total_charges"] == 108.15
    assert row["churn_category"] == "Competitor" and row["ibm_churn_score"] == 86
    assert row["source_row"] == 2 and row["source_uri"] == str(path) and row["load_id"] == landed.load_id
    new = warehouse.rows(
        "SELECT COUNT(*) AS n, COUNTIF(total_charges IS NULL) AS blank, COUNTIF(churn_category IS NULL) AS stayed "
        "FROM `{{ core }}.customers` WHERE tenure_months = 0"
    )[0]
    assert new == {"n": 11, "blank": 11, "stayed": 11}


def test_rerunning_a_week_gives_the_same_tables(warehouse, snapshot_file, bundled_sample):
    ensure_tables(warehouse)
    ensure_tables(warehouse)  # creating twice is harmless
    path = snapshot_file(*bundled_sample)
    for _ in range(2):
        _ingest(warehouse, path.parent)
    assert warehouse.count_rows(warehouse.table_id("raw", "telco_customer_snapshots")) == 47
    assert warehouse.count_rows(warehouse.table_id("core", "customers")) == 47


def test_a_corrected_file_replaces_core_and_is_kept_beside_the_first_in_raw(warehouse, snapshot_file, bundled_sample):
    ensure_tables(warehouse)
    header, rows = bundled_sample
    first, _ = _ingest(warehouse, snapshot_file(header, rows).parent)
    corrected, published = _ingest(warehouse, snapshot_file(header, rows[:-5]).parent)
    assert published["rows"] == 42
    loads = warehouse.rows(
        "SELECT _load_id AS load, COUNT(*) AS n FROM `{{ raw }}.telco_customer_snapshots` GROUP BY _load_id"
    )
    assert {(r["load"], r["n"]) for r in loads} == {(first.load_id, 47), (corrected.load_id, 42)}


def test_weeks_are_independent_partitions(warehouse, snapshot_file, bundled_sample):
    ensure_tables(warehouse)
    header, rows = bundled_sample
    _ingest(warehouse, snapshot_file(header, rows, date="2026-11-16").parent, dt.date(2026, 11, 16))
    _ingest(warehouse, snapshot_file(header, rows[:-5]).parent)
    counts = warehouse.rows("SELECT snapshot_date AS w, COUNT(*) AS n FROM `{{ core }}.customers` GROUP BY w ORDER BY w")
    assert counts == [{"w": dt.date(2026, 11, 16), "n": 47}, {"w": WEEK, "n": 42}]


def test_unknown_columns_are_kept_as_received(warehouse, snapshot_file, bundled_sample):
    ensure_tables(warehouse)
    header, rows = bundled_sample
    path = snapshot_file(header + ["Loyalty Tier"], [row + ["gold"] for row in rows])
    landed, _ = _ingest(warehouse, path.parent)
    assert landed.unexpected_columns == ["Loyalty Tier"]
    kept = warehouse.rows("SELECT DISTINCT _unexpected_columns AS extra FROM `{{ raw }}.telco_customer_snapshots`")
    assert kept == [{"extra": '{"Loyalty Tier": "gold"}'}]


def test_a_broken_publish_query_fails_loudly_and_leaves_core_as_it_was(
    warehouse, snapshot_file, bundled_sample, tmp_path, monkeypatch
):
    ensure_tables(warehouse)
    header, rows = bundled_sample
    _ingest(warehouse, snapshot_file(header, rows, date="2026-11-16").parent, dt.date(2026, 11, 16))
    path = snapshot_file(header, rows)
    broken_sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, broken_sql)
    publish = broken_sql / "core" / "customers" / "publish.sql"
    publish.write_text(publish.read_text().replace("typed.gender", "typed.gendr"))
    monkeypatch.setattr("retention.warehouse.SQL_DIR", broken_sql)
    landed = land_snapshot(warehouse, WEEK, source=str(path.parent))
    validate_snapshot(warehouse, landed)
    with pytest.raises(WarehouseError, match=r"sql/core/customers/publish\.sql: .*gendr"):
        publish_customers(warehouse, WEEK, landed.load_id)
    counts = warehouse.rows("SELECT snapshot_date AS w, COUNT(*) AS n FROM `{{ core }}.customers` GROUP BY w")
    assert counts == [{"w": dt.date(2026, 11, 16), "n": 47}]
