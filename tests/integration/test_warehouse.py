"""Each emulator gap the warehouse module works around, pinned on the real client and emulator.

A test named `test_emulator_*` shows the gap itself: if the emulator ever fixes it, that test
fails and the workaround can go. The test beside it shows the workaround holds.
"""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from retention.warehouse import WarehouseError

pytestmark = pytest.mark.emulator

SCHEMA = [bigquery.SchemaField("week", "DATE"), bigquery.SchemaField("name", "STRING")]


def test_emulator_refuses_multipart_uploads(warehouse):
    data = b'{"week": "2026-11-23", "name": "a"}\n'
    config = bigquery.LoadJobConfig(source_format="NEWLINE_DELIMITED_JSON", schema=SCHEMA)
    with pytest.raises(BadRequest, match="multipart"):
        warehouse.client.load_table_from_file(
            io.BytesIO(data), warehouse.table_id("raw", "multipart"), job_config=config, size=len(data)
        ).result()


def test_loads_go_through_a_resumable_upload(warehouse):
    table = warehouse.table_id("raw", "loaded")
    rows = [{"week": dt.date(2026, 11, 23), "name": "한글 이름"}, {"week": dt.date(2026, 11, 23), "name": None}]
    assert warehouse.load_json_rows(table, rows, SCHEMA) == 2
    assert warehouse.load_json_rows(table, rows[:1], SCHEMA) == 1  # a staging load replaces, never appends
    assert warehouse.rows(f"SELECT name FROM `{table}`") == [{"name": "한글 이름"}]


def test_emulator_query_and_wait_hides_a_failed_query(warehouse):
    assert list(warehouse.client.query_and_wait("SELECT no_such_column FROM UNNEST([1]) AS x")) == []


def test_a_failed_statement_raises_with_bigquerys_own_message(warehouse):
    with pytest.raises(WarehouseError, match=r"BigQuery rejected broken\.sql: .*no_such_column"):
        warehouse.run("SELECT no_such_column FROM UNNEST([1]) AS x", source="broken.sql")


def test_dataframes_are_read_without_the_storage_api(warehouse):
    frame = warehouse.dataframe("SELECT DATE '2026-11-23' AS week, 1.5 AS amount")
    assert frame.to_dict("records") == [{"week": dt.date(2026, 11, 23), "amount": 1.5}]


def test_emulator_counts_parameters_inside_comments(warehouse):
    with pytest.raises(BadRequest, match="Parameter argument/count mismatch"):
        warehouse.client.query(
            "-- about @week\nSELECT @week AS w",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ScalarQueryParameter("week", "DATE", dt.date(2026, 11, 23))]
            ),
        ).result()


def test_commented_sql_files_run_with_parameters(warehouse):
    rows = warehouse.rows("-- about @week\nSELECT @week AS w", {"week": dt.date(2026, 11, 23)})
    assert rows == [{"w": dt.date(2026, 11, 23)}]


def test_emulator_safe_casts_decimal_text_to_integers(warehouse):
    # Real BigQuery returns NULL here; SQL in this project never relies on either answer.
    assert warehouse.rows("SELECT SAFE_CAST('1.0' AS INT64) AS n") == [{"n": 1}]


def test_one_merge_replaces_one_date_and_is_idempotent(warehouse):
    target = warehouse.table_id("core", "weekly")
    staged = warehouse.table_id("raw", "staged")
    warehouse.run(f"CREATE TABLE `{target}` (week DATE, name STRING) PARTITION BY week")
    warehouse.load_json_rows(staged, [{"week": "2026-11-16", "name": "kept"}], SCHEMA)
    replace = (
        f"MERGE `{target}` AS t USING `{staged}` AS s ON FALSE "
        "WHEN NOT MATCHED BY SOURCE AND t.week = @week THEN DELETE "
        "WHEN NOT MATCHED THEN INSERT (week, name) VALUES (s.week, s.name)"
    )
    warehouse.run(replace, {"week": dt.date(2026, 11, 16)})
    warehouse.load_json_rows(staged, [{"week": "2026-11-23", "name": "a"}, {"week": "2026-11-23", "name": "b"}], SCHEMA)
    for _ in range(2):
        warehouse.run(replace, {"week": dt.date(2026, 11, 23)})
    counts = warehouse.rows(f"SELECT week, COUNT(*) AS n FROM `{target}` GROUP BY week ORDER BY week")
    assert counts == [{"week": dt.date(2026, 11, 16), "n": 1}, {"week": dt.date(2026, 11, 23), "n": 2}]


