"""Reads of partitioned tables that BigQuery cannot prune, found by parsing the SQL (sqlglot).

BigQuery prunes a partitioned table only when the filter on its partition column compares it
with a constant: a literal, a query parameter, or a function of them (`DATE_ADD(@d, ...)`).
A filter whose other side is a subquery (`= (SELECT MAX(...))`) or another table's column
(a join) reads every partition. This module finds, for each reference to a partitioned table
in a statement, whether some conjunct of its WHERE, its JOIN ... ON or (for a DML target) its
MERGE/UPDATE conditions is such a constant filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from retention.config import LAYERS, SQL_DIR

_TOKEN = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
# Identifier tokens of the SQL files, as the code fills them (sample values for parsing).
SAMPLE_IDENTIFIERS = {
    "core_table": "customers", "staging": "_staging_table", "attempt": "_attempt_table", "staged": "_staged_table",
    "columns": "a, b", "attempt_columns": "attempt.a, attempt.b", "staged_columns": "staged.a, staged.b",
}
_PARTITION = re.compile(
    r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+`\{\{\s*(\w+)\s*\}\}\.(\{\{\s*core_table\s*\}\}|\w+)`.*?"
    r"\n\)\s*\nPARTITION BY\s+(?:DATE\()?(\w+)", re.S)


def render(text: str) -> str:
    """The file with its `{{ tokens }}` filled: a layer becomes `project.layer`."""
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"project.{name}" if name in LAYERS else SAMPLE_IDENTIFIERS[name]

    return _TOKEN.sub(substitute, text)


def parse(path: Path) -> list[exp.Expression]:
    return [statement for statement in sqlglot.parse(render(path.read_text(encoding="utf-8")), read="bigquery")
            if statement is not None]


def partitioned_tables() -> dict[str, str]:
    """`layer.table` -> partition column, from the CREATE TABLE files under sql/ (and the
    views whose readers must filter them like a partitioned table)."""
    tables = {}
    for path in sorted(SQL_DIR.rglob("*.sql")):
        for layer, table, column in _PARTITION.findall(path.read_text(encoding="utf-8")):
            names = ["customers", "reference_customers"] if "core_table" in table else [table]
            for name in names:
                tables[f"{layer}.{name}"] = column
    import yaml

    for meta in sorted(SQL_DIR.glob("marts/*/metadata.yaml")):
        described = yaml.safe_load(meta.read_text(encoding="utf-8"))
        if described.get("table") == "partitioned":
            tables[f"marts.{meta.parent.name}"] = described["partition_by"]
    # Views over partitioned tables, filtered by their readers on the column of the table beneath.
    tables["core.customer_presence"] = "snapshot_date"
    tables["raw.telco_customers_typed"] = "snapshot_date"
    tables["raw.contacts_typed"] = "snapshot_date"
    return tables


@dataclass(frozen=True)
class UnprunedRead:
    table: str
    alias: str
    statement: str

    def __str__(self) -> str:
        return f"{self.table} (as {self.alias}) in: {self.statement[:160]}..."


def unpruned_reads(statement: exp.Expression, partitioned: dict[str, str]) -> list[UnprunedRead]:
    found = []
    for table in statement.find_all(exp.Table):
        name = f"{table.db}.{table.name}"
        if name not in partitioned or _is_created(table):
            continue
        column = partitioned[name]
        alias = table.alias_or_name
        if not any(_is_constant_filter(conjunct, column, alias, table) for conjunct in _conditions_for(table)):
            found.append(UnprunedRead(name, alias, " ".join(statement.sql(dialect="bigquery").split())))
    return found


def _is_created(table: exp.Table) -> bool:
    """The table a CREATE statement makes, or the one an ALTER changes (not a read)."""
    alter = table.find_ancestor(exp.Alter)
    if alter is not None and alter.this is table:
        return True
    create = table.find_ancestor(exp.Create)
    return create is not None and (create.this is table or table.find_ancestor(exp.Schema) is create.this)


def _conditions_for(table: exp.Table) -> list[exp.Expression]:
    """Every conjunct that can restrict `table`'s rows where it is read."""
    scope = table.parent
    while scope is not None and not isinstance(scope, exp.Select | exp.Merge | exp.Update | exp.Delete):
        scope = scope.parent
    if scope is None:
        return []
    conditions: list[exp.Expression] = []
    if isinstance(scope, exp.Merge):
        conditions.append(scope.args.get("on"))
        for when in scope.find_all(exp.When):
            conditions.append(when.args.get("condition"))
    else:
        conditions.append(scope.args.get("where").this if scope.args.get("where") else None)
        for join in scope.args.get("joins") or []:
            conditions.append(join.args.get("on"))
    conjuncts = []
    for condition in conditions:
        if condition is not None:
            conjuncts.extend(condition.flatten() if isinstance(condition, exp.And) else [condition])
    return conjuncts


def _is_constant_filter(conjunct: exp.Expression, column: str, alias: str, table: exp.Table) -> bool:
    if isinstance(conjunct, exp.Paren):
        return _is_constant_filter(conjunct.this, column, alias, table)
    if isinstance(conjunct, exp.Between):
        sides = [(conjunct.this, conjunct.args["low"]), (conjunct.this, conjunct.args["high"])]
    elif isinstance(conjunct, exp.EQ | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.In):
        other = conjunct.expression if not isinstance(conjunct, exp.In) else None
        if isinstance(conjunct, exp.In):
            # IN UNNEST(@list) or IN (literals): constant; IN (SELECT ...) is not.
            values = conjunct.args.get("expressions") or []
            unnest = conjunct.args.get("unnest")
            query = conjunct.args.get("query")
            if query is not None:
                return False
            sides = [(conjunct.this, value) for value in [*values, *([unnest] if unnest else [])]]
        else:
            sides = [(conjunct.this, other), (other, conjunct.this)]
    else:
        return False
    return any(_names_partition(left, column, alias, table) and _constant(right) for left, right in sides)


def _names_partition(node: exp.Expression, column: str, alias: str, table: exp.Table) -> bool:
    if isinstance(node, exp.Cast | exp.Date):  # DATE(ended_at) = @d on a DATE(...)-partitioned table
        node = node.this
    if not isinstance(node, exp.Column) or node.name != column:
        return False
    return node.table == alias or (not node.table and _single_source(table))


def _single_source(table: exp.Table) -> bool:
    select = table.find_ancestor(exp.Select)
    return select is None or not select.args.get("joins")


def _constant(node: exp.Expression | None) -> bool:
    if node is None:
        return False
    if isinstance(node, exp.Column | exp.Subquery | exp.Select):
        return False
    return not any(isinstance(inner, exp.Column | exp.Select) for inner in node.find_all(exp.Column, exp.Select))
