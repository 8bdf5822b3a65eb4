"""Schema migrations on the emulator: a warehouse built by the previous release's DDL (the
create.sql and view.sql files of commit 6fee732, copied to tests/data/previous_release_ddl/) and
filled with rows is upgraded by the migrations and by the DAGs' own ensure steps: no row or value
is lost, the new columns exist (NULL in the old rows), the ledger records each migration once;
applying again changes nothing; an edited applied migration or a ledger from a newer release
stops the upgrade with a message that says what to do.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from retention.migrations import MIGRATIONS_DIR, MigrationError, load, migrate, status

pytestmark = [pytest.mark.emulator]

PREVIOUS_RELEASE = Path(__file__).parent.parent / "data" / "previous_release_ddl"
ROWS_PER_TABLE = 3
NEW_COLUMNS = {  # what the release after 6fee732 added to tables that already existed
    ("raw", "place_crawls"): {"source_uri", "file_encoding", "file_header", "extra_columns", "file_error"},
    ("raw", "places_prepared"): {"source_uri", "file_error"},
    ("core", "places"): {"source_uri"},
    # 0003: the number's key (i22b); filled from the old phone_e164 through contact.phone_numbers.
    ("core", "contacts"): {"phone_key"},
    ("outreach", "messages"): {"phone_key"},
    ("outreach", "opt_outs"): {"phone_key"},
}
FILLED = {"phone_key"}
"""New columns a migration fills from the old ones (the others stay NULL in the old rows)."""


def build_previous_release(warehouse) -> list[str]:
    """Every table and view of the previous release, as its DDL made them; returns the table ids."""
    from retention.warehouse import WarehouseError

    warehouse.ensure_datasets()
    files = sorted(PREVIOUS_RELEASE.rglob("*.sql"))
    tables, views = [p for p in files if p.name == "create.sql"], [p for p in files if p.name == "view.sql"]
    for path in tables:
        warehouse.run(path.read_text(encoding="utf-8"), identifiers={"core_table": "customers"}, source=str(path))
    while views:  # a view needs the views it reads first
        left = []
        for path in views:
            try:
                warehouse.run(path.read_text(encoding="utf-8"), source=str(path))
            except WarehouseError:
                left.append(path)
        assert len(left) < len(views), f"views that never could be created: {left}"
        views = left
    ids = [f"{warehouse.dataset_id(p.parts[-3])}.{p.parts[-2]}" for p in tables]
    return [table_id for table_id in ids if warehouse.client.get_table(table_id).table_type == "TABLE"]


def value(field, row: int):
    """A value of the field's type, different in each row."""
    kind = field.field_type
    day = dt.date(2026, 11, 2) + dt.timedelta(weeks=row)
    values = {"STRING": f"{field.name}-{row}", "INTEGER": row + 1, "INT64": row + 1, "FLOAT": row + 0.5,
              "FLOAT64": row + 0.5, "NUMERIC": str(row), "BOOLEAN": row % 2 == 0, "BOOL": row % 2 == 0,
              "DATE": day.isoformat(), "TIMESTAMP": f"{day.isoformat()}T01:02:03+00:00",
              "DATETIME": f"{day.isoformat()}T01:02:03"}
    return values[kind]


def fill(warehouse, tables: list[str]) -> None:
    for table_id in tables:
        schema = warehouse.client.get_table(table_id).schema
        rows = [{field.name: value(field, row) for field in schema} for row in range(ROWS_PER_TABLE)]
        warehouse.run_dml(_insert(table_id, schema, rows), source=f"fill {table_id}")


def _insert(table_id: str, schema, rows: list[dict]) -> str:
    def literal(field, item):
        kind = field.field_type
        if kind in ("STRING",):
            return f"'{item}'"
        if kind in ("DATE", "TIMESTAMP", "DATETIME"):
            return f"{kind} '{item}'"
        if kind == "NUMERIC":
            return f"NUMERIC '{item}'"
        return str(item).upper() if isinstance(item, bool) else str(item)

    values = ", ".join("(" + ", ".join(literal(f, row[f.name]) for f in schema) + ")" for row in rows)
    return f"INSERT INTO `{table_id}` ({', '.join(f.name for f in schema)}) VALUES {values}"


