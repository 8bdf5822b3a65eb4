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


def triggered_snapshot_dates(context: dict) -> list[dt.date]:
    """The weeks a run of an asset-scheduled DAG handles, oldest first: the run's conf
    `snapshot_date` if given (manual runs, re-runs of one week), else every week named by the
    asset events that triggered it (the scheduler folds the events that arrive while a run is
    going, for example a backfill's, into the next run), else the run's own week
    (`airflow dags test DAG YYYY-MM-DD`)."""
    from retention.assets import WEEK_EXTRA

    conf = getattr(context.get("dag_run"), "conf", None) or {}
    if conf.get(WEEK_EXTRA):
        return [dt.date.fromisoformat(str(conf[WEEK_EXTRA]))]
    weeks = sorted({
        dt.date.fromisoformat(event.extra[WEEK_EXTRA])
        for events in (context.get("triggering_asset_events") or {}).values()
        for event in events
        if (event.extra or {}).get(WEEK_EXTRA)
    })
    return weeks or [run_snapshot_date(context)]


def crawl_month(logical_date: dt.datetime) -> dt.date:
    """A monthly crawl is dated by the first day of its logical date's month (KST)."""
    return pendulum.instance(logical_date).in_timezone(TIMEZONE).date().replace(day=1)


def run_crawl_month(context: dict) -> dt.date:
    """The crawl month of the running DAG run (manual runs: the month they were triggered in)."""
    logical = context.get("logical_date") or context["dag_run"].run_after
    return crawl_month(logical)
