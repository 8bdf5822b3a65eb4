"""Large tables require a partition filter; raw partitions expire after the configured days."""

from __future__ import annotations

import pytest

from retention import table_options

pytestmark = pytest.mark.emulator


def _partitioning(warehouse, layer, table):
    return warehouse.client.get_table(warehouse.table_id(layer, table)).time_partitioning


def test_the_ddl_tasks_set_the_filter_and_the_raw_expiration_and_rerun_changes_nothing(warehouse, monkeypatch):
    from retention.ingest.customers import ensure_tables
    from retention.scoring.score import ensure_scores_table

    monkeypatch.delenv(table_options.EXPIRATION_VARIABLE, raising=False)
    ensure_tables(warehouse)
    ensure_scores_table(warehouse)
    for layer, table in table_options.REQUIRE_PARTITION_FILTER:
        assert _partitioning(warehouse, layer, table).require_partition_filter, table
    assert not _partitioning(warehouse, "core", "customers").require_partition_filter
    assert _partitioning(warehouse, "raw", "telco_customer_snapshots").expiration_ms == 400 * 24 * 3600 * 1000
    # The contacts files hold phone numbers: never kept longer than 90 days, whatever the setting.
    assert _partitioning(warehouse, "raw", "contacts").expiration_ms == 90 * 24 * 3600 * 1000
    assert _partitioning(warehouse, "core", "contacts").expiration_ms is None, "published weeks do not expire"
    assert table_options.apply_all(warehouse) == []


def test_an_existing_warehouse_gets_a_changed_retention_and_zero_keeps_raw_files(warehouse, monkeypatch):
    from retention.ingest.customers import ensure_tables

    ensure_tables(warehouse)
    monkeypatch.setenv(table_options.EXPIRATION_VARIABLE, "30")
    assert table_options.apply_all(warehouse, ("raw",)) == ["raw.telco_customer_snapshots", "raw.contacts"]
    assert _partitioning(warehouse, "raw", "contacts").expiration_ms == 30 * 24 * 3600 * 1000
    monkeypatch.setenv(table_options.EXPIRATION_VARIABLE, "0")
    table_options.apply_all(warehouse, ("raw",))
    assert _partitioning(warehouse, "raw", "telco_customer_snapshots").expiration_ms is None
    assert _partitioning(warehouse, "raw", "contacts").expiration_ms == 90 * 24 * 3600 * 1000, "phone numbers"
    monkeypatch.setenv(table_options.EXPIRATION_VARIABLE, "a year")
    with pytest.raises(RuntimeError, match="RETENTION_RAW_PARTITION_EXPIRATION_DAYS='a year' is not a whole number"):
        table_options.apply_all(warehouse, ("raw",))
