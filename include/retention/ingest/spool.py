"""Rows bound for one table, written chunk by chunk to a local Parquet file, then loaded with
one load job into a staging table and merged into place with one MERGE.

This is how a task writes millions of rows in bounded memory: each chunk is written and
forgotten; the file (compressed, typed) is the only copy until the load. One load and one
MERGE, whatever the number of chunks, keeps the write atomic and idempotent.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention.warehouse import Warehouse, arrow_schema

if TYPE_CHECKING:
    import pyarrow as pa


class ParquetSpool:
    def __init__(self, warehouse: Warehouse, table_id: str, folder: Path) -> None:
        import pyarrow.parquet as pq

        self.warehouse = warehouse
        self.table_id = table_id
        self.bq_schema = warehouse.client.get_table(table_id).schema
        self.schema = arrow_schema(self.bq_schema)
        self.path = folder / "rows.parquet"
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")

    def write(self, columns: Mapping[str, Any]) -> None:
        """One chunk: a mapping of column name to values (lists or Arrow arrays); columns the
        table has and the chunk lacks are NULL."""
        import pyarrow as pa

        length = next((len(v) for v in columns.values()), 0)
        if not length:
            return
        arrays = [
            pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(length, f.type)
            for f in self.schema
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += length

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.select(self.schema.names).cast(self.schema))
            self.rows += table.num_rows

    def replace(self, match: Mapping[str, Any]) -> int:
        """Replace the table's rows matching `match` by the spooled rows, in one MERGE
        (a DELETE when nothing was spooled)."""
        self._writer.close()
        warehouse = self.warehouse
        if not self.rows:
            condition = " AND ".join(f"{column} = @{column}" for column in match)
            warehouse.run(f"DELETE FROM `{self.table_id}` WHERE {condition}", match, source=f"replace {self.table_id}")
            return 0
        staging_id = warehouse.staging_id(self.table_id)
        try:
            warehouse.load_parquet_file(staging_id, self.path, self.bq_schema)
            # A worker killed before its cleanup leaves nothing behind for long.
            warehouse.expire_after(staging_id, dt.timedelta(hours=6))
            warehouse.replace_from(self.table_id, staging_id, match)
        finally:
            warehouse.drop_table(staging_id)
        return self.rows


@contextmanager
def spool(warehouse: Warehouse, table_id: str) -> Iterator[ParquetSpool]:
    with tempfile.TemporaryDirectory(prefix="retention-spool-") as folder:
        writer = ParquetSpool(warehouse, table_id, Path(folder))
        try:
            yield writer
        finally:
            writer._writer.close()
