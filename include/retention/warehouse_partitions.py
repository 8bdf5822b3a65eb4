"""Writing and finding the partitions of date-partitioned tables, the way each backend does best.

On BigQuery a week is published as a query job whose destination is the week's partition
(`table$YYYYMMDD`) with `WRITE_TRUNCATE`: the partition is replaced atomically, only that
partition is touched (no scan of the target, no DML serialisation conflicts), and BigQuery
refuses the job if any row belongs to another partition. This is how mozilla/bigquery-etl
writes its tables.

The emulator ignores a query job's `destinationTable`, decorator or not: it returns the rows
and writes nothing (measured; pinned in tests/integration/test_warehouse_partitions.py). There
the same publish is one `MERGE ... ON FALSE WHEN NOT MATCHED BY SOURCE AND t.<column> = @d THEN
DELETE WHEN NOT MATCHED THEN INSERT`, atomic too.

The published partitions are listed from `INFORMATION_SCHEMA.PARTITIONS` (metadata: no table
scan, so a "latest week" lookup costs the same at any size), which the emulator serves too, rows
counted after deletes and MERGEs (measured, pinned in the same test file). SQL that needs "the
latest week" takes it as a parameter found here: a `= (SELECT MAX(...))` filter is not pruned.

`Backend` says which path a warehouse takes; it is chosen once, from the settings, and both
paths share the statement (a SELECT of the week's rows) and the callers' code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Backend:
    """What the BigQuery endpoint supports, where the emulator differs from BigQuery."""

    name: str
    partition_decorators: bool
    """A query job may write `table$YYYYMMDD` with WRITE_TRUNCATE."""

    @classmethod
    def of(cls, emulator_host: str | None) -> Backend:
        return EMULATOR if emulator_host else BIGQUERY


BIGQUERY = Backend("bigquery", partition_decorators=True)
EMULATOR = Backend("emulator", partition_decorators=False)


def partition_decorator(table_id: str, partition: dt.date) -> str:
    return f"{table_id}${partition:%Y%m%d}"


def partition_statement(
    warehouse: Warehouse, table_id: str, partition_column: str, partition: dt.date, select_sql: str,
    params: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any], str | None]:
    """The statement, its parameters and its destination (or None) that replace `partition` of
    `table_id` by the rows of `select_sql`, on this warehouse's backend."""
    if not _IDENTIFIER.fullmatch(partition_column):
        raise ValueError(f"{partition_column!r} is not a plain column name")
    columns = warehouse.column_names(table_id)
    # The table's own column order, whatever order the SELECT lists them in.
    ordered = f"SELECT {', '.join(f'week_rows.{c}' for c in columns)} FROM (\n{select_sql}\n) AS week_rows"
    if warehouse.backend.partition_decorators:
        return ordered, dict(params or {}), partition_decorator(table_id, partition)
    merge = (
        f"MERGE `{table_id}` AS target USING ({ordered}) AS staged ON FALSE "
        f"WHEN NOT MATCHED BY SOURCE AND target.{partition_column} = @publish_partition THEN DELETE "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join(f'staged.{c}' for c in columns)})"
    )
    return merge, {**(params or {}), "publish_partition": partition}, None


def publish_partition(
    warehouse: Warehouse,
    table_id: str,
    partition_column: str,
    partition: dt.date,
    select_sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    identifiers: Mapping[str, str | Sequence[str]] | None = None,
    source: str,
) -> None:
    """Replace the `partition` of `table_id` (partitioned by `partition_column`) by the rows of
    `select_sql` (which must all belong to it), atomically; a re-run gives the same partition."""
    sql, params, destination = partition_statement(warehouse, table_id, partition_column, partition, select_sql, params)
    warehouse.run(sql, params, identifiers=identifiers, source=source, destination=destination)


def partition_dates(warehouse: Warehouse, table_id: str) -> list[dt.date]:
    """The dates that have rows in `table_id` (a table partitioned by day), oldest first, from
    the partition metadata: nothing of the table is scanned. None for a table not there yet."""
    project, dataset, table = table_id.split(".")
    rows = warehouse.rows(
        f"SELECT partition_id FROM `{project}.{dataset}.INFORMATION_SCHEMA.PARTITIONS` "
        "WHERE table_name = @table AND total_rows > 0 AND REGEXP_CONTAINS(partition_id, r'^[0-9]{8}$')",
        {"table": table}, source=f"partitions of {table_id}",
    )
    return sorted(dt.datetime.strptime(row["partition_id"], "%Y%m%d").date() for row in rows)


def latest_partition(
    warehouse: Warehouse, table_id: str, *,
    before: dt.date | None = None, on_or_before: dt.date | None = None,
) -> dt.date | None:
    """The newest date with rows (before or on or before a date, if given), or None."""
    dates = partition_dates(warehouse, table_id)
    if before is not None:
        dates = [d for d in dates if d < before]
    if on_or_before is not None:
        dates = [d for d in dates if d <= on_or_before]
    return dates[-1] if dates else None


def next_partition(warehouse: Warehouse, table_id: str, after: dt.date) -> dt.date | None:
    later = [d for d in partition_dates(warehouse, table_id) if d > after]
    return later[0] if later else None