def snapshot(warehouse, columns_of: dict[str, list[str]]) -> dict[str, list[dict]]:
    """Every row of every table, in a stable order, in the columns each table had before."""
    result = {}
    for table_id, columns in columns_of.items():
        result[table_id] = sorted((warehouse.rows(f"SELECT {', '.join(columns)} FROM `{table_id}`",
                                                  source=f"read {table_id}")), key=repr)
    return result


def schemas(warehouse, tables: list[str]) -> dict[str, list[str]]:
    return {table_id: [field.name for field in warehouse.client.get_table(table_id).schema] for table_id in tables}


def ledger(warehouse) -> list[dict]:
    return warehouse.rows("SELECT * FROM `{{ ops }}.schema_migrations` ORDER BY version", source="ledger")


def test_an_old_warehouse_is_upgraded_without_losing_a_row_and_a_second_run_changes_nothing(warehouse):
    from retention.ingest.customers import ensure_tables as ensure_ingest
    from retention.outreach.campaign import ensure_tables as ensure_outreach
    from retention.places.refresh import ensure_tables as ensure_places

    tables = build_previous_release(warehouse)
    fill(warehouse, tables)
    old_schemas = schemas(warehouse, tables)
    before = snapshot(warehouse, old_schemas)
    for (layer, table), columns in NEW_COLUMNS.items():
        assert not columns & set(old_schemas[warehouse.table_id(layer, table)]), "the fixture is the old DDL"

    assert migrate(warehouse) == [migration.path.name for migration in load()]
    # What the DAGs do before they write: create what is missing, then the migrations (none left).
    for ensure in (ensure_ingest, ensure_places, ensure_outreach):
        ensure(warehouse)

    upgraded = schemas(warehouse, tables)
    for table_id, columns in old_schemas.items():
        assert upgraded[table_id][:len(columns)] == columns, f"{table_id}: the old columns, in their order"
    for (layer, table), columns in NEW_COLUMNS.items():
        table_id = warehouse.table_id(layer, table)
        assert set(upgraded[table_id]) - set(old_schemas[table_id]) == columns
        empty = columns - FILLED
        if empty:
            nulls = warehouse.rows(f"SELECT COUNT(*) AS n FROM `{table_id}` WHERE "
                                   + " AND ".join(f"{c} IS NULL" for c in sorted(empty)), source="new columns")
            assert nulls[0]["n"] == ROWS_PER_TABLE, f"{table_id}: the old rows, with the new columns empty"
        if "phone_key" in columns:  # every old row's key names its own number in contact.phone_numbers
            keyed = warehouse.rows(
                f"SELECT COUNT(*) AS n FROM `{table_id}` AS old JOIN `{{{{ contact }}}}.phone_numbers` AS numbers "
                "ON numbers.phone_key = old.phone_key AND numbers.phone_e164 = old.phone_e164", source="phone keys")
            assert keyed[0]["n"] == ROWS_PER_TABLE, f"{table_id}: every old row keyed to its number"
            nullable = {f.name: f.mode for f in warehouse.client.get_table(table_id).schema}["phone_e164"]
            assert nullable == "NULLABLE", f"{table_id}: the release writes rows without phone_e164"
    assert snapshot(warehouse, old_schemas) == before, "every row and value is still there"
    # The replaced view has the release's new column and outcome (each filled run has an alert).
    audit = warehouse.rows("SELECT dag_id, warnings, outcome FROM `{{ ops }}.run_audit`", source="run_audit")
    assert len(audit) == ROWS_PER_TABLE
    assert {(row["warnings"], row["outcome"]) for row in audit} == {(1, "success_with_warnings")}

    recorded = ledger(warehouse)
    assert [(row["version"], row["name"], row["checksum"]) for row in recorded] == [
        (m.version, m.name, m.checksum) for m in load()]
    assert {row["applied_by"] for row in recorded} == {"retention.migrations"}

    # Applied twice (a retried task, the next DAG, the command): nothing changes.
    assert migrate(warehouse) == []
    for ensure in (ensure_ingest, ensure_places, ensure_outreach):
        ensure(warehouse)
    assert ledger(warehouse) == recorded
    assert schemas(warehouse, tables) == upgraded
    assert snapshot(warehouse, old_schemas) == before
    assert status(warehouse) == (load(), [])


