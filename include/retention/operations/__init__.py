"""What operations needs from every DAG: an alert when a task fails for good or a run misses
its deadline (`alerts`, `deadlines`), a row per task try in `ops.task_runs` read as one row
per run in `ops.run_audit` (`callbacks`), and the pools that cap scraping and SMS (`POOLS`).

Every DAG sets `default_args=task_defaults(owner=...)`: owner, retries, retry delay and the
callbacks. Callbacks never fail a task: a warehouse or alert channel that is down is logged.
"""

from __future__ import annotations

import os
from datetime import timedelta

POOLS = {
    "places_scraping": (1, "Browsers scraping the places sites: one at a time, polite to the sites"),
    "sms_sending": (1, "Senders of the SMS outbox: one at a time, within the provider's rate"),
}
"""Airflow pools (name -> slots, description): created by `make demo`, `make airflow-ui`, the
compose stack's init and the tests; in production by the deployment (README, "Deployment")."""

OPS_DDL = ("ops/task_runs/create.sql", "ops/alerts/create.sql", "ops/run_audit/view.sql")
"""Created with the weekly ingest's tables (and by the callbacks, for a table they write first)."""


def task_defaults(*, owner: str) -> dict:
    """`default_args` of every DAG: owner, two retries, the retry delay, and the callbacks."""
    from retention.operations.callbacks import task_failed, task_retried, task_succeeded

    return {
        "owner": owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("RETENTION_RETRY_DELAY_SECONDS", "300"))),
        "on_success_callback": task_succeeded,
        "on_retry_callback": task_retried,
        "on_failure_callback": task_failed,
    }
