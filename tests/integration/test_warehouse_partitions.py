"""Partition writes and partition lists, pinned on the real client and the emulator.

`test_emulator_*` shows a gap of the emulator: if it is ever fixed, that test fails and the
emulator can take the BigQuery path (`Backend.partition_decorators`).
"""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import bigquery

from retention.warehouse_partitions import BIGQUERY, EMULATOR, partition_decorator

pytestmark = pytest.mark.emulator

WEEK, EARLIER = dt.date(2026, 11, 23), dt.date(2026, 11, 16)


@pytest.fixture
def weekly(warehouse):
    table = warehouse.table_id("core", "weekly")
    warehouse.run(f"CREATE TABLE `{table}` (week DATE NOT NULL, name STRING, n INT64) PARTITION BY week")
    warehouse.run(f"INSERT INTO `{table}` (week, name, n) VALUES (DATE '{EARLIER}', 'kept', 1), (DATE '{WEEK}', 'old', 2)")
    return table


def _rows(warehouse, table):
    return warehouse.rows(f"SELECT week, name, n FROM `{table}` ORDER BY week, name")


def test_emulator_ignores_a_query_jobs_destination_partition(warehouse, weekly):
    config = bigquery.QueryJobConfig(destination=partition_decorator(weekly, WEEK), write_disposition="WRITE_TRUNCATE")
    returned = list(warehouse.client.query(f"SELECT DATE '{WEEK}' AS week, 'new' AS name, 3 AS n",
                                           job_config=config).result())
    assert [tuple(row.values()) for row in returned] == [(WEEK, "new", 3)], "the rows come back ..."
    assert _rows(warehouse, weekly) == [  # ... and the partition is left as it was
        {"week": EARLIER, "name": "kept", "n": 1}, {"week": WEEK, "name": "old", "n": 2}]


def test_the_emulator_takes_the_merge_path_and_bigquery_the_partition_job(warehouse):
    assert warehouse.backend == EMULATOR and not EMULATOR.partition_decorators and BIGQUERY.partition_decorators


def test_a_week_is_replaced_whole_and_a_rerun_gives_the_same_table(warehouse, weekly):
    # Columns in another order than the table's: the warehouse puts them in the table's order.
    select = "SELECT @week AS week, 3 AS n, name FROM UNNEST(['a', 'b']) AS name"
    for _ in range(2):
        warehouse.publish_partition(weekly, "week", WEEK, select, {"week": WEEK}, source="test publish")
        assert _rows(warehouse, weekly) == [
            {"week": EARLIER, "name": "kept", "n": 1},
            {"week": WEEK, "name": "a", "n": 3}, {"week": WEEK, "name": "b", "n": 3}]


def test_a_failed_publish_leaves_the_published_week(warehouse, weekly):
    from retention.warehouse import WarehouseError

    with pytest.raises(WarehouseError, match="test publish"):
        warehouse.publish_partition(weekly, "week", WEEK, "SELECT @week AS week, 'x' AS name, no_such_column AS n",
                                    {"week": WEEK}, source="test publish")
    assert _rows(warehouse, weekly)[-1] == {"week": WEEK, "name": "old", "n": 2}


def test_bigquery_gets_a_query_job_into_the_weeks_partition_with_write_truncate(warehouse, weekly, monkeypatch):
    """What the BigQuery path sends, read from the job the client built. The emulator cannot
    run it: asked to write only into an existing table (CREATE_NEVER), it does not know the
    decorated name, which is the gap `Backend.partition_decorators` routes around."""
    from retention.warehouse import WarehouseError

    sent = []
    query = bigquery.Client.query

    def recording(client, sql, job_config=None, **kwargs):  # records, then sends as usual
        sent.append((sql, job_config))
        return query(client, sql, job_config=job_config, **kwargs)

    monkeypatch.setattr(bigquery.Client, "query", recording)
    monkeypatch.setattr(warehouse, "backend", BIGQUERY)
    with pytest.raises(WarehouseError, match=r"Not found: Table .*weekly\$20261123"):
        warehouse.publish_partition(weekly, "week", WEEK, "SELECT @week AS week, 'new' AS name, 3 AS n",
                                    {"week": WEEK}, source="test publish")
    sql, config = sent[-1]
    assert config.destination.table_id == "weekly$20261123"
    assert config.write_disposition == "WRITE_TRUNCATE" and config.create_disposition == "CREATE_NEVER"
    assert sql.startswith("SELECT week_rows.week, week_rows.name, week_rows.n FROM (")
    assert "MERGE" not in sql and "DELETE" not in sql


def test_partitions_are_listed_from_the_metadata_after_deletes_and_merges(warehouse, weekly):
    assert warehouse.partition_dates(weekly) == [EARLIER, WEEK]
    warehouse.run(f"DELETE FROM `{weekly}` WHERE week = @week", {"week": EARLIER})
    assert warehouse.partition_dates(weekly) == [WEEK]
    later = WEEK + dt.timedelta(days=7)
    warehouse.publish_partition(weekly, "week", later, "SELECT @week AS week, 'n' AS name, 1 AS n",
                                {"week": later}, source="test publish")
    assert warehouse.partition_dates(weekly) == [WEEK, later]
    assert warehouse.latest_partition(weekly, before=later) == WEEK
    assert warehouse.latest_partition(weekly, on_or_before=later) == later
    assert warehouse.latest_partition(weekly, before=WEEK) is None
    assert warehouse.partition_dates(warehouse.table_id("core", "not_there")) == []
