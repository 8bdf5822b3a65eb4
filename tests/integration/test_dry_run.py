"""`python -m retention.dry_run` on the emulator: every SQL file checked, nothing changed, a bad file named."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from retention.config import SQL_DIR
from retention.dry_run import NEEDS_STAGING, main

pytestmark = pytest.mark.emulator

WEEK = dt.date(2026, 11, 23)


def test_every_sql_file_is_dry_run_and_no_data_changes(warehouse, capsys):
    assert main(["--create-tables"]) == 0
    printed = capsys.readouterr().out
    files = sorted(str(p.relative_to(SQL_DIR)) for p in SQL_DIR.rglob("*.sql"))
    for file in files:
        expected = "not checked" if file in NEEDS_STAGING else "ok"
        assert f"{expected:<12} sql/{file}" in printed, file
    assert f"0 rejected, {len(files) - len(NEEDS_STAGING)} accepted, {len(NEEDS_STAGING)} not checked" in printed

    # A published week the dry-run publish of the same week would replace, if it ran anything.
    contacts = warehouse.table_id("core", "contacts")
    row = {"snapshot_date": WEEK, "customer_id": "c1", "phone_key": "k1", "sms_consent": True,
           "opted_out": False, "is_synthetic": True, "load_id": "l", "source_uri": "u", "source_row": 1,
           "published_at": dt.datetime(2026, 11, 23, tzinfo=dt.UTC)}
    warehouse.load_json_rows(contacts, [row], warehouse.client.get_table(contacts).schema)
    assert main([]) == 0
    assert warehouse.rows("SELECT customer_id FROM `{{ core }}.contacts` WHERE snapshot_date = @w", {"w": WEEK}) == [
        {"customer_id": "c1"}]


def test_a_statement_the_warehouse_rejects_is_reported_with_its_file(warehouse, tmp_path, capsys):
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    broken = sql / "outreach" / "messages" / "to_queue.sql"
    broken.write_text(broken.read_text(encoding="utf-8").replace("contact.phone_key", "contact.phone_number"))
    assert main(["--create-tables", "--sql-dir", str(sql)]) == 1
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "to_queue.sql" in line)
    assert line.lstrip().startswith("rejected") and "phone_number" in line
    assert "1 rejected" in printed


def test_before_the_tables_exist_a_publish_is_rejected_with_what_to_do(warehouse, capsys):
    assert main([]) == 1
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "core/contacts/publish.sql" in line)
    assert "rejected" in line and "--create-tables" in line
