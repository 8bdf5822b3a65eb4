"""Alerts: one message to the people on call when a task fails for good or a run misses its
deadline, through the channel the Airflow connection `retention_alerts` (or the id in
`RETENTION_ALERT_CONN_ID`) names, and one row in `ops.alerts` either way.

- connection type `smtp` (or `email`): an email through Airflow's SMTP provider (`SmtpHook`:
  host, port, login, password of the connection; extra `from_email`, and `to`: one address or
  a comma-separated list);
- connection type `http` / `https` (or any with a host): a JSON POST to the webhook
  (`https://host:port/path` from the connection; a password is sent as a bearer token; extra
  `headers` added) that Slack, Teams, Opsgenie or PagerDuty integrations take;
- no connection: alerts are off. Said once per process in the log, and recorded in
  `ops.alerts` with channel `off`, so nothing is lost.

The alert id is the DAG, run, task, try and kind: a callback that runs twice records (and
sends) one alert. Sending never raises: a channel that is down is recorded as not delivered.

Besides failures, a task that succeeds but leaves something an operator must know about raises
a warning (`warn_operators`, kinds in `WARNINGS`): the run stays green in Airflow, the alert
goes out the same way, and `ops.run_audit` shows the run as `success_with_warnings`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

ALERT_CONN_ENV = "RETENTION_ALERT_CONN_ID"
DEFAULT_ALERT_CONN_ID = "retention_alerts"
WEBHOOK_TIMEOUT_SECONDS = 10
_off_announced = False


WARNINGS = {
    "sending_unconfirmed": "left SMS in sending, waiting for their lease",
    "consent_notice_overdue": "consent notices unanswered at their alert day (Network Act art. 50)",
}
"""Alert kinds that are warnings (the task succeeded), and what each says in the subject."""


@dataclass(frozen=True)
class Alert:
    kind: str
    """`task_failed`, `deadline_missed`, or a warning of `WARNINGS`."""
    dag_id: str
    run_id: str | None
    task_id: str | None
    try_number: int | None
    message: str
    map_index: int = -1

    @property
    def alert_id(self) -> str:
        key = "|".join(str(part) for part in (self.kind, self.dag_id, self.run_id, self.task_id, self.map_index,
                                               self.try_number))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def subject(self) -> str:
        where = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        what = {"task_failed": "failed", "deadline_missed": "missed its deadline"}.get(self.kind) or \
            f"warning: {WARNINGS.get(self.kind, self.kind)}"
        return f"[retention] {where} {what} ({self.run_id})"


def raise_alert(alert: Alert) -> dict:
    """Send `alert` through the configured channel, then record it in `ops.alerts`.

    The alert goes out first: a warehouse that is down or refuses the write must not swallow it.
    A callback that runs twice for the same alert is recognised by its id and sends once
    (looked up with a short deadline; when the lookup itself fails, sending twice beats not at
    all). Every BigQuery call here is bounded (`AuditWriter`), so an unreachable warehouse
    costs seconds, not the task's callback time."""
    from retention.operations.audit import AuditWriter

    writer = AuditWriter.connect()
    if writer is not None and writer.exists("alerts", "alert_id", alert.alert_id):
        log.info("alert %s was already raised: not sent again", alert.alert_id)
        return {"alert_id": alert.alert_id, "already_raised": True}
    channel, delivered, error = send(alert)
    row = {**asdict(alert), "alert_id": alert.alert_id, "channel": channel, "delivered": delivered,
           "delivery_error": error, "raised_at": dt.datetime.now(dt.UTC).isoformat()}
    row.pop("map_index", None)
    if writer is not None:
        writer.insert("alerts", row, row_id=alert.alert_id)
    return {"alert_id": alert.alert_id, "channel": channel, "delivered": delivered}


def warn_operators(context: dict, kind: str, message: str) -> dict:
    """Raise the warning `kind` (one of `WARNINGS`) for the task instance of `context`: once per
    task try, like a failure's alert; the task's own outcome is not changed."""
    if kind not in WARNINGS:
        raise ValueError(f"unknown warning kind {kind!r}: add it to retention.operations.alerts.WARNINGS")
    ti = context["ti"]
    return raise_alert(Alert(kind=kind, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
                             try_number=ti.try_number, map_index=map_index_of(ti), message=message))


def map_index_of(ti: Any) -> int:
    """A task instance's map index (-1 when the task is not mapped)."""
    value = getattr(ti, "map_index", None)
    return -1 if value is None else int(value)


def send(alert: Alert) -> tuple[str, bool, str | None]:
    """(channel, delivered, error) for `alert` sent through the configured connection."""
    global _off_announced
    from retention.connections import optional_connection

    conn_id = os.environ.get(ALERT_CONN_ENV) or DEFAULT_ALERT_CONN_ID
    connection = optional_connection(conn_id)
    if connection is None:
        if not _off_announced:
            log.warning("alerts are off: no Airflow connection %r (README, 'Operations'); recorded in ops.alerts only",
                        conn_id)
            _off_announced = True
        log.error("ALERT (not sent, alerts off): %s: %s", alert.subject, alert.message)
        return "off", False, None
    kind = (connection.conn_type or "").lower()
    try:
        if kind in ("smtp", "email"):
            _email(alert, conn_id, connection)
            return "email", True, None
        _webhook(alert, connection)
        return "webhook", True, None
    except Exception as error:  # noqa: BLE001 - an alert channel that is down must not fail the task
        log.error("alert %s could not be sent through %r (%s): %s", alert.subject, conn_id, kind or "webhook",
                  type(error).__name__)
        return ("email" if kind in ("smtp", "email") else "webhook"), False, f"{type(error).__name__}: {error}"[:500]


def _email(alert: Alert, conn_id: str, connection: Any) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    extra = connection.extra_dejson or {}
    recipients = [address.strip() for address in str(extra.get("to", "")).split(",") if address.strip()]
    if not recipients:
        raise ValueError(f"connection {conn_id!r} has no `to` in its extra: name who receives the alerts")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=recipients, subject=alert.subject, html_content=f"<pre>{alert.message}</pre>",
                             from_email=extra.get("from_email"))


def _webhook(alert: Alert, connection: Any) -> None:
    import requests

    if not connection.host:
        raise ValueError("the alert connection has no host: give the webhook's URL")
    url = webhook_url(connection)
    extra = connection.extra_dejson or {}
    headers = {"Content-Type": "application/json", **extra.get("headers", {})}
    if connection.password:
        headers["Authorization"] = f"Bearer {connection.password}"
    body = {**asdict(alert), "alert_id": alert.alert_id, "text": f"{alert.subject}\n{alert.message}"}
    response = requests.post(url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers,
                             timeout=WEBHOOK_TIMEOUT_SECONDS)
    response.raise_for_status()


def webhook_url(connection: Any) -> str:
    """The connection's host as a URL: `https://` unless the host (or schema) says otherwise,
    with the connection's port when the host names none."""
    from urllib.parse import urlsplit, urlunsplit

    url = connection.host if "://" in connection.host else f"{connection.schema or 'https'}://{connection.host}"
    parts = urlsplit(url)
    if connection.port and not parts.port:
        parts = parts._replace(netloc=f"{parts.netloc}:{connection.port}")
    return urlunsplit(parts)
