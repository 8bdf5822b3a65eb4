"""The platform's calendar: which week a DAG run is about."""

from __future__ import annotations

import datetime as dt

import pendulum

TIMEZONE = "Asia/Seoul"


def snapshot_date(logical_date: dt.datetime) -> dt.date:
    """The snapshot a run handles is dated by the Monday (KST) of its logical date's week."""
    local = pendulum.instance(logical_date).in_timezone(TIMEZONE).date()
    return local - dt.timedelta(days=local.weekday())


def run_snapshot_date(context: dict) -> dt.date:
    """The snapshot date of the running DAG run. Manual runs in Airflow 3 may have no logical
    date; they handle the week they were triggered in."""
    logical = context.get("logical_date") or context["dag_run"].run_after
    return snapshot_date(logical)
