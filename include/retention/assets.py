"""Airflow Assets that connect the DAGs: producers declare them as outlets, consumers schedule on them."""

from __future__ import annotations

from airflow.sdk import Asset

CORE_CUSTOMERS = Asset(name="core.customers", uri="retention://core/customers")
CORE_CONTACTS = Asset(name="core.contacts", uri="retention://core/contacts")
CHURN_SCORES = Asset(name="ml.churn_scores", uri="retention://ml/churn_scores")
CORE_PLACES = Asset(name="core.places", uri="retention://core/places")

# Each event carries the week it is about (extra {"snapshot_date": "YYYY-MM-DD"}): a run
# triggered by an asset has no logical date of its own, and a backfill publishes old weeks.
WEEK_EXTRA = "snapshot_date"
