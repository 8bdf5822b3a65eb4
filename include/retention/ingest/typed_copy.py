"""A landed file's typed rows, as the warehouse sees them, read back in chunks for validation.

The typed view is computed once into a scratch table beside the raw table, ordered by file
line, with one `<column>__copies` count per key that must be unique in the file (a window
over the whole file, in the warehouse). Chunks are ranges of file lines read from that
table over the Storage Read API, so the worker holds one chunk at a time and each read
touches only its range. The warehouse also answers the questions a suite asks about the
whole file before any row is checked (`profile`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from retention.warehouse import Warehouse

if TYPE_CHECKING:
    import pandas as pd

ROWS_PER_STREAM = 10_000
"""The emulator's Storage Read messages are capped at about 11 MB: 10,000 typed rows fit."""


class TypedCopy:
    def __init__(self, warehouse: Warehouse, typed_view: str, snapshot_date: dt.date, load_id: str) -> None:
        self.warehouse = warehouse
        self.view_id = warehouse.table_id("raw", typed_view)
        self.params = {"snapshot_date": snapshot_date, "load_id": load_id}
        self.table_id = warehouse.staging_id(self.view_id, "validating")
        self.rows = 0
        self.first_line: int | None = None
        self.last_line: int | None = None

    def profile(self) -> pd.DataFrame:
        """One row with the typed view's columns summed up over the file: numbers and flags are
        totals (a flag counts its TRUE rows), anything else is one of its values (NULL when the
        file has none). A suite decides from it which checks the file calls for."""
        aggregate = {"INT64": "SUM", "INTEGER": "SUM", "FLOAT64": "SUM", "FLOAT": "SUM", "BOOL": "COUNTIF",
                     "BOOLEAN": "COUNTIF"}
        columns = [
            f"{aggregate.get(field.field_type, 'MAX')}(`{field.name}`) AS `{field.name}`"
            for field in self.warehouse.client.get_table(self.view_id).schema
        ]
        frame = self.warehouse.dataframe(
            f"SELECT COUNT(*) AS profile__rows, MIN(source_row) AS profile__first, MAX(source_row) AS profile__last, "
            f"{', '.join(columns)} FROM `{self.view_id}` WHERE snapshot_date = @snapshot_date AND load_id = @load_id",
            self.params, source=f"profile of {self.view_id}",
        )
        self.rows = int(frame.at[0, "profile__rows"])
        if self.rows:
            self.first_line, self.last_line = int(frame.at[0, "profile__first"]), int(frame.at[0, "profile__last"])
        return frame.drop(columns=["profile__rows", "profile__first", "profile__last"])

    def create(self, unique_columns: list[str]) -> None:
        """The scratch table: one pass over the file in the warehouse (typing, copy counts)."""
        copies = "".join(
            f", IF(`{c}` IS NULL, NULL, COUNT(*) OVER (PARTITION BY `{c}`)) AS `{c}__copies`" for c in unique_columns
        )
        self.warehouse.run(
            f"CREATE TABLE `{self.table_id}` CLUSTER BY source_row "
            "OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 6 HOUR)) AS "
            f"SELECT *{copies} FROM `{self.view_id}` WHERE snapshot_date = @snapshot_date AND load_id = @load_id "
            "ORDER BY source_row",
            self.params, source=f"typed copy of {self.view_id}",
        )

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """Ranges of `chunk_rows` file lines (at most that many rows each), in file order; one
        empty frame with the columns for a file without rows."""
        if not self.rows:
            yield self.warehouse.read_rows_where(self.table_id, "FALSE").to_pandas()
            return
        streams = max(1, math.ceil(chunk_rows / ROWS_PER_STREAM))
        for start in range(self.first_line, self.last_line + 1, chunk_rows):
            table = self.warehouse.read_rows_where(
                self.table_id, f"source_row >= {int(start)} AND source_row < {int(start + chunk_rows)}",
                streams=streams,
            )
            if table.num_rows:
                yield table.sort_by("source_row").to_pandas()

    def drop(self) -> None:
        self.warehouse.drop_table(self.table_id)
