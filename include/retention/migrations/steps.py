"""One migration file as the steps it runs, and how each step runs on BigQuery and the emulator.

A file is GoogleSQL statements, each ending with `;` at the end of a line, plus whole-line
comments. Three kinds of step:
- `ALTER TABLE `{{ layer }}.table` ADD COLUMN IF NOT EXISTS name TYPE`: run as written, then,
  on the emulator (whose ALTER changes the stored rows but not the table's schema), the column
  is added to the schema through the API (`Warehouse.add_columns`; a no-op on BigQuery).
- any other statement (`CREATE OR REPLACE VIEW`, `ALTER TABLE ... SET OPTIONS (...)`, an
  `UPDATE` that fills a new column): run as written. It must be idempotent by itself, as
  these are: a migration that failed half-way runs again from its first statement.
- `-- view: <path under sql/>`: run that view's current file (`CREATE OR REPLACE VIEW`).
- `-- table: <path under sql/>`: create that table from its current create.sql (`CREATE TABLE IF
  NOT EXISTS`), its dataset first: for a migration that moves rows into a table a release added.
- `-- if column: <layer>.<table>.<column>` before a step: that step runs only when the table
  exists and has the column (a migration from an old shape: a fresh warehouse, or one already
  migrated, never had the column or the table, and skips it). The column is never dropped.
- `ALTER TABLE ... ALTER COLUMN name DROP NOT NULL`: run as written, then the column is made
  NULLABLE in the schema through the API (the emulator's ALTER does not change the schema).
An `ALTER TABLE` of a table, or a `-- view:` of a view, that does not exist yet is skipped: the
DAG that writes it creates it from its current create.sql / view.sql, which has the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retention.warehouse import Warehouse

_VIEW = re.compile(r"^--\s*view:\s*(\S+\.sql)\s*$")
_TABLE = re.compile(r"^--\s*table:\s*(\S+/create\.sql)\s*$")
_IF_COLUMN = re.compile(r"^--\s*if column:\s*([a-z_]+)\.([A-Za-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*$")
_DROP_NOT_NULL = re.compile(r"^\s*ALTER\s+TABLE\s+`[^`]+`\s+ALTER\s+COLUMN\s+([A-Za-z_][A-Za-z0-9_]*)\s+DROP\s+NOT\s+NULL\s*$",
                            re.IGNORECASE)
_CREATE_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+`([^`]+)`", re.IGNORECASE)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+`([^`]+)`", re.IGNORECASE)
_ADD_COLUMN = re.compile(
    r"^\s*ALTER\s+TABLE\s+`[^`]+`\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+([A-Z0-9]+)\b",
    re.IGNORECASE,
)
_FORBIDDEN = re.compile(r"^\s*(DROP|TRUNCATE|DELETE)\b|\bDROP\s+COLUMN\b|\bRENAME\b", re.IGNORECASE)


class MigrationError(RuntimeError):
    """A migration cannot be applied, or the warehouse's record of them disagrees with the files."""


@dataclass(frozen=True)
class Step:
    sql: str
    """The statement, or the view file's text for a `-- view:` step."""
    source: str
    """Where it comes from, for messages: `sql/migrations/0003_x.sql, statement 2`."""
    view: bool = False
    """A `-- view:` step."""
    table: str | None = None
    """A `-- table:` step: the create.sql path (its first folder is the dataset's layer)."""
    if_column: tuple[str, str, str] | None = None
    """(layer, table, column): run only when that table has that column (`-- if column:`)."""


def parse(text: str, source: str) -> list[Step]:
    """The steps of a migration file, in order; refuses what cannot be undone by a re-run."""
    steps, statement, guard = [], [], None
    for number, line in enumerate(text.splitlines(), start=1):
        view, table, if_column = (pattern.match(line.strip()) for pattern in (_VIEW, _TABLE, _IF_COLUMN))
        if if_column:
            if statement or guard:
                raise MigrationError(f"{source}, line {number}: `-- if column:` goes right before the one step it guards")
            guard = if_column.groups()
            continue
        if view or table:
            path = (view or table).group(1)
            steps.append(Step(Warehouse.sql_file(path), f"{source}, line {number} (sql/{path})",
                              view=bool(view), table=path if table else None, if_column=guard))
            guard = None
            continue
        if line.lstrip().startswith("--") or (not statement and not line.strip()):
            continue
        statement.append(line)
        if line.rstrip().endswith(";"):
            steps.append(Step("\n".join(statement).rstrip().rstrip(";"), f"{source}, statement {len(steps) + 1}",
                              if_column=guard))
            statement, guard = [], None
    if guard:
        raise MigrationError(f"{source}: `-- if column:` at the end guards no step")
    if "".join(statement).strip():
        raise MigrationError(f"{source}: the last statement does not end with ';'. End every statement with ';' "
                             "at the end of its line")
    for step in steps:
        if not step.view and not step.table and _FORBIDDEN.search(step.sql):
            raise MigrationError(
                f"{step.source}: migrations only add (columns, views, options, values of new columns); "
                "dropping, renaming or deleting loses data a re-run cannot bring back. Add the new shape beside "
                "the old and stop using the old one instead")
    if not steps:
        raise MigrationError(f"{source} has no statement: write at least one, each ending with ';'")
    return steps


def guard_holds(warehouse: Warehouse, step: Step) -> bool:
    """False for a step whose `-- if column:` names a column (or table) this warehouse has not."""
    if not step.if_column:
        return True
    layer, name, column = step.if_column
    table_id = warehouse.table_id(layer, name)
    return warehouse.table_exists(table_id) and column in warehouse.column_names(table_id)


def run(warehouse: Warehouse, step: Step) -> bool:
    """Run one step; False when it was skipped (it changes a table or view not created yet)."""
    if not guard_holds(warehouse, step):
        return False
    if step.table:
        warehouse.ensure_datasets([step.table.split("/")[0]])
    rendered = warehouse.render(step.sql, source=step.source)
    altered = _ALTER.match(rendered)
    target = altered or (step.view and _CREATE_VIEW.search(rendered))
    if target and not warehouse.table_exists(target.group(1)):
        return False
    warehouse.run(rendered, source=step.source)
    added = _ADD_COLUMN.match(rendered)
    if added:
        warehouse.add_columns(altered.group(1), {added.group(1): added.group(2).upper()})
    relaxed = _DROP_NOT_NULL.match(rendered)
    if relaxed:
        _relax(warehouse, altered.group(1), relaxed.group(1))
    return True


def _relax(warehouse: Warehouse, table_id: str, column: str) -> None:
    """The column NULLABLE in the table's schema (BigQuery's ALTER did it already; the emulator's not)."""
    from google.cloud import bigquery

    table = warehouse.client.get_table(table_id)
    if all(field.name != column or field.mode != "REQUIRED" for field in table.schema):
        return
    table.schema = [bigquery.SchemaField(field.name, field.field_type, mode="NULLABLE", description=field.description,
                                         fields=field.fields) if field.name == column else field
                    for field in table.schema]
    warehouse.client.update_table(table, ["schema"])
