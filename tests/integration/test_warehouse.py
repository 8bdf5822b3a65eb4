"""Each emulator gap the warehouse module works around, pinned on the real client and emulator.

A test named `test_emulator_*` shows the gap itself: if the emulator ever fixes it, that test
fails and the workaround can go. The test beside it shows the workaround holds.
"""

from __future__ import annotations

import datetime as dt
import io

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


def test_large_reads_use_the_storage_read_api_and_rest_reads_the_same_rows(warehouse, monkeypatch):
    table_id = warehouse.table_id("raw", "read_table_probe")
    warehouse.run(f"CREATE TABLE `{table_id}` AS SELECT n AS source_row, CONCAT('c', CAST(n AS STRING)) AS name, "
                  "DATE '2026-11-02' AS week FROM UNNEST(GENERATE_ARRAY(1, 25000)) AS n")
    over_grpc = warehouse.read_table(table_id, "source_row >= 100 AND source_row < 20100", streams=3)
    assert warehouse._storage_reader() is not None
    assert over_grpc.num_rows == 20000 and sorted(over_grpc["source_row"].to_pylist())[0] == 100
    assert warehouse.read_table(table_id, "FALSE").num_rows == 0

    monkeypatch.delenv("BIGQUERY_STORAGE_EMULATOR_HOST")
    rest = type(warehouse)(warehouse.client, warehouse.settings)
    over_rest = rest.read_table(table_id, "source_row >= 100 AND source_row < 2100")
    assert rest._storage_reader() is None
    first = warehouse.read_table(table_id, "source_row >= 100 AND source_row < 2100")
    assert over_rest.sort_by("source_row").to_pylist() == first.sort_by("source_row").to_pylist()
    assert rest.read_table(table_id, "FALSE").schema.names == ["source_row", "name", "week"]
