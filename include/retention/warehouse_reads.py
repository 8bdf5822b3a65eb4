"""Large reads of one table's rows: the BigQuery Storage Read API where it is served, REST otherwise.

`Warehouse.read_table` is the way in; this module is its half of the warehouse that only
reads, split from `warehouse.py` along that responsibility.

- **Storage Read API** (Arrow record batches over gRPC, no JSON, no query job): one read
  session per call with one stream, so a scoring shard is one stream, and as many shards
  read in parallel as there are workers. Real BigQuery serves it to any client with
  `bigquery.readsessions.create`; the emulator serves it on its gRPC port for plain tables
  (`BIGQUERY_STORAGE_EMULATOR_HOST`, set by `LocalBigQuery.environment()`), never for query
  results. The filter travels as the session's `row_restriction`, which takes no query
  parameters: values are written as typed literals from Python dates, integers and booleans
  only (never text from a file or a user).
- **REST** (a query job, read in pages): the fallback when the Storage Read API is switched
  off (`RETENTION_STORAGE_READ=off`), unknown (an emulator without its gRPC address), or
  refuses the session (no permission, a filter it does not take). Same rows, same chunks.

The emulator (bqemulator 1.4.0), pinned in tests/integration/test_warehouse.py: it evaluates
a `row_restriction` with the same SQL translator as queries (FARM_FINGERPRINT included, equal
to BigQuery's documented values), and returns the same rows and Arrow types as REST; it sends
a stream in batches of 65,536 rows but refuses to send a gRPC message over 11.5 MB, so a
session there is cut into up to 10 short streams, read one after the other (BigQuery: one
stream). Read from its code (`streaming/read_session.py`), not pinned: it materialises a
session's rows in its own memory and keeps every session until it stops, so a long-lived
local emulator grows by what was read through it (a week's shard at a time).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

READ_PATHS = ("storage", "rest")
# The client's default retries an unreachable endpoint for 10 minutes; a minute is enough to
# ride out a blip, and then the read goes over REST.
_SESSION_TIMEOUT_SECONDS = 60.0
EMULATOR_STREAMS = 10


@dataclass(frozen=True)
class Shard:
    """Rows whose `key` hashes to `index` of `count`: a stable split of a table that is the same
    on BigQuery and on the emulator (FarmHash Fingerprint64, pinned by a test). MOD before ABS:
    ABS of the smallest INT64 fingerprint would overflow."""

    index: int
    count: int
    key: str = "customer_id"

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1 and isinstance(self.index, int)
                and 0 <= self.index < self.count):
            raise ValueError(f"shard {self.index!r} of {self.count!r}: needs 0 <= index < count and count >= 1")

    def sql(self, index: str, count: str) -> str:
        return f"ABS(MOD(FARM_FINGERPRINT({self.key}), {count})) = {index}"


def read_table(
    warehouse: Warehouse,
    table_id: str,
    *,
    columns: Sequence[str],
    equals: Mapping[str, Any] | None = None,
    shard: Shard | None = None,
    chunk_rows: int,
    source: str,
    path: str | None = None,
) -> Iterator[pa.Table]:
    """The rows of `table_id` whose `equals` columns have the given values (and that fall in
    `shard`), `columns` only, in Arrow tables of exactly `chunk_rows` rows (the last fewer).
    `path` forces "storage" or "rest"; by default the Storage Read API when it is available."""
    from retention.warehouse import _IDENTIFIER, WarehouseError

    equals = dict(equals or {})
    for name in [*columns, *equals, *([shard.key] if shard else [])]:
        if not _IDENTIFIER.fullmatch(name) or "." in name:
            raise WarehouseError(f"{source}: {name!r} is not a plain column name")
    if path not in (None, *READ_PATHS):
        raise WarehouseError(f"{source}: read path {path!r} is not one of {READ_PATHS}")
    chosen = path or ("storage" if warehouse.storage_read_available() else "rest")
    if chosen == "storage":
        batches = _storage_batches(warehouse, table_id, columns, equals, shard, source=source, forced=path == "storage")
        if batches is not None:
            handed_on = False
            try:
                for chunk in _rechunk(batches, chunk_rows):
                    handed_on = True
                    yield chunk
                return
            except _StreamFailed as error:
                # Nothing handed on yet: REST can still give every row once. Later, it cannot.
                if handed_on or path == "storage":
                    raise WarehouseError(str(error)) from error
                log.warning("%s; reading over REST instead", error)
    yield from _rest_chunks(warehouse, table_id, columns, equals, shard, chunk_rows=chunk_rows, source=source)


def last_read_path(warehouse: Warehouse) -> str | None:
    """Which path the warehouse's last `read_table` took ("storage" or "rest"), for task summaries."""
    return getattr(warehouse, "_last_read_path", None)


def _rest_chunks(
    warehouse: Warehouse, table_id: str, columns: Sequence[str], equals: Mapping[str, Any], shard: Shard | None,
    *, chunk_rows: int, source: str,
) -> Iterator[pa.Table]:
    conditions = [f"{name} = @{name}" for name in equals]
    params: dict[str, Any] = dict(equals)
    if shard is not None:
        conditions.append(shard.sql("@shard_index", "@shard_count"))
        params |= {"shard_index": shard.index, "shard_count": shard.count}
    where = " AND ".join(conditions) or "TRUE"
    warehouse._last_read_path = "rest"  # noqa: SLF001 - this module is the warehouse's own reading half
    yield from _rechunk(warehouse.arrow_chunks(
        f"SELECT {{{{ columns }}}} FROM `{table_id}` WHERE {where}", params,
        chunk_rows=chunk_rows, identifiers={"columns": list(columns)}, source=source,
    ), chunk_rows)