def test_emulator_drops_column_descriptions_given_in_ddl(warehouse):
    table = warehouse.table_id("core", "described")
    warehouse.run(f"CREATE TABLE `{table}` (a STRING OPTIONS(description = 'said'))")
    assert warehouse.client.get_table(table).schema[0].description is None


def test_emulator_alter_table_adds_a_column_to_the_rows_but_not_to_the_schema(warehouse):
    table = warehouse.table_id("core", "altered")
    warehouse.run(f"CREATE TABLE `{table}` (a STRING)")
    warehouse.run(f"INSERT INTO `{table}` (a) VALUES ('old')")
    warehouse.run(f"ALTER TABLE `{table}` ADD COLUMN IF NOT EXISTS b STRING")
    assert warehouse.rows(f"SELECT * FROM `{table}`") == [{"a": "old", "b": None}]
    assert warehouse.column_names(table) == ["a"]


def test_add_columns_upgrades_an_older_table_once_and_its_rows_stay(warehouse):
    table = warehouse.table_id("core", "upgraded")
    warehouse.run(f"CREATE TABLE `{table}` (a STRING)")
    warehouse.run(f"INSERT INTO `{table}` (a) VALUES ('old')")
    assert warehouse.add_columns(table, {"a": "STRING", "b": "STRING", "c": "INT64"}) == ["b", "c"]
    assert warehouse.add_columns(table, {"b": "STRING", "c": "INT64"}) == []
    assert warehouse.column_names(table) == ["a", "b", "c"]
    warehouse.replace_rows(table, [{"a": "new", "b": "x", "c": 1}], {"a": "new"})
    assert warehouse.rows(f"SELECT * FROM `{table}` ORDER BY a") == [
        {"a": "new", "b": "x", "c": 1}, {"a": "old", "b": None, "c": None}]
    with pytest.raises(WarehouseError, match="not a plain column name"):
        warehouse.add_columns(table, {"d; DROP": "STRING"})


def test_replace_rows_leaves_no_staging_table(warehouse):
    target = warehouse.table_id("core", "replaced")
    warehouse.run(f"CREATE TABLE `{target}` (week DATE, name STRING)")
    for _ in range(2):
        assert warehouse.replace_rows(target, [{"week": "2026-11-23", "name": "a"}], {"week": dt.date(2026, 11, 23)}) == 1
    assert warehouse.count_rows(target) == 1
    assert [t.table_id for t in warehouse.client.list_tables(warehouse.dataset_id("core"))] == ["replaced"]


def test_emulator_accepts_but_drops_a_table_expiration(warehouse):
    # On BigQuery a staging table left by a killed worker expires after 6 hours; not locally.
    staged = warehouse.table_id("raw", "staged_by_hand")
    warehouse.load_json_rows(staged, [{"week": "2026-11-23", "name": "a"}], SCHEMA, expires_after=dt.timedelta(hours=6))
    assert warehouse.client.get_table(staged).expires is None


# -- large reads: the Storage Read API, REST as the fallback (warehouse_reads.py) -----------

READ_WEEK = dt.date(2026, 11, 16)


def _read_source(warehouse, rows: int = 5000) -> str:
    table = warehouse.table_id("ml", "read_source")
    warehouse.run(
        f"CREATE TABLE `{table}` (snapshot_date DATE, customer_id STRING, tenure INT64, charges FLOAT64, senior BOOL) "
        "PARTITION BY snapshot_date"
    )
    warehouse.run(
        f"INSERT INTO `{table}` SELECT week, CONCAT(FORMAT('%04d', x), '-', CAST(week AS STRING)), x, x * 0.5, "
        "MOD(x, 5) = 0 FROM UNNEST(GENERATE_ARRAY(1, @rows)) AS x, UNNEST([@week, DATE_ADD(@week, INTERVAL 7 DAY)]) AS week",
        {"rows": rows, "week": READ_WEEK},
    )
    return table


