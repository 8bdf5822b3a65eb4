"""
### consent_notices: the notices the Network Act makes us owe every recipient, sent once and in time

**Runs** every day at 10:00 KST (inside the send window, after the night's contacts file), for
every customer with a marketing consent, not only the seniors of a campaign: the duty is owed
to whoever consented, and it must not wait for the churn scores (`senior_outreach` runs on
them). A manual run does the same.

**Steps**
1. `queue_notices`: finds what is owed (`retention.outreach.consent_notices`) and queues it once
   in `outreach.consent_notices` and the outbox `outreach.messages` (campaign
   `notice:<kind>:<date>`): the two-year re-confirmation (art. 50(8)) `RETENTION_NOTICE_LEAD_DAYS`
   (30) before each anniversary, and the result of every opt-out (080 line / contacts flag,
   provider unsubscribe) and new consent or withdrawal (art. 50(7), within 14 days).
2. `send_notices`: sends them through the same outbox and transport as the offer (Twilio,
   SOLAPI or the local sink; pool `sms_sending`): never at night, never `(광고)`, at most once.
3. `check_notice_delivery`: the provider's status of each sent notice.
4. `warn_overdue_notices`: a notice still unanswered at day 10 of 14 (or four days before an
   anniversary) is a `consent_notice_overdue` warning in `ops.alerts`; it first refreshes
   `marts.consent_notices` (a small table, as of the run's day), which shows each notice and where it stands.

**Re-running** changes nothing: notices are recorded once per anniversary or request, and sent
only by the run that holds their claim.

**When it fails**
- `queue_notices`, *RETENTION_SMS_OPT_OUT_NUMBER is not set* / *TemplateError*: set the number or
  fix the notice template the message names (`include/retention/outreach/templates/notice_*`); *Clear*.
- `send_notices`, *the provider is not taking messages now*: retried; everything stays queued.
- `send_notices`, *Fix the sender in the Airflow connection*: fix it, *Clear*.
- green with `consent_notice_overdue`: read the warning; the mart says which notice and why.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from retention.operations import task_defaults


def _transport_and_clock():
    from retention.outreach.transport_setup import transport_and_clock
    from retention.task_errors import fail_fast_on_bad_data

    with fail_fast_on_bad_data():
        return transport_and_clock()


@dag(
    schedule=CronTriggerTimetable("0 10 * * *", timezone="Asia/Seoul"),
    start_date=pendulum.datetime(2026, 1, 5, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=task_defaults(owner="marketing-engineering"),
    tags=["outreach", "sms", "compliance", "daily"],
)
def consent_notices():
    @task
    def queue_notices() -> dict:
        from retention.outreach.campaign import ensure_tables
        from retention.outreach.consent_notices import NoticeSettings, queue_notices
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        warehouse = Warehouse.connect(role="outreach")
        ensure_tables(warehouse)
        clock = _transport_and_clock()[1]
        with fail_fast_on_bad_data(ValueError, LookupError):
            settings = NoticeSettings.from_env()
            return queue_notices(warehouse, now=clock(), run_id=get_current_context()["run_id"], settings=settings)

    @task(pool="sms_sending")
    def send_notices(queued: dict) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from retention.operations.alerts import warn_operators
        from retention.outreach.notice_sending import SendingStopped, send_notices
        from retention.outreach.outbox import OutboxSettings
        from retention.warehouse import Warehouse

        transport, clock = _transport_and_clock()
        try:
            summary = send_notices(Warehouse.connect(role="outreach"), transport, clock=clock, settings=OutboxSettings.from_env())
        except SendingStopped as stopped:
            if stopped.retry:
                raise
            raise AirflowFailException(str(stopped)) from stopped
        if summary.get("waiting_for_lease"):
            warn_operators(get_current_context(), "sending_unconfirmed",
                           f"{summary['waiting_for_lease']} consent notice(s) wait in sending for their lease: the "
                           "next run asks the provider before anything is sent again")
        return summary

    @task
    def check_notice_delivery(sent: dict) -> dict:
        from retention.outreach.notice_sending import check_notice_delivery
        from retention.warehouse import Warehouse

        transport, clock = _transport_and_clock()
        return check_notice_delivery(Warehouse.connect(role="outreach"), transport, clock=clock)

    @task
    def warn_overdue_notices(checked: dict) -> dict:
        from retention.operations.alerts import warn_operators
        from retention.outreach.notice_sending import overdue_warning
        from retention.warehouse import Warehouse

        from retention.marts.build import refresh_consent_notices
        from retention.outreach.quiet_hours import SEOUL

        clock = _transport_and_clock()[1]
        now = clock()
        warehouse = Warehouse.connect()
        # The mart first (it reads no number: the pipeline's connection), so the warning's
        # "see marts.consent_notices" shows today's state.
        refreshed = refresh_consent_notices(warehouse, now.astimezone(SEOUL).date())
        warning = overdue_warning(warehouse, now)
        if warning is not None:
            warn_operators(get_current_context(), "consent_notice_overdue", warning)
        return {"overdue": warning is not None, **refreshed}

    warn_overdue_notices(check_notice_delivery(send_notices(queue_notices())))


consent_notices()
