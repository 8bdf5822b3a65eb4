"""Airflow Assets that connect the DAGs: producers declare them as outlets, consumers schedule on them."""

from __future__ import annotations

from airflow.sdk import Asset

CORE_CUSTOMERS = Asset(name="core.customers", uri="retention://core/customers")
CORE_CONTACTS = Asset(name="core.contacts", uri="retention://core/contacts")