def _read(warehouse, table, **options):
    from retention.warehouse_reads import last_read_path

    chunks = list(warehouse.read_table(
        table, columns=["customer_id", "tenure", "charges", "senior", "snapshot_date"],
        equals={"snapshot_date": READ_WEEK}, source="test read", **options,
    ))
    return chunks, last_read_path(warehouse)


def test_emulator_farm_fingerprint_is_bigquerys(warehouse):
    # BigQuery's documented answers (hash functions reference), and the shard expression on them.
    rows = warehouse.rows(
        "SELECT FARM_FINGERPRINT('1footrue') AS a, FARM_FINGERPRINT('2applefalse') AS b, FARM_FINGERPRINT('3true') AS c, "
        "FARM_FINGERPRINT('alphabet') AS d, MOD(ABS(FARM_FINGERPRINT('UserCustomerID + salt')), 100) AS e, "
        "ABS(MOD(FARM_FINGERPRINT('1footrue'), 7)) AS shard, MOD(-7, 4) AS negative_mod"
    )
    assert rows == [{"a": -1541654101129638711, "b": 2794438866806483259, "c": -4880158226897771312,
                     "d": -2427165924636348523, "e": 43, "shard": abs(-1541654101129638711 % -7), "negative_mod": -3}]


def test_large_reads_use_the_storage_read_api_and_return_what_rest_returns(warehouse):
    table = _read_source(warehouse)
    storage, path = _read(warehouse, table, chunk_rows=1200)
    assert path == "storage"
    rest, rest_path = _read(warehouse, table, chunk_rows=1200, path="rest")
    assert rest_path == "rest"
    assert [c.num_rows for c in storage] == [c.num_rows for c in rest] == [1200] * 4 + [200]
    frames = [pa.concat_tables(c).to_pandas().sort_values("customer_id", ignore_index=True) for c in (storage, rest)]
    assert frames[0].equals(frames[1]) and len(frames[0]) == 5000
    assert (frames[0]["snapshot_date"] == READ_WEEK).all()
    assert storage[0].schema.types == rest[0].schema.types


def test_shards_split_a_week_into_disjoint_parts_that_cover_it_on_both_paths(warehouse):
    from retention.warehouse_reads import Shard

    table = _read_source(warehouse)
    ids = {}
    for path in ("storage", "rest"):
        parts = [
            {value for chunk in _read(warehouse, table, chunk_rows=10_000, shard=Shard(k, 3), path=path)[0]
             for value in chunk["customer_id"].to_pylist()}
            for k in range(3)
        ]
        assert sum(map(len, parts)) == len(set().union(*parts)) == 5000
        assert all(1400 < len(part) < 1950 for part in parts), [len(p) for p in parts]
        ids[path] = parts
    assert ids["storage"] == ids["rest"]
    counts = warehouse.rows(
        f"SELECT ABS(MOD(FARM_FINGERPRINT(customer_id), 3)) AS shard, COUNT(*) AS n FROM `{table}` "
        "WHERE snapshot_date = @w GROUP BY shard ORDER BY shard", {"w": READ_WEEK})
    assert [row["n"] for row in counts] == [len(part) for part in ids["storage"]]


