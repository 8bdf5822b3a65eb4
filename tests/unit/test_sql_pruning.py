"""Every SQL file parses as GoogleSQL, and every read of a partitioned table prunes.

sqlglot's BigQuery dialect catches syntax the emulator (DuckDB inside) tolerates but BigQuery
refuses. The pruning rule: a read of a partitioned table filters its partition column with a
constant or a query parameter (not a subquery, not a join to another table's column), or is
listed in sql/full_history_reads.yaml with the reason it reads every partition.
"""

from __future__ import annotations

import pytest
import sqlglot
import yaml
from sql_pruning import parse, partitioned_tables, unpruned_reads

from retention.config import SQL_DIR

SQL_FILES = sorted(SQL_DIR.rglob("*.sql"))
IDS = [str(p.relative_to(SQL_DIR)) for p in SQL_FILES]
ALLOWED = yaml.safe_load((SQL_DIR / "full_history_reads.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SQL_FILES, ids=IDS)
def test_every_sql_file_parses_as_googlesql(path):
    statements = parse(path)
    if not statements and path.parent == SQL_DIR / "migrations":
        # A migration may hold only directives (`-- view: <file>`: replace a view from its file).
        directives = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("-- view: ")]
        assert directives, f"{path}: neither a statement nor a `-- view:` directive"
        return
    assert statements, f"{path}: no statement"


@pytest.mark.parametrize("path", SQL_FILES, ids=IDS)
def test_every_read_of_a_partitioned_table_filters_its_partition_column(path):
    relative = str(path.relative_to(SQL_DIR))
    allowed = {entry["table"] for entry in ALLOWED if entry["file"] == relative}
    unpruned = [read for statement in parse(path) for read in unpruned_reads(statement, partitioned_tables())]
    refused = [str(read) for read in unpruned if read.table not in allowed]
    assert not refused, (
        f"sql/{relative} reads partitioned tables without a constant or parameter filter on the partition column "
        "(BigQuery would scan every partition): filter it with a parameter (find the week with "
        "Warehouse.latest_partition), or list it in sql/full_history_reads.yaml with the reason:\n"
        + "\n".join(refused)
    )
    stale = allowed - {read.table for read in unpruned}
    assert not stale, f"sql/full_history_reads.yaml lists {sorted(stale)} for sql/{relative}, which now prunes: remove it"


def test_every_full_history_read_gives_its_reason_and_file():
    for entry in ALLOWED:
        assert (SQL_DIR / entry["file"]).is_file(), entry
        assert len(entry["reason"]) > 40, entry


@pytest.mark.parametrize("sql, unpruned", [
    ("SELECT * FROM `project.ml.churn_scores` AS s WHERE s.snapshot_date = @snapshot_date", []),
    ("SELECT * FROM `project.ml.churn_scores` WHERE snapshot_date BETWEEN @a AND DATE_ADD(@a, INTERVAL 7 DAY)", []),
    ("SELECT * FROM `project.ml.churn_scores` AS s WHERE s.snapshot_date = "
     "(SELECT MAX(snapshot_date) FROM `project.ml.churn_scores` WHERE snapshot_date < @d)", ["ml.churn_scores"]),
    ("SELECT * FROM `project.ml.churn_scores` AS s JOIN `project.core.customers` AS c "
     "ON c.snapshot_date = s.snapshot_date WHERE s.snapshot_date = @d", ["core.customers"]),
    ("SELECT * FROM `project.core.customers` AS c WHERE c.customer_id = @id", ["core.customers"]),
    ("SELECT * FROM `project.core.customers` AS c WHERE c.snapshot_date = @d OR c.customer_id = 'x'",
     ["core.customers"]),
    ("MERGE `project.ml.churn_scores` AS t USING (SELECT 1 AS x) AS s ON FALSE "
     "WHEN NOT MATCHED BY SOURCE AND t.snapshot_date = @d THEN DELETE", []),
])
def test_the_pruning_rule_tells_a_constant_filter_from_a_subquery_or_a_join(sql, unpruned):
    statement = sqlglot.parse_one(sql, read="bigquery")
    assert [read.table for read in unpruned_reads(statement, partitioned_tables())] == unpruned