def row_restriction(equals: Mapping[str, Any], shard: Shard | None) -> str:
    """The Storage Read API filter for `equals` and `shard`, values as typed literals."""
    conditions = [f"{name} = {_literal(value)}" for name, value in equals.items()]
    if shard is not None:
        conditions.append(shard.sql(str(shard.index), str(shard.count)))
    return " AND ".join(conditions)


def _literal(value: Any) -> str:
    from retention.warehouse import WarehouseError, _plain

    value = _plain(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"DATE '{value.isoformat()}'"
    # Text would need quoting inside a filter that takes no parameters: not offered at all.
    raise WarehouseError(f"a Storage Read filter takes dates, integers and booleans only, not {value!r}")


def _storage_batches(
    warehouse: Warehouse, table_id: str, columns: Sequence[str], equals: Mapping[str, Any], shard: Shard | None,
    *, source: str, forced: bool,
) -> Iterator[pa.RecordBatch] | None:
    """Record batches of one read session's single stream; None when the Storage Read API
    refuses the session (and the path was not forced), so the caller reads over REST."""
    from google.api_core import exceptions
    from google.api_core.retry import Retry, if_transient_error
    from google.cloud.bigquery_storage_v1 import types

    from retention.warehouse import WarehouseError

    retry = Retry(predicate=if_transient_error, initial=1.0, maximum=10.0, timeout=_SESSION_TIMEOUT_SECONDS)
    project, dataset, table = table_id.split(".")
    session = types.ReadSession(
        table=f"projects/{project}/datasets/{dataset}/tables/{table}",
        data_format=types.DataFormat.ARROW,
        read_options=types.ReadSession.TableReadOptions(
            selected_fields=list(columns), row_restriction=row_restriction(equals, shard)
        ),
    )
    client = storage_client(warehouse)
    try:
        # One stream on BigQuery: the shard is the unit of parallelism, one worker reads it front
        # to back. The emulator sends a stream in batches of 65,536 rows and refuses to send a
        # message over 11.5 MB (a 45-column batch is about 13 MB): its streams are made short
        # (it cuts a session into at most 10), and read one after the other.
        session = client.create_read_session(
            parent=f"projects/{warehouse.settings.project}", read_session=session,
            max_stream_count=EMULATOR_STREAMS if warehouse.settings.emulator_host else 1,
            retry=retry, timeout=_SESSION_TIMEOUT_SECONDS,
        )
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:  # refused, or unreachable
        if forced:
            raise WarehouseError(f"the Storage Read API refused {source} ({table_id}): {error.message}") from error
        log.warning("%s: the Storage Read API refused the read session (%s); reading over REST instead",
                    source, error.message)
        return None
    warehouse._last_read_path = "storage"  # noqa: SLF001 - this module is the warehouse's own reading half
    return _stream_batches(client, session, source=source)


def storage_client(warehouse: Warehouse):
    """The warehouse's Storage Read API client (made once): the emulator's gRPC port (plain
    channel, loopback), or BigQuery's with the credentials of the warehouse's BigQuery client."""
    cached = getattr(warehouse, "_storage_client", None)
    if cached is not None:
        return cached
    from google.cloud import bigquery_storage_v1

    from retention.warehouse import WarehouseError

    settings = warehouse.settings
    if settings.emulator_host:
        import grpc
        from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

        if not settings.storage_emulator_host:
            raise WarehouseError(
                "BIGQUERY_STORAGE_EMULATOR_HOST is not set: give the emulator's gRPC address (127.0.0.1:PORT) "
                "or set RETENTION_STORAGE_READ=off"
            )
        # A batch of 65,536 wide rows is larger than gRPC's default 4 MB message limit.
        channel = grpc.insecure_channel(
            settings.storage_emulator_host, options=[("grpc.max_receive_message_length", -1)]
        )
        client = bigquery_storage_v1.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
    else:
        # The BigQuery client's own credentials (from the Airflow connection), as the client
        # library hands them to the Storage Read client it makes for itself.
        client = bigquery_storage_v1.BigQueryReadClient(credentials=warehouse.client._credentials)  # noqa: SLF001
    warehouse._storage_client = client  # noqa: SLF001 - this module is the warehouse's own reading half
    return client


class _StreamFailed(RuntimeError):
    """A Storage Read stream broke off (read_table decides whether REST can take over)."""


def _stream_batches(client, session, *, source: str) -> Iterator[pa.RecordBatch]:
    from google.api_core import exceptions

    import pyarrow as pa

    if not session.streams:  # an empty result has no stream at all
        return
    schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
    for stream in session.streams:
        try:
            # The stream object resumes from the last offset when the connection drops.
            for response in client.read_rows(stream.name):
                yield pa.ipc.read_record_batch(pa.py_buffer(response.arrow_record_batch.serialized_record_batch), schema)
        except exceptions.GoogleAPICallError as error:
            raise _StreamFailed(f"the Storage Read stream of {source} failed: {error.message}; retry the task") from error


def _rechunk(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Batches of whatever size the server sends, as tables of exactly `chunk_rows` rows."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(batch.num_rows, chunk_rows - held)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == chunk_rows:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)
