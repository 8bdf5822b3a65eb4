"""All BigQuery access goes through this module, and each emulator gap is handled here once.

Production: credentials come from the Airflow connection (`RETENTION_GCP_CONN_ID`, default
`google_cloud_default`) through the Google provider's `BigQueryHook`. Local runs and tests:
`BIGQUERY_EMULATOR_HOST` points the same client at the emulator with anonymous credentials.

Workarounds, each pinned by a test in `tests/integration/test_warehouse.py`:
- Loads use a resumable upload (`size=None`): the emulator refuses the multipart upload
  that `load_table_from_dataframe`, `pandas_gbq.to_gbq` and small `load_table_from_file`
  calls send. Resumable uploads are also what real BigQuery wants for large files.
- Queries always go through `client.query(sql).result()`: `query_and_wait` and
  `pandas_gbq.read_gbq` return an empty result for a failed query on the emulator.
- Data frames of query results are built with `create_bqstorage_client=False`: the client's
  Storage Read path reaches for Google's host, and the emulator's cannot read query results.
  Large reads of a table's rows (`read_table`, in `warehouse_reads.py`) use the Storage Read
  API directly, on BigQuery and on the emulator's gRPC port, with REST as the fallback.
- Replacing one date is a single MERGE (`... ON FALSE WHEN NOT MATCHED BY SOURCE AND
  t.d = @d THEN DELETE WHEN NOT MATCHED THEN INSERT (cols) ...`): parameters do not reach
  multi-statement scripts on the emulator, and `INSERT ROW` is refused.
- `SAFE_CAST('1.0' AS INT64)` is 1 on the emulator but NULL on BigQuery: SQL here parses
  integers through a pattern check, never by relying on either behaviour.
- Whole-line `--` comments are removed before a statement is sent: the emulator counts an
  `@name` inside a comment as a parameter and refuses the statement.
- `CLUSTER BY` and column `OPTIONS(description=...)` in DDL, and a table expiration set through
  the API, are accepted but dropped by the emulator; they are kept for real BigQuery, and
  nothing local depends on them.
- A query job's destination table (and a `table$YYYYMMDD` partition decorator) is ignored by
  the emulator, and it has no `INFORMATION_SCHEMA.PARTITIONS`: `publish_partition` and
  `partition_dates` (in `warehouse_partitions.py`) take the path the backend supports.
- Every job carries `maximum_bytes_billed` and labels (`warehouse_jobs.py`); the emulator
  accepts both and enforces neither.
- `ALTER TABLE ... ADD COLUMN` on the emulator adds the column to the stored rows but not to
  the table's schema (one ALTER per statement, too): `add_columns` then adds it to the schema
  through the API, which real BigQuery had already done.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from retention import warehouse_jobs
from retention.config import LAYERS, SQL_DIR, Settings
from retention.warehouse_partitions import Backend

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from google.cloud import bigquery

    from retention.warehouse_reads import Shard

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_CONFLICT_ATTEMPTS = 5
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


class WarehouseError(RuntimeError):
    """BigQuery refused a statement or a load; the message carries BigQuery's own words."""


