"""Task callbacks every DAG sets (`operations.task_defaults`): a row in `ops.task_runs` for each
finished try (success, retry, failure) with its duration and the rows it read and wrote, and an
alert when a task fails for good. They run in the task's process after the task; they never
raise (a failed audit write is logged, the task's own outcome stands).

Rows read and written come from the task's return value, by the rules in `ROW_COUNTS` (one per
task that counts rows; others record NULL): a task's result already says what it did, so the
audit costs no extra query.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from retention.operations.alerts import map_index_of

log = logging.getLogger(__name__)


def _total(value: Any, key: str) -> int | None:
    """`value[key]` summed over a result that is a dict or a list of dicts (one per week)."""
    items = value if isinstance(value, list) else [value]
    numbers = [item.get(key) for item in items if isinstance(item, dict)]
    numbers = [sum(n.values()) if isinstance(n, dict) else n for n in numbers]
    numbers = [n for n in numbers if isinstance(n, int) and not isinstance(n, bool)]
    return sum(numbers) if numbers else None


def _read_written(read: str | None, written: str | None) -> Callable[[Any], tuple[int | None, int | None]]:
    return lambda value: (_total(value, read) if read else None, _total(value, written) if written else None)


ROW_COUNTS: dict[str, Callable[[Any], tuple[int | None, int | None]]] = {
    # telco_ingest: a landed file's lines are read and written to raw; publish writes core.
    "telco_ingest.land_snapshot": _read_written("rows", "rows"),
    "telco_ingest.land_contacts": _read_written("rows", "rows"),
    "telco_ingest.publish_customers": _read_written(None, "rows"),
    "telco_ingest.publish_contacts": _read_written(None, "rows"),
    # churn_weekly: features per week; every scored row staged, then published.
    "churn_weekly.build_features": _read_written(None, "rows"),
    "churn_weekly.score_customers": _read_written("rows", "rows"),
    "churn_weekly.publish_scores": _read_written(None, "customers"),
    # places_refresh: places read from a site and landed, then published.
    "places_refresh.land_kt_stores": _read_written("rows", "rows"),
    "places_refresh.land_learning_centers": _read_written("rows", "rows"),
    "places_refresh.publish_kt_stores": _read_written(None, "rows"),
    "places_refresh.publish_learning_centers": _read_written(None, "rows"),
    # senior_outreach: seniors considered and decisions recorded; messages queued, sent, checked.
    "senior_outreach.decide_audience": _read_written("newly_at_risk_seniors", "decided_now"),
    "senior_outreach.queue_messages": _read_written(None, "inserted"),
    "senior_outreach.send_messages": _read_written(None, "sent"),
    "senior_outreach.check_delivery": _read_written("checked", None),
    # consent_notices: notices queued (found owed), then sent.
    "consent_notices.queue_notices": _read_written(None, "queued"),
    "consent_notices.send_notices": _read_written(None, "sent"),
}


def task_succeeded(context: dict) -> None:
    _record(context, "success")


def task_retried(context: dict) -> None:
    _record(context, "up_for_retry")


def task_failed(context: dict) -> None:
    """Record the failed try and raise one alert (the task will not be retried again)."""
    try:  # the alert first: the callbacks' time is short (see operations.audit)
        from retention.operations.alerts import Alert, raise_alert

        ti = context["ti"]
        error = context.get("exception")
        raise_alert(Alert(
            kind="task_failed", dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
            try_number=ti.try_number, map_index=map_index_of(ti),
            message=f"{ti.dag_id}.{ti.task_id} failed for good after try {ti.try_number} of run {ti.run_id}: "
                    f"{type(error).__name__ if error else 'error'}: {str(error)[:1000] if error else ''}\n"
                    "What to do: the DAG's docs in the Airflow UI ('When it fails'); the task's log has the details.",
        ))
    except Exception:  # noqa: BLE001 - the alert path must never hide the task's own failure
        log.exception("the failure alert of %s could not be raised", context.get("ti"))
    _record(context, "failed")


def _record(context: dict, state: str) -> None:
    try:
        from retention.operations.audit import AuditWriter

        row = task_run_row(context, state)
        writer = AuditWriter.connect()
        if writer is not None:
            key = "|".join(str(row[k]) for k in ("dag_id", "run_id", "task_id", "map_index", "try_number", "state"))
            writer.insert("task_runs", row, row_id=key)
    except Exception:  # noqa: BLE001 - auditing must never change the task's outcome
        log.exception("the audit row of %s (%s) could not be written to ops.task_runs", context.get("ti"), state)


def task_run_row(context: dict, state: str) -> dict:
    """The `ops.task_runs` row for the try `context` describes."""
    ti, run = context["ti"], context.get("dag_run")
    ended = dt.datetime.now(dt.UTC)
    started = getattr(ti, "start_date", None)
    read = written = None
    rule = ROW_COUNTS.get(f"{ti.dag_id}.{ti.task_id}")
    if rule is not None and state == "success":
        try:
            read, written = rule(ti.xcom_pull(task_ids=ti.task_id, key="return_value"))
        except Exception:  # noqa: BLE001 - a result without counts is recorded without them
            log.warning("no row counts in the result of %s.%s", ti.dag_id, ti.task_id)
    error = context.get("exception")
    run_type = getattr(run, "run_type", None)

    def stamp(moment: Any) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "dag_id": ti.dag_id, "run_id": ti.run_id, "run_type": getattr(run_type, "value", run_type),
        "logical_date": stamp(getattr(run, "logical_date", None)), "run_after": stamp(getattr(run, "run_after", None)),
        "task_id": ti.task_id, "map_index": map_index_of(ti), "try_number": int(ti.try_number), "state": state,
        "started_at": stamp(started), "ended_at": ended.isoformat(),
        "duration_seconds": (ended - started).total_seconds() if started else None,
        "rows_read": read, "rows_written": written,
        "error": f"{type(error).__name__}: {error}"[:1000] if error and state != "success" else None,
        "recorded_at": ended.isoformat(),
    }
