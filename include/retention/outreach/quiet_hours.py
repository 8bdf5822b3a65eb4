"""When a marketing SMS may go out: never between 21:00 and 08:00 KST (Information and
Communications Network Act, art. 50(3)) unless the customer separately agreed to night-time
messages. A message that falls in the quiet hours waits for 08:00, with that time recorded in
the outbox (`not_before`) so the wait is visible, not silent."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)
SEND_RUN_HOURS = range(8, 21)
SEND_RUNS_CRON = "0 8-20 * * *"
"""The hourly send runs of senior_outreach (Seoul time): on the hour, 08:00 to 20:00."""


def in_quiet_hours(moment: dt.datetime) -> bool:
    """True from 21:00 (included) to 08:00 (excluded), Seoul time."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: quiet hours are Seoul time, give an aware datetime")
    local = moment.astimezone(SEOUL).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def earliest_send_time(moment: dt.datetime, *, night_consent: bool) -> dt.datetime:
    """`moment` itself when a message may go then, else the end of the quiet hours (08:00 KST),
    as an aware UTC datetime."""
    if night_consent or not in_quiet_hours(moment):
        return moment.astimezone(dt.UTC)
    local = moment.astimezone(SEOUL)
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, QUIET_UNTIL, SEOUL).astimezone(dt.UTC)


def send_window_end(moment: dt.datetime) -> dt.datetime:
    """21:00 KST of `moment`'s day in Seoul, as an aware UTC datetime: when the send window that
    `moment` is in closes (for someone without night-time consent)."""
    local = moment.astimezone(SEOUL)
    return dt.datetime.combine(local.date(), QUIET_FROM, SEOUL).astimezone(dt.UTC)


def next_send_run(moment: dt.datetime) -> dt.datetime:
    """The first hourly send run (`SEND_RUNS_CRON`) at or after `moment`, as an aware UTC datetime."""
    local = moment.astimezone(SEOUL)
    run = local.replace(minute=0, second=0, microsecond=0)
    if run < local:
        run += dt.timedelta(hours=1)
    while run.hour not in SEND_RUN_HOURS:
        run += dt.timedelta(hours=1)
    return run.astimezone(dt.UTC)