def test_a_fresh_warehouse_records_the_migrations_its_ddl_already_has(warehouse):
    from retention.places.refresh import ensure_tables as ensure_places

    ensure_places(warehouse)  # creates the places tables as this release has them, then migrates
    assert [row["version"] for row in ledger(warehouse)] == [m.version for m in load()]
    columns = set(warehouse.column_names(warehouse.table_id("raw", "place_crawls")))
    assert NEW_COLUMNS[("raw", "place_crawls")] <= columns
    # Tables no DAG has created yet (outreach) were skipped, and are created whole later.
    assert not warehouse.table_exists(warehouse.table_id("outreach", "messages"))


def test_an_edited_applied_migration_or_a_newer_ledger_stops_the_upgrade(warehouse, tmp_path):
    from retention.places.refresh import ensure_tables as ensure_places

    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    ensure_places(warehouse)
    recorded = ledger(warehouse)
    first = folder / "0001_place_file_columns.sql"
    first.write_text(first.read_text() + "ALTER TABLE `{{ core }}.places` ADD COLUMN IF NOT EXISTS late STRING;\n")
    with pytest.raises(MigrationError, match=r"0001_place_file_columns.sql changed after it was applied.*"
                                             r"restore the file .* new migration"):
        migrate(warehouse, folder=folder)
    assert "late" not in warehouse.column_names(warehouse.table_id("core", "places"))
    assert ledger(warehouse) == recorded

    first.unlink()
    shutil.copy(MIGRATIONS_DIR / first.name, first)
    (folder / "0002_run_audit_warnings.sql").unlink()  # an older release, on a newer warehouse
    with pytest.raises(MigrationError, match=r"0002 \(run_audit_warnings\) that this release does not have.*"
                                             r"Deploy that release"):
        migrate(warehouse, folder=folder)


def test_a_failed_migration_is_not_recorded_and_runs_again_once_fixed(warehouse, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    warehouse.run("CREATE TABLE `{{ core }}.things` (id STRING)", source="test table")
    broken = folder / "0001_things_colour.sql"
    broken.write_text("ALTER TABLE `{{ core }}.things` ADD COLUMN IF NOT EXISTS colour STRING;\n"
                      "UPDATE `{{ core }}.things` SET colour = 'red' WHERE no_such_column IS NULL;\n")
    with pytest.raises(MigrationError, match=r"(?s)sql/migrations/0001_things_colour.sql failed: .*not recorded"):
        migrate(warehouse, folder=folder)
    assert ledger(warehouse) == []
    broken.write_text(broken.read_text().replace("no_such_column", "colour"))
    assert migrate(warehouse, folder=folder) == ["0001_things_colour.sql"]
    assert migrate(warehouse, folder=folder) == []


def test_the_command_shows_then_applies_and_status_only_reads(warehouse, capsys):
    from retention.migrations.__main__ import main

    assert main(["status"]) == 0
    assert f"0 applied, {len(load())} pending" in capsys.readouterr().out
    assert not warehouse.table_exists(warehouse.table_id("ops", "schema_migrations")), "status wrote nothing"
    assert main(["apply"]) == 0
    assert f"{len(load())} applied, 0 pending" in capsys.readouterr().out
    assert main(["apply"]) == 0
    assert "nothing to apply" in capsys.readouterr().out
