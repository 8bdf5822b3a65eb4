"""The migration files and their parsing, without a warehouse: names, versions, what a file may
hold, and the messages that say what to fix."""

from __future__ import annotations

import pytest

from retention.migrations import MIGRATIONS_DIR, MigrationError, load
from retention.migrations.steps import parse


def test_the_shipped_migrations_load_in_version_order_and_parse():
    migrations = load()
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    for migration in migrations:
        assert parse(migration.path.read_text(encoding="utf-8"), migration.source)
    assert (MIGRATIONS_DIR / "0001_place_file_columns.sql").exists()


def test_statements_end_with_semicolons_and_view_lines_read_the_current_view_file():
    steps = parse("-- why\nALTER TABLE `{{ core }}.t`\n  ADD COLUMN IF NOT EXISTS a STRING;\n"
                  "-- view: ops/run_audit/view.sql\n", "sql/migrations/0009_x.sql")
    assert [step.view for step in steps] == [False, True]
    assert steps[0].sql == "ALTER TABLE `{{ core }}.t`\n  ADD COLUMN IF NOT EXISTS a STRING"
    assert "CREATE OR REPLACE VIEW `{{ ops }}.run_audit`" in steps[1].sql
    with pytest.raises(MigrationError, match=r"0009_x.sql: the last statement does not end with ';'"):
        parse("ALTER TABLE `{{ core }}.t` ADD COLUMN IF NOT EXISTS a STRING\n", "sql/migrations/0009_x.sql")
    with pytest.raises(MigrationError, match="has no statement"):
        parse("-- nothing\n", "sql/migrations/0009_x.sql")


@pytest.mark.parametrize("statement", [
    "DROP TABLE `{{ core }}.t`;", "ALTER TABLE `{{ core }}.t` DROP COLUMN a;", "DELETE FROM `{{ core }}.t` WHERE TRUE;",
    "ALTER TABLE `{{ core }}.t` RENAME COLUMN a TO b;", "TRUNCATE TABLE `{{ core }}.t`;",
])
def test_what_a_rerun_cannot_undo_is_refused(statement):
    with pytest.raises(MigrationError, match=r"statement 1: migrations only add .* Add the new shape beside"):
        parse(statement + "\n", "sql/migrations/0009_x.sql")


def test_file_names_and_versions_are_checked(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"two migrations have version 0001: 0001_a.sql and 0001_b.sql; .*0002"):
        load(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "2_Add Column.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"2_Add Column.sql: a migration file is named NNNN_<what>.sql"):
        load(tmp_path)


def test_the_checksum_ignores_line_endings_only(tmp_path):
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\n")
    first = load(tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\r\n")
    assert load(tmp_path)[0].checksum == first
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 2;\n")
    assert load(tmp_path)[0].checksum != first
