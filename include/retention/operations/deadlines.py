"""The weekly SMS must go out before noon (Seoul): an Airflow 3 deadline alert on the
`senior_outreach` runs that the week's scores trigger.

`SmsBeforeNoonSeoul` is a custom deadline reference (registered by the plugin in
`plugins/retention_operations.py`, as Airflow requires for custom references): for a run
triggered by the scores Asset, noon KST of the day it was queued; for any other run (the hourly
sending runs, manual runs, backfills) no deadline. When a run has not finished by then, the
scheduler queues `deadline_missed` in the triggerer, which raises one alert (`alerts`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import BaseDeadlineReference, DeadlineAlert

log = logging.getLogger(__name__)

SEOUL = dt.timezone(dt.timedelta(hours=9))
SEND_BY = dt.time(12, 0)


def send_by(run_type: str, queued_at: dt.datetime | None) -> dt.datetime | None:
    """Noon KST of the day an asset-triggered run was queued (UTC), or None: no deadline."""
    if run_type != "asset_triggered" or queued_at is None:
        return None
    day = queued_at.astimezone(SEOUL).date()
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
        return send_by(str(run_type), run.queued_at or run.run_after)


async def deadline_missed(context: dict | None = None, **kwargs: Any) -> None:
    """Deadline callback (runs in the triggerer): one alert for the run that is late."""
    from retention.operations.alerts import Alert, raise_alert

    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    dag_id = run.get("dag_id") or kwargs.get("dag_id") or "senior_outreach"
    run_id = run.get("dag_run_id") or run.get("run_id")
    raise_alert(Alert(
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
    return DeadlineAlert(
        reference=SmsBeforeNoonSeoul(), interval=dt.timedelta(0),
        callback=AsyncCallback(deadline_missed), name="weekly SMS before noon KST",
    )