class Warehouse:
    """A BigQuery client plus the platform's naming rules and its safe ways to read and write."""

    def __init__(self, client: bigquery.Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._reader = None
        self.backend = Backend.of(settings.emulator_host)
        self.last_job: bigquery.QueryJob | bigquery.LoadJob | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None, *, role: str = "pipeline") -> Warehouse:
        """The warehouse as `role` sees it: `outreach` (the tasks that read phone numbers) connects
        with `RETENTION_OUTREACH_GCP_CONN_ID` when set (retention.access)."""
        from retention.access import gcp_conn_id

        settings = settings or Settings.from_env()
        conn_id = gcp_conn_id(settings.gcp_conn_id, role)
        if settings.emulator_host:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import bigquery

            client = bigquery.Client(
                project=settings.project,
                location=settings.location,
                credentials=AnonymousCredentials(),
                client_options=ClientOptions(api_endpoint=settings.emulator_host),
            )
        else:
            from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

            hook = BigQueryHook(gcp_conn_id=conn_id, location=settings.location)
            client = hook.get_client(project_id=settings.project, location=settings.location)
        return cls(client, settings)

    # -- names ---------------------------------------------------------------------------

    def dataset_id(self, layer: str) -> str:
        return f"{self.settings.project}.{self.settings.dataset(layer)}"

    def table_id(self, layer: str, table: str) -> str:
        return f"{self.dataset_id(layer)}.{table}"

    def render(
        self, sql: str, identifiers: Mapping[str, str | Sequence[str]] | None = None, *, source: str = "<inline SQL>"
    ) -> str:
        """Fill `{{ name }}` tokens: a layer becomes `project.dataset`, any other name an identifier
        (or a comma-separated list of them) from `identifiers`. Only names, checked; data goes in
        query parameters."""
        identifiers = identifiers or {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in LAYERS:
                return self.dataset_id(name)
            if name not in identifiers:
                raise WarehouseError(
                    f"{source}: no value for {{{{ {name} }}}}; layers are {LAYERS}, identifiers given {sorted(identifiers)}"
                )
            value = identifiers[name]
            names = [value] if isinstance(value, str) else list(value)
            for identifier in names:
                if not _IDENTIFIER.fullmatch(identifier):
                    raise WarehouseError(f"{source}: {{{{ {name} }}}} = {identifier!r} is not a plain identifier")
            return ", ".join(names)

        # Whole-line comments are dropped: the emulator counts an @name inside a comment as a
        # query parameter and then refuses the statement. Trailing comments are left alone.
        code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        return _TOKEN.sub(substitute, code)

    @staticmethod
    def sql_file(path: str) -> str:
        file = SQL_DIR / path
        if not file.is_file():
            raise WarehouseError(f"no SQL file {file}; SQL lives under {SQL_DIR}")
        return file.read_text(encoding="utf-8")

    # -- statements ----------------------------------------------------------------------

    def run(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str | Sequence[str]] | None = None,
        source: str = "<inline SQL>",
        destination: str | None = None,
    ) -> bigquery.table.RowIterator:
        """Run one statement and wait for it; a failure raises with BigQuery's message.
        `destination` (a table or `table$YYYYMMDD` partition) is replaced by the query's rows;
        use `publish_partition`, which knows when the backend honours it."""
        return self._execute(sql, params, identifiers=identifiers, source=source, destination=destination)[1]

    def run_dml(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str | Sequence[str]] | None = None,
        source: str = "<inline SQL>",
    ) -> int:
        """Run one DML statement (INSERT, UPDATE, DELETE, MERGE); returns the rows it changed."""
        job = self._execute(sql, params, identifiers=identifiers, source=source)[0]
        return int(job.num_dml_affected_rows or 0)

    def _execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        identifiers: Mapping[str, str | Sequence[str]] | None,
        source: str,
        destination: str | None = None,
    ) -> tuple[bigquery.QueryJob, bigquery.table.RowIterator]:
        from google.api_core import exceptions
        from google.cloud import bigquery

        config = self.query_config(sql, params, source=source)
        if destination is not None:
            config.destination = destination
            config.write_disposition = bigquery.WriteDisposition.WRITE_TRUNCATE
            config.create_disposition = bigquery.CreateDisposition.CREATE_NEVER
        rendered = self.render(sql, identifiers, source=source)
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                job = self.client.query(rendered, job_config=config)
                self.last_job = job
                rows = job.result()
                break
            except exceptions.GoogleAPICallError as error:
                over_cap = warehouse_jobs.over_cap_message(error, source)
                if over_cap:
                    raise WarehouseError(over_cap) from error
                # Two DML statements on the same partition at once (the DAG's parallel branches
                # both write ops tables): BigQuery asks to retry; the statement is atomic, so it is safe.
                if "could not serialize access" in str(error.message).lower() and attempt < _CONFLICT_ATTEMPTS:
                    log.warning("%s: concurrent update, retrying (%s/%s)", source, attempt, _CONFLICT_ATTEMPTS)
                    time.sleep(2 * attempt)
                    continue
                raise WarehouseError(f"BigQuery rejected {source}: {error.message}") from error
        if job.num_dml_affected_rows is not None:
            log.info("%s: %s rows affected", source, job.num_dml_affected_rows)
        return job, rows

    def query_config(
        self, sql: str, params: Mapping[str, Any] | None = None, *, source: str, dry_run: bool = False,
    ) -> bigquery.QueryJobConfig:
        """The job configuration of a statement: its parameters, the bytes-billed cap and the
        labels naming the DAG, task and layer (warehouse_jobs)."""
        layer = warehouse_jobs.layer_of(sql, source, dataset_prefix=self.settings.dataset_prefix)
        return warehouse_jobs.query_config(
            [_parameter(k, v) for k, v in (params or {}).items()], labels=warehouse_jobs.job_labels(layer),
            dry_run=dry_run,
        )

    def dry_run(
        self, sql: str, params: Mapping[str, Any] | None = None, *,
        identifiers: Mapping[str, str | Sequence[str]] | None = None, source: str = "<inline SQL>",
        destination: str | None = None,
    ) -> int:
        """Ask BigQuery to plan the statement without running it (no cost, no data touched);
        returns the bytes it would process; a statement BigQuery rejects raises."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        config = self.query_config(sql, params, source=source, dry_run=True)
        if destination is not None:
            config.destination = destination
            config.write_disposition = bigquery.WriteDisposition.WRITE_TRUNCATE
            config.create_disposition = bigquery.CreateDisposition.CREATE_NEVER
        try:
            job = self.client.query(self.render(sql, identifiers, source=source), job_config=config)
            self.last_job = job
        except exceptions.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery rejected {source}: {error.message}") from error
        return int(job.total_bytes_processed or 0)

    def publish_partition(
        self, table_id: str, partition_column: str, partition: dt.date, select_sql: str,
        params: Mapping[str, Any] | None = None, *,
        identifiers: Mapping[str, str | Sequence[str]] | None = None, source: str,
    ) -> None:
        """Replace one date's partition by a SELECT's rows, atomically (warehouse_partitions)."""
        from retention.warehouse_partitions import publish_partition

        publish_partition(self, table_id, partition_column, partition, select_sql, params,
                          identifiers=identifiers, source=source)

    def publish_partition_file(
        self, path: str, table_id: str, partition_column: str, partition: dt.date,
        params: Mapping[str, Any] | None = None, *, identifiers: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        self.publish_partition(table_id, partition_column, partition, self.sql_file(path), params,
                               identifiers=identifiers, source=f"sql/{path}")

    def partition_dates(self, table_id: str) -> list[dt.date]:
        """The days with rows in a day-partitioned table, from its partition metadata."""
        from retention.warehouse_partitions import partition_dates

        return partition_dates(self, table_id)

    def latest_partition(
        self, table_id: str, *, before: dt.date | None = None, on_or_before: dt.date | None = None,
    ) -> dt.date | None:
        from retention.warehouse_partitions import latest_partition

        return latest_partition(self, table_id, before=before, on_or_before=on_or_before)

    def run_file(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str | Sequence[str]] | None = None,
    ) -> bigquery.table.RowIterator:
        return self.run(self.sql_file(path), params, identifiers=identifiers, source=f"sql/{path}")

    def rows(self, sql: str, params: Mapping[str, Any] | None = None, *, source: str = "<inline SQL>") -> list[dict]:
        return [dict(row.items()) for row in self.run(sql, params, source=source)]

    def dataframe(
        self, sql: str, params: Mapping[str, Any] | None = None, *, source: str = "<inline SQL>"
    ) -> pd.DataFrame:
        # Through Arrow: RowIterator.to_dataframe is deprecated, and pandas_gbq.read_gbq hides failures.
        return self.run(sql, params, source=source).to_arrow(create_bqstorage_client=False).to_pandas()

    def arrow_chunks(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        chunk_rows: int,
        identifiers: Mapping[str, str | Sequence[str]] | None = None,
        source: str = "<inline SQL>",
    ) -> Iterator[pa.Table]:
        """The result in pages of at most `chunk_rows` rows, read over the REST API: memory stays
        the same whatever the result's size. The REST page is parsed into Python objects before
        Arrow (about 20 KB per 45-column row, measured), so pages are kept small."""
        config = self.query_config(sql, params, source=source)
        job = self.client.query(self.render(sql, identifiers, source=source), job_config=config)
        self.last_job = job
        try:
            rows = job.result(page_size=chunk_rows)
        except Exception as error:
            over_cap = warehouse_jobs.over_cap_message(error, source)
            if over_cap:
                raise WarehouseError(over_cap) from error
            raise WarehouseError(f"BigQuery rejected {source}: {error}") from error
        yield from rows.to_arrow_iterable(bqstorage_client=None)

    def read_table(
        self,
        table_id: str,
        *,
        columns: Sequence[str],
        equals: Mapping[str, Any] | None = None,
        shard: Shard | None = None,
        chunk_rows: int,
        source: str,
        path: str | None = None,
    ) -> Iterator[pa.Table]:
        """A table's rows (`columns`, where `equals` holds, in `shard`) in Arrow tables of
        `chunk_rows`: over the Storage Read API where it is served, else REST (warehouse_reads)."""
        from retention.warehouse_reads import read_table

        return read_table(self, table_id, columns=columns, equals=equals, shard=shard, chunk_rows=chunk_rows,
                          source=source, path=path)

    def storage_read_available(self) -> bool:
        """Reads may try the Storage Read API: on BigQuery unless switched off, and on an
        emulator whose gRPC address is known."""
        if self.settings.storage_read == "off":
            return False
        return not self.settings.emulator_host or bool(self.settings.storage_emulator_host)

    # -- structure -----------------------------------------------------------------------

    def ensure_datasets(self, layers: Sequence[str] = LAYERS) -> None:
        from google.cloud import bigquery

        for layer in layers:
            dataset = bigquery.Dataset(self.dataset_id(layer))
            dataset.location = self.settings.location
            self.client.create_dataset(dataset, exists_ok=True)

    def table_exists(self, table_id: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(table_id)
        except NotFound:
            return False
        return True

    def ensure_table(
        self, table_id: str, schema: Sequence[bigquery.SchemaField], *, clustering: Sequence[str] | None = None,
        expires_after: dt.timedelta | None = None,
    ) -> None:
        """Create the table with `schema` unless it exists (a staging table; DDL files are for
        the published ones)."""
        from google.cloud import bigquery

        table = bigquery.Table(table_id, schema=list(schema))
        table.clustering_fields = list(clustering) if clustering else None
        if expires_after is not None:
            table.expires = dt.datetime.now(dt.UTC) + expires_after
        self.client.create_table(table, exists_ok=True)

    def column_names(self, table_id: str) -> list[str]:
        return [field.name for field in self.client.get_table(table_id).schema]

    def add_columns(self, table_id: str, columns: Mapping[str, str]) -> list[str]:
        """Add the columns (name -> type, NULLABLE) that a table created before them lacks, so an
        older warehouse keeps working after a release adds columns; returns the names added."""
        from google.cloud import bigquery

        present = set(self.column_names(table_id))
        missing = {name: kind for name, kind in columns.items() if name not in present}
        for name, kind in missing.items():
            if not _IDENTIFIER.fullmatch(name) or not re.fullmatch(r"[A-Z0-9]+", kind):
                raise WarehouseError(f"add_columns: {name!r} {kind!r} is not a plain column name and type")
            self.run(f"ALTER TABLE `{table_id}` ADD COLUMN IF NOT EXISTS {name} {kind}", source=f"add {table_id}.{name}")
        table = self.client.get_table(table_id) if missing else None
        absent = [bigquery.SchemaField(name, kind) for name, kind in missing.items()
                  if table and name not in {field.name for field in table.schema}]
        if absent:
            table.schema = [*table.schema, *absent]
            self.client.update_table(table, ["schema"])
        if missing:
            log.info("added to %s the columns %s", table_id, ", ".join(missing))
        return list(missing)

    def drop_table(self, table_id: str) -> None:
        self.client.delete_table(table_id, not_found_ok=True)

    def count_rows(self, table_id: str, where: str = "TRUE", params: Mapping[str, Any] | None = None) -> int:
        rows = self.rows(f"SELECT COUNT(*) AS n FROM `{table_id}` WHERE {where}", params, source=f"count {table_id}")
        return int(rows[0]["n"])

    # -- loads ---------------------------------------------------------------------------

    def load_json_rows(
        self,
        table_id: str,
        rows: Iterable[Mapping[str, Any]],
        schema: Sequence[bigquery.SchemaField],
        *,
        expires_after: dt.timedelta | None = None,
    ) -> int:
        """Replace `table_id` with `rows` (a staging table), through a resumable upload."""
        from google.cloud import bigquery

        buffer = io.BytesIO()
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False, default=_json_default).encode("utf-8"))
            buffer.write(b"\n")
        loaded = self._load_file(buffer, table_id, bigquery.SourceFormat.NEWLINE_DELIMITED_JSON, schema, append=False)
        if expires_after is not None:
            # A worker killed before its cleanup leaves nothing behind for long.
            self.expire_after(table_id, expires_after)
        return loaded

    def load_arrow(
        self, table_id: str, table: pa.Table, schema: Sequence[bigquery.SchemaField], *, append: bool
    ) -> int:
        """Load an Arrow table as Parquet (typed, compact, fast) through a resumable upload;
        `append=False` replaces the table."""
        import pyarrow.parquet as pq
        from google.cloud import bigquery

        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return self._load_file(buffer, table_id, bigquery.SourceFormat.PARQUET, schema, append=append)

    def _load_file(
        self, buffer: BinaryIO, table_id: str, source_format: str, schema: Sequence[bigquery.SchemaField],
        *, append: bool,
    ) -> int:
        from google.api_core import exceptions
        from google.cloud import bigquery

        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=source_format,
            schema=list(schema),
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND if append else bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            labels=warehouse_jobs.job_labels(
                warehouse_jobs.layer_of("", f"load {table_id}", table_id, self.settings.dataset_prefix)
            ),
        )
        try:
            # size=None makes the client use a resumable upload (the emulator refuses multipart).
            job = self.client.load_table_from_file(buffer, table_id, job_config=config, size=None, rewind=True)
            self.last_job = job
            job.result()
        except exceptions.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery refused the load into {table_id}: {error.message}") from error
        return int(job.output_rows or 0)

    def expire_after(self, table_id: str, after: dt.timedelta) -> None:
        """Let BigQuery delete the table `after` from now (the emulator accepts and ignores it)."""
        table = self.client.get_table(table_id)
        table.expires = dt.datetime.now(dt.UTC) + after
        self.client.update_table(table, ["expires"])

    def load_parquet_file(self, table_id: str, path: Path, schema: Sequence[bigquery.SchemaField]) -> int:
        """Replace `table_id` with a Parquet file written beforehand (any size: one load job,
        the upload streamed from disk). One load per file, not one per chunk: the emulator
        copies a table for time travel on every write, so appends cost the table's size each."""
        from google.cloud import bigquery

        with path.open("rb") as handle:
            return self._load_file(handle, table_id, bigquery.SourceFormat.PARQUET, schema, append=False)

    def replace_from(self, table_id: str, staging_id: str, match: Mapping[str, Any]) -> int:
        """Atomically replace the rows of `table_id` whose `match` columns equal the given values
        by every row of the table `staging_id` (same columns), in one MERGE; returns rows changed."""
        for column in match:
            if not _IDENTIFIER.fullmatch(column):
                raise WarehouseError(f"replace_from: {column!r} is not a plain column name")
        condition = " AND ".join(f"target.{column} = @{column}" for column in match)
        columns = [field.name for field in self.client.get_table(table_id).schema]
        return self.run_dml(
            f"MERGE `{table_id}` AS target USING `{staging_id}` AS staged ON FALSE "
            f"WHEN NOT MATCHED BY SOURCE AND {condition} THEN DELETE "
            "WHEN NOT MATCHED THEN INSERT ({{ columns }}) VALUES ({{ staged_columns }})",
            match,
            identifiers={"columns": columns, "staged_columns": [f"staged.{c}" for c in columns]},
            source=f"replace {table_id}",
        )

    def staging_id(self, table_id: str, purpose: str = "staging") -> str:
        """A fresh table name beside `table_id` for one task's intermediate rows (drop it after)."""
        project, dataset, table = table_id.split(".")
        return f"{project}.{dataset}._{purpose}_{table}_{uuid.uuid4().hex[:16]}"

    def read_rows_where(self, table_id: str, row_restriction: str, *, streams: int = 1) -> pa.Table:
        """The rows of a plain table that pass `row_restriction` (a filter on its own columns,
        written by the platform, never from data), over the BigQuery Storage Read API: Arrow,
        no per-row parsing. `streams` splits the read so that no message exceeds the API's
        size limit. Without a Storage Read endpoint (an emulator without its gRPC port given)
        the REST API reads the same rows, slowly."""
        import pyarrow as pa

        reader = self._storage_reader()
        if reader is None:
            batches = list(self.arrow_chunks(
                f"SELECT * FROM `{table_id}` WHERE {row_restriction}", chunk_rows=10_000, source=f"read {table_id}",
            ))
            schema = arrow_schema(self.client.get_table(table_id).schema)
            return pa.Table.from_batches(batches).cast(schema) if batches else schema.empty_table()
        from google.cloud.bigquery_storage_v1 import types

        project, dataset, table = table_id.split(".")
        session = reader.create_read_session(
            parent=f"projects/{self.settings.project}",
            read_session=types.ReadSession(
                table=f"projects/{project}/datasets/{dataset}/tables/{table}",
                data_format=types.DataFormat.ARROW,
                read_options=types.ReadSession.TableReadOptions(row_restriction=row_restriction),
            ),
            max_stream_count=streams,
        )
        if not session.streams:
            return arrow_schema(self.client.get_table(table_id).schema).empty_table()
        schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
        batches = [
            pa.ipc.read_record_batch(pa.py_buffer(message.arrow_record_batch.serialized_record_batch), schema)
            for stream in session.streams
            for message in reader.read_rows(stream.name)
        ]
        return pa.Table.from_batches(batches, schema=schema)

    def _storage_reader(self):
        if self._reader is not None:
            return self._reader
        from google.cloud.bigquery_storage_v1 import BigQueryReadClient

        if self.settings.emulator_host:
            host = os.environ.get("BIGQUERY_STORAGE_EMULATOR_HOST")
            if not host:
                return None
            import grpc
            from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

            channel = grpc.insecure_channel(host, options=[("grpc.max_receive_message_length", 256 * 1024 * 1024)])
            self._reader = BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
        else:
            self._reader = BigQueryReadClient(credentials=self.client._credentials)
        return self._reader

    def replace_rows(self, table_id: str, rows: Sequence[Mapping[str, Any]], match: Mapping[str, Any]) -> int:
        """Atomically replace the rows of `table_id` whose `match` columns equal the given values
        by `rows`: the rows are staged with a load job, then one MERGE deletes and inserts.
        Running it twice with the same rows leaves the same table."""
        for column in match:
            if not _IDENTIFIER.fullmatch(column):
                raise WarehouseError(f"replace_rows: {column!r} is not a plain column name")
        condition = " AND ".join(f"target.{column} = @{column}" for column in match)
        if not rows:
            self.run(f"DELETE FROM `{table_id}` AS target WHERE {condition}", match, source=f"replace {table_id}")
            return 0
        columns = [field.name for field in self.client.get_table(table_id).schema]
        with self.staged_rows(table_id, rows) as staging_id:
            self.run(
                f"MERGE `{table_id}` AS target USING `{staging_id}` AS staged ON FALSE "
                f"WHEN NOT MATCHED BY SOURCE AND {condition} THEN DELETE "
                "WHEN NOT MATCHED THEN INSERT ({{ columns }}) VALUES ({{ staged_columns }})",
                match,
                identifiers={"columns": columns, "staged_columns": [f"staged.{c}" for c in columns]},
                source=f"replace {table_id}",
            )
        return len(rows)

    def insert_missing(self, table_id: str, rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> int:
        """Insert the `rows` whose `key` columns match no row of `table_id`; rows already there are
        left exactly as they are (one MERGE, so insert-only even when run twice at once).
        Returns how many were inserted."""
        for column in key:
            if not _IDENTIFIER.fullmatch(column):
                raise WarehouseError(f"insert_missing: {column!r} is not a plain column name")
        if not rows:
            return 0
        columns = [field.name for field in self.client.get_table(table_id).schema]
        condition = " AND ".join(f"target.{column} = staged.{column}" for column in key)
        with self.staged_rows(table_id, rows) as staging_id:
            return self.run_dml(
                f"MERGE `{table_id}` AS target USING `{staging_id}` AS staged ON {condition} "
                "WHEN NOT MATCHED THEN INSERT ({{ columns }}) VALUES ({{ staged_columns }})",
                identifiers={"columns": columns, "staged_columns": [f"staged.{c}" for c in columns]},
                source=f"insert into {table_id}",
            )

    @contextmanager
    def staged_rows(self, table_id: str, rows: Sequence[Mapping[str, Any]]) -> Iterator[str]:
        """`rows` loaded into a staging table with `table_id`'s schema, beside it, for one
        statement to read; yields its full id and drops it afterwards."""
        table = self.client.get_table(table_id)
        # Unique per call: two runs of the same week never share (or drop) each other's staging table.
        staging_id = f"{table.project}.{table.dataset_id}._staging_{table.table_id}_{uuid.uuid4().hex[:16]}"
        try:
            self.load_json_rows(staging_id, rows, table.schema, expires_after=dt.timedelta(hours=6))
            yield staging_id
        finally:
            self.drop_table(staging_id)


def arrow_schema(schema: Sequence[bigquery.SchemaField]) -> pa.Schema:
    """The Arrow types the platform's tables use, for loads and empty reads."""
    import pyarrow as pa

    types = {
        "STRING": pa.string(), "INT64": pa.int64(), "INTEGER": pa.int64(), "FLOAT64": pa.float64(),
        "FLOAT": pa.float64(), "BOOL": pa.bool_(), "BOOLEAN": pa.bool_(), "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([pa.field(field.name, types[field.field_type]) for field in schema])


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    from google.cloud import bigquery

    value = _plain(value)
    if value is None:
        raise WarehouseError(f"query parameter @{name} is None: BigQuery needs its type; filter with IS NULL instead")
    if isinstance(value, list | tuple):
        value = [_plain(item) for item in value]
        if not value:
            raise WarehouseError(f"query parameter @{name} is an empty list: its element type cannot be known")
        kinds = {_scalar_type(item) for item in value}
        if len(kinds) != 1:
            raise WarehouseError(f"query parameter @{name} mixes types {kinds}")
        return bigquery.ArrayQueryParameter(name, kinds.pop(), value)
    return bigquery.ScalarQueryParameter(name, _scalar_type(value), value)


def _scalar_type(value: Any) -> str:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise WarehouseError(f"query parameter {value!r} is a naive datetime: give it a time zone (UTC)")
    # bool before int: True is an int in Python.
    for kind, bq_type in (
        (bool, "BOOL"), (int, "INT64"), (float, "FLOAT64"), (Decimal, "NUMERIC"),
        (dt.datetime, "TIMESTAMP"), (dt.date, "DATE"), (str, "STRING"),
    ):
        if isinstance(value, kind):
            return bq_type
    raise WarehouseError(f"no BigQuery type for query parameter value {value!r} ({type(value).__name__})")


def _plain(value: Any) -> Any:
    """numpy and pandas scalars (np.int64, np.bool_) as the Python values BigQuery's client knows."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str | bytes) else value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
