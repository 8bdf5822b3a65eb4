"""The weekly SMS must go out before noon (Seoul): an Airflow 3 deadline alert on the
`senior_outreach` runs that the week's scores trigger.

`SmsBeforeNoonSeoul` is a custom deadline reference (registered by the plugin in
`plugins/retention_operations.py`, as Airflow requires for custom references): for a run
triggered by the scores Asset, noon KST of the day it was queued; for any other run (the hourly
sending runs, manual runs, backfills) no deadline. When a run has not finished by then, the
scheduler queues `deadline_missed` in the triggerer, which raises one alert (`alerts`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import BaseDeadlineReference, DeadlineAlert

log = logging.getLogger(__name__)

SEOUL = dt.timezone(dt.timedelta(hours=9))
SEND_BY = dt.time(12, 0)


def send_by(run_type: str, queued_at: dt.datetime | None, scored_week: str | None) -> dt.datetime | None:
    """Noon KST of the day an asset-triggered run was queued (UTC), when the scores that
    triggered it are this week's (`scored_week`, the Monday named by the newest scores event);
    otherwise None: no deadline. A backfill's old weeks, replayed after noon, are not late."""
    if run_type != "asset_triggered" or queued_at is None or not scored_week:
        return None
    day = queued_at.astimezone(SEOUL).date()
    if dt.date.fromisoformat(scored_week) != day - dt.timedelta(days=day.weekday()):
        return None
    return dt.datetime.combine(day, SEND_BY, SEOUL).astimezone(dt.UTC)


class SmsBeforeNoonSeoul(BaseDeadlineReference):
    """Noon (Asia/Seoul) of the day the scores triggered the run; nothing for other runs."""

    required_kwargs = {"dag_id", "run_id"}

    def _evaluate_with(self, *, session: Any, **kwargs: Any) -> dt.datetime | None:
        from airflow.models import DagRun

        run = session.query(DagRun).filter(DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"]).one_or_none()
        if run is None:
            return None
        run_type = getattr(run.run_type, "value", run.run_type)
        return send_by(str(run_type), run.queued_at or run.run_after, _newest_scored_week(session))


def _newest_scored_week(session: Any) -> str | None:
    """The week named by the newest `ml.churn_scores` event. Deadlines are evaluated while the
    run is created, before Airflow attaches the events that triggered it: the newest event is
    the one that did."""
    from airflow.models.asset import AssetEvent, AssetModel

    from retention.assets import CHURN_SCORES, WEEK_EXTRA

    event = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
             .filter(AssetModel.name == CHURN_SCORES.name).order_by(AssetEvent.timestamp.desc()).first())
    return (event.extra or {}).get(WEEK_EXTRA) if event is not None else None


async def deadline_missed(context: dict | None = None, **kwargs: Any) -> None:
    """Deadline callback (runs in the triggerer): one alert for the run that is late."""
    from retention.operations.alerts import Alert, raise_alert

    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    dag_id = run.get("dag_id") or kwargs.get("dag_id") or "senior_outreach"
    run_id = run.get("dag_run_id") or run.get("run_id")
    # Off the triggerer's event loop: the alert does network I/O (bounded, see operations.audit).
    await asyncio.to_thread(raise_alert, Alert(
        kind="deadline_missed", dag_id=dag_id, run_id=run_id, task_id=None, try_number=None,
        message=f"{dag_id} run {run_id} had not finished by {deadline.get('deadline_time')} (noon KST): the week's "
                "SMS are late. Check the run in the Airflow UI: a failed or slow send_messages, or scores published "
                "late by churn_weekly. Messages still queued go out with the next hourly run, never after 21:00.",
    ))


DEADLINES_ENV = "RETENTION_DEADLINE_ALERTS"


def sms_deadline() -> DeadlineAlert | None:
    """The deadline of `senior_outreach`, unless `RETENTION_DEADLINE_ALERTS=off`.

    Local runs through `airflow dags test` / `dag.test()` (the demo, the tests) turn it off:
    in Airflow 3.3.2, `dag.test()` keeps a DAG's deadline alerts as dictionaries instead of the
    ids the scheduler stores, and the run fails when it succeeds (`DeadlineAlertModel.get_by_id`:
    "'dict' object has no attribute 'hex'"). Under a scheduler (`make airflow-ui`, the compose
    stack, Composer, Astronomer) it is on."""
    if os.environ.get(DEADLINES_ENV, "on").strip().lower() == "off":
        return None
    if not _plugin_registered():
        # Without it the scheduler could not decode the reference when it creates a run (and an
        # asset-triggered run would stop the scheduler): no deadline, loudly.
        log.error("the deadline reference is not registered: put plugins/retention_operations.py in the plugins "
                  "folder (README, 'Deployment'); senior_outreach runs without its noon deadline")
        return None
    return DeadlineAlert(
        reference=SmsBeforeNoonSeoul(), interval=dt.timedelta(0),
        callback=AsyncCallback(deadline_missed), name="weekly SMS before noon KST",
    )


def _plugin_registered() -> bool:
    from airflow import plugins_manager
    from airflow._shared.module_loading import qualname

    try:
        return qualname(SmsBeforeNoonSeoul) in plugins_manager.get_deadline_references_plugins()
    except Exception:  # noqa: BLE001 - a plugins manager that cannot say counts as not registered
        log.exception("could not list the deadline references registered by plugins")
        return False