def test_reads_fall_back_to_rest_when_the_storage_read_api_is_off_or_unreachable(warehouse, monkeypatch, caplog):
    import dataclasses

    from retention.emulator import free_port
    from retention.warehouse import Warehouse

    table = _read_source(warehouse, rows=100)
    off = Warehouse(warehouse.client, dataclasses.replace(warehouse.settings, storage_read="off"))
    assert _read(off, table, chunk_rows=1000)[1] == "rest"
    monkeypatch.setattr("retention.warehouse_reads._SESSION_TIMEOUT_SECONDS", 1.0)
    closed = Warehouse(warehouse.client, dataclasses.replace(
        warehouse.settings, storage_emulator_host=f"127.0.0.1:{free_port()}"))
    chunks, path = _read(closed, table, chunk_rows=1000)
    assert path == "rest" and sum(c.num_rows for c in chunks) == 100
    assert "the Storage Read API refused the read session" in caplog.text
    with pytest.raises(WarehouseError, match="the Storage Read API refused test read"):
        _read(closed, table, chunk_rows=1000, path="storage")


def test_emulator_refuses_to_send_a_storage_read_batch_over_11_mb_so_its_sessions_get_short_streams(warehouse):
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud.bigquery_storage_v1 import types

    from retention.warehouse_reads import last_read_path, storage_client

    table = warehouse.table_id("ml", "wide")
    warehouse.run(f"CREATE TABLE `{table}` AS SELECT x, REPEAT('x', 200) AS padding FROM UNNEST(GENERATE_ARRAY(1, 70000)) AS x")
    client = storage_client(warehouse)
    project, dataset, name = table.split(".")
    session = client.create_read_session(parent=f"projects/{project}", max_stream_count=1, read_session=types.ReadSession(
        table=f"projects/{project}/datasets/{dataset}/tables/{name}", data_format=types.DataFormat.ARROW))
    with pytest.raises(GoogleAPICallError, match="Sent message larger than max"):  # 65,536 rows of 200 bytes
        list(client.read_rows(session.streams[0].name))
    chunks = list(warehouse.read_table(table, columns=["x", "padding"], chunk_rows=30_000, source="wide"))
    assert last_read_path(warehouse) == "storage" and [c.num_rows for c in chunks] == [30_000, 30_000, 10_000]
    assert sorted(pa.concat_tables(chunks)["x"].to_pylist()) == list(range(1, 70_001))


def test_storage_read_filters_take_typed_values_only(warehouse):
    from retention.warehouse_reads import Shard, row_restriction

    assert row_restriction({"snapshot_date": READ_WEEK, "n": 3, "ok": True}, Shard(1, 4)) == (
        "snapshot_date = DATE '2026-11-16' AND n = 3 AND ok = TRUE AND ABS(MOD(FARM_FINGERPRINT(customer_id), 4)) = 1"
    )
    with pytest.raises(WarehouseError, match="dates, integers and booleans only"):
        row_restriction({"customer_id": "x' OR TRUE OR '"}, None)
    with pytest.raises(ValueError, match="0 <= index < count"):
        Shard(3, 3)


def test_line_range_reads_use_the_storage_read_api_and_rest_reads_the_same_rows(warehouse, monkeypatch):
    table_id = warehouse.table_id("raw", "read_table_probe")
    warehouse.run(f"CREATE TABLE `{table_id}` AS SELECT n AS source_row, CONCAT('c', CAST(n AS STRING)) AS name, "
                  "DATE '2026-11-02' AS week FROM UNNEST(GENERATE_ARRAY(1, 25000)) AS n")
    over_grpc = warehouse.read_rows_where(table_id, "source_row >= 100 AND source_row < 20100", streams=3)
    assert warehouse._storage_reader() is not None
    assert over_grpc.num_rows == 20000 and sorted(over_grpc["source_row"].to_pylist())[0] == 100
    assert warehouse.read_rows_where(table_id, "FALSE").num_rows == 0

    monkeypatch.delenv("BIGQUERY_STORAGE_EMULATOR_HOST")
    rest = type(warehouse)(warehouse.client, warehouse.settings)
    over_rest = rest.read_rows_where(table_id, "source_row >= 100 AND source_row < 2100")
    assert rest._storage_reader() is None
    first = warehouse.read_rows_where(table_id, "source_row >= 100 AND source_row < 2100")
    assert over_rest.sort_by("source_row").to_pylist() == first.sort_by("source_row").to_pylist()
    assert rest.read_rows_where(table_id, "FALSE").schema.names == ["source_row", "name", "week"]
