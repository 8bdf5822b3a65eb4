"""
### senior_outreach: one lawful SMS to each newly at-risk senior, with a holdout group

**Runs** when `churn_weekly` publishes a week's scores (Asset `ml.churn_scores`) and handles
that week (the event's `snapshot_date`; a manual run takes `{"snapshot_date": "YYYY-MM-DD"}`);
and every hour from 08:00 to 20:00 KST to send what waited for the send window and to follow
deliveries (those runs queue nothing; a manual run does the same with `{"send_only": true}`).

**Steps**
1. `decide_audience`: every customer aged 65+ newly at risk in the week, in
   `outreach.campaign_audience`: excluded with the first rule that applies (no SMS consent,
   consent older than `RETENTION_OUTREACH_CONSENT_VALID_DAYS`, opted out, not a Korean mobile
   number, no home dong, already in the campaign, messaged within
   `RETENTION_OUTREACH_COOLDOWN_DAYS`) or put in a group: `holdout` (a deterministic
   `RETENTION_OUTREACH_HOLDOUT_SHARE`, never messaged: the control) or `message`.
2. `queue_messages`: for the message group, the nearest 디지털 배움터 venue and KT plaza to the
   home dong, the Korean SMS from `include/retention/outreach/templates/senior_offer_ko.txt`,
   inserted once into the outbox `outreach.messages` (keyed by campaign and customer); in the
   quiet hours (21:00-08:00 KST) without night consent, `not_before` is the next 08:00.
3. `send_messages`: reconciles anything left in `sending` with the provider first, withholds
   anyone who opted out since, then sends what is due: Twilio when the connection
   `twilio_default` exists, else the local sink (simulated). At most one message per customer
   per campaign, whatever is re-run.
4. `check_delivery`: the provider's status of every sent message: delivered, undelivered or failed.
5. `refresh_campaign_results`: the table `marts.campaign_results`, which compares the churn of
   the message and holdout groups, with this run's audience and deliveries.

**Re-running** a week changes nothing: decisions and messages are recorded once (insert-only),
and a message is sent only by the run that holds its claim (a lease: two runs at once never send
the same message). A backfill run decides and queues but never sends (the hourly runs do); a
week older than `RETENTION_OUTREACH_MAX_WEEK_AGE_DAYS` is recorded as `week_too_old`, nobody
messaged.

**When it fails** (nothing is ever sent twice; the outbox says where each message stands)
- `queue_messages`, *RETENTION_SMS_OPT_OUT_NUMBER is not set* / *ComplianceError* / *TemplateError*:
  set the number, or fix the template the message names; *Clear*.
- `queue_messages`, *no published ... in core.places*: run `places_refresh`, *Clear*.
- any task, *RETENTION_OUTREACH_SIMULATED_NOW is set but SMS go out through twilio* (or the
  placeholder opt-out number with Twilio): not retried; unset the variable (or set the real
  number) in the workers' environment, *Clear*.
- `send_messages`, *the provider is not taking messages now*: retried by Airflow; messages stay
  queued (or in `sending`, reconciled by the next attempt). Persisting: check Twilio's status page.
- `send_messages` green with a `sending_unconfirmed` warning (`ops.alerts`, the log, the result's
  `waiting_for_lease`): messages wait in `sending` for their lease (a timeout Twilio did not
  answer, or a sender that stopped); the warning says when the first send run will reconcile
  them. Nothing to do unless they are still in `sending` after that run.
- `send_messages`, *Fix the sender in the Airflow connection*: credentials, sender or region are
  wrong (not retried). Fix connection `twilio_default`, *Clear*: everything is still queued.
- `check_delivery`: the provider's message; *Clear* (the next hourly run checks again anyway).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from retention.assets import CHURN_SCORES
from retention.operations import task_defaults
from retention.operations.deadlines import sms_deadline
from retention.outreach.quiet_hours import SEND_RUNS_CRON


def _is_backfill() -> bool:
    """Backfill runs do not count against max_active_runs and may run beside the hourly runs:
    they record the audience and queue, and leave sending and delivery to the regular runs."""
    run = get_current_context()["dag_run"]
    return getattr(run.run_type, "value", run.run_type) == "backfill"


def _transport_and_clock():
    """The SMS transport and the outreach clock; settings that contradict each other (a
    simulated clock or the placeholder opt-out number with Twilio) fail the task at once: no
    retry can fix them."""
    from retention.outreach.transport_setup import transport_and_clock
    from retention.task_errors import fail_fast_on_bad_data

    with fail_fast_on_bad_data():
        return transport_and_clock()


def _weeks() -> list:
    """The weeks this run queues: none for the hourly sending runs and `{"send_only": true}`."""
    from retention.schedule import triggered_snapshot_dates

    context = get_current_context()
    run = context["dag_run"]
    if (run.conf or {}).get("send_only") or getattr(run.run_type, "value", run.run_type) == "scheduled":
        return []
    return triggered_snapshot_dates(context)


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SEND_RUNS_CRON, timezone="Asia/Seoul"), assets=[CHURN_SCORES]
    ),
    start_date=pendulum.datetime(2026, 1, 5, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=task_defaults(owner="marketing-engineering"),
    deadline=sms_deadline(),
    tags=["outreach", "sms", "weekly"],
)
def senior_outreach():
    @task
    def decide_audience() -> list[dict]:
        from retention.outreach.audience import AudienceSettings
        from retention.outreach.campaign import QueueSettings, decide_audience, ensure_tables
        from retention.warehouse import Warehouse

        warehouse = Warehouse.connect(role="outreach")
        settings, queue_settings = AudienceSettings.from_env(), QueueSettings.from_env()
        ensure_tables(warehouse)
        clock = _transport_and_clock()[1]
        return [decide_audience(warehouse, week, settings, now=clock(), queue_settings=queue_settings)
                for week in _weeks()]

    @task
    def queue_messages(audiences: list[dict]) -> list[dict]:
        import datetime as dt

        from retention.outreach.audience import AudienceSettings
        from retention.outreach.campaign import QueueSettings, published_places, queue_messages
        from retention.outreach.message import MessageSettings
        from retention.places.geocode import Gazetteer
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        if not audiences:
            return []
        warehouse, clock = Warehouse.connect(role="outreach"), _transport_and_clock()[1]
        campaign = AudienceSettings.from_env().campaign_id
        queued = []
        with fail_fast_on_bad_data(ValueError, LookupError):
            message_settings, queue_settings = MessageSettings.from_env(), QueueSettings.from_env()
            for audience in audiences:
                week = dt.date.fromisoformat(audience["snapshot_date"])
                queued.append(queue_messages(
                    warehouse, week, campaign_id=campaign, now=clock(),
                    run_id=get_current_context()["run_id"], message_settings=message_settings,
                    queue_settings=queue_settings, places=published_places(warehouse, week),
                    dong_centroid=Gazetteer.bundled().dong_centroid,
                ))
        return queued

    @task(pool="sms_sending")
    def send_messages(queued: list[dict]) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from retention.operations.alerts import warn_operators
        from retention.outreach.audience import AudienceSettings
        from retention.outreach.campaign import ensure_tables
        from retention.outreach.outbox import OutboxSettings, SendingStopped, lease_warning, send_pending
        from retention.warehouse import Warehouse

        if _is_backfill():
            return {"skipped": "a backfill run queues only; the hourly runs send"}
        warehouse = Warehouse.connect(role="outreach")
        ensure_tables(warehouse)
        transport, clock = _transport_and_clock()
        try:
            summary = send_pending(warehouse, transport, AudienceSettings.from_env().campaign_id, clock=clock,
                                   settings=OutboxSettings.from_env())
        except SendingStopped as stopped:
            if stopped.retry:
                raise
            raise AirflowFailException(str(stopped)) from stopped
        # Green, but not done: messages wait in `sending` for their lease (README, "Operations").
        if (warning := lease_warning(summary)) is not None:
            warn_operators(get_current_context(), "sending_unconfirmed", warning)
        return summary

    @task
    def check_delivery(sent: dict) -> dict:
        from retention.outreach.audience import AudienceSettings
        from retention.outreach.outbox import check_delivery
        from retention.warehouse import Warehouse

        if _is_backfill():
            return {"skipped": "a backfill run queues only; the hourly runs follow deliveries"}
        transport, clock = _transport_and_clock()
        return check_delivery(Warehouse.connect(role="outreach"), transport, AudienceSettings.from_env().campaign_id,
                              clock=clock)

    @task
    def refresh_campaign_results(delivered: dict) -> dict:
        from retention.marts.build import refresh_campaign_results
        from retention.warehouse import Warehouse

        return refresh_campaign_results(Warehouse.connect())

    refresh_campaign_results(check_delivery(send_messages(queue_messages(decide_audience()))))


senior_outreach()
