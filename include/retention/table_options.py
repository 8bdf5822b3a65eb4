"""Partition options of the large tables: a required partition filter, and a retention for raw files.

`require_partition_filter` makes BigQuery refuse a query that does not filter the table's
partition column, so a read that lost its filter fails instead of scanning years of weeks.
It is set on the tables that every reader filters with a constant or parameter (checked for the
SQL files by tests/unit/test_sql_pruning.py): `core.contacts` and `ml.churn_scores`.
`core.customers` and the raw snapshot files are read through `core.customer_presence`, whose
readers join it on computed weeks (campaign_results' follow-up weeks): they keep the cap
(`maximum_bytes_billed`) as their guard instead.

Raw layers keep every file as received, for re-validation and backfills, but not for ever:
their partitions expire after `RETENTION_RAW_PARTITION_EXPIRATION_DAYS` (default 400: a year of
weekly history to backfill or re-label from, plus a month; `0` keeps them for ever). The raw
contacts hold phone numbers, so keeping them no longer than needed is also the law's (PIPA)
"retain only as long as necessary": they expire after at most 90 days, whatever the setting
(the numbers themselves live on in contact.phone_numbers, readable by outreach only). Once a week's raw file has expired, that week can no longer
be re-published or its presence re-read: rebuild marts or labels only for younger weeks.

Both are applied through the API on every run of the DDL tasks, so an existing warehouse gets
them without a migration (`apply` changes a table only when its options differ). The emulator
stores both and enforces neither (measured).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

EXPIRATION_VARIABLE = "RETENTION_RAW_PARTITION_EXPIRATION_DAYS"
DEFAULT_RAW_EXPIRATION_DAYS = 400
REQUIRE_PARTITION_FILTER = (("core", "contacts"), ("ml", "churn_scores"))
RAW_PARTITIONED = (("raw", "telco_customer_snapshots"), ("raw", "contacts"), ("raw", "place_crawls"),
                   ("raw", "places_prepared"))
# The raw contacts files hold phone numbers: kept at most this long whatever the raw setting.
CONTACTS_RAW_EXPIRATION_DAYS = 90
_DAY_MS = 24 * 3600 * 1000


def raw_expiration_days() -> int | None:
    """Days a raw partition is kept, or None (for ever)."""
    value = os.environ.get(EXPIRATION_VARIABLE, "").strip()
    if not value:
        return DEFAULT_RAW_EXPIRATION_DAYS
    if not value.isdigit():
        raise RuntimeError(f"{EXPIRATION_VARIABLE}={value!r} is not a whole number of days: give e.g. 400, or 0 "
                           "to keep raw files for ever")
    return int(value) or None


def apply(warehouse: Warehouse, layer: str, table: str) -> bool:
    """Set the table's partition options if they differ; True when it changed something."""
    table_id = warehouse.table_id(layer, table)
    if not warehouse.table_exists(table_id):
        return False
    current = warehouse.client.get_table(table_id)
    partitioning = current.time_partitioning
    if partitioning is None:
        return False
    fields = []
    # The emulator keeps the flag inside timePartitioning (the older place), BigQuery on the table.
    with warnings.catch_warnings():  # reading the older place is deprecated, and is where the emulator keeps it
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        required = current.require_partition_filter or partitioning.require_partition_filter
    if (layer, table) in REQUIRE_PARTITION_FILTER and not required:
        current.require_partition_filter = True
        fields.append("require_partition_filter")
    if layer == "raw":
        days = raw_expiration_days()
        if table == "contacts":
            days = min(days or CONTACTS_RAW_EXPIRATION_DAYS, CONTACTS_RAW_EXPIRATION_DAYS)
        wanted = days * _DAY_MS if days else None
        if partitioning.expiration_ms != wanted:
            partitioning.expiration_ms = wanted
            current.time_partitioning = partitioning
            fields.append("time_partitioning")
    if fields:
        warehouse.client.update_table(current, fields)
        log.info("%s: set %s", table_id, ", ".join(fields))
    return bool(fields)


def apply_all(warehouse: Warehouse, layers: tuple[str, ...] = ("raw", "core", "ml")) -> list[str]:
    """Apply the options to every listed table of `layers` that exists; returns those changed."""
    return [f"{layer}.{table}" for layer, table in (*REQUIRE_PARTITION_FILTER, *RAW_PARTITIONED)
            if layer in layers and apply(warehouse, layer, table)]
