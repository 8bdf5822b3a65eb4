"""Which transport the outreach sends through and which clock it acts on, and the settings
that must never go together: a simulated time (`RETENTION_OUTREACH_SIMULATED_NOW`, demos and
tests) or the local runs' placeholder opt-out number with a real transport. Such a refusal is a
`PermanentError`: the task fails at once, without retries (`retention.task_errors`).

Besides the local sink, the one transport that takes a simulated time is a fake of Twilio's API
served by the tests: its connection says `local_fake` and its host is loopback (both, so that no
real connection gets there by accident). It lets the outreach DAG tests run at an injected hour
and assert the same things whatever the hour of the real clock."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from retention.outreach.message import DEMO_OPT_OUT_NUMBER
from retention.outreach.transports import Transport, utc_now
from retention.task_errors import PermanentError

SIMULATED_NOW_ENV = "RETENTION_OUTREACH_SIMULATED_NOW"


class OutreachSettingError(PermanentError, ValueError):
    """Settings that must not go together (a simulated clock or the local runs' placeholder
    opt-out number with a real transport): no retry can fix them, the task fails at once."""


def outreach_clock(transport: Transport) -> Callable[[], dt.datetime]:
    """The time the outreach acts at: now, or `RETENTION_OUTREACH_SIMULATED_NOW` (an ISO time with
    its offset) for demos and tests that replay past weeks. A simulated time is refused unless
    the transport is simulated too: real messages always follow the real clock and quiet hours."""
    value = os.environ.get(SIMULATED_NOW_ENV, "").strip()
    if not value:
        return utc_now
    if not (transport.simulated or getattr(transport, "local_fake", False)):
        raise OutreachSettingError(
            f"{SIMULATED_NOW_ENV} is set but SMS go out through {transport.name}: a simulated time is only for "
            "the local sink (demos, tests); unset it in the environment of the Airflow workers, then clear the task")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise OutreachSettingError(f"{SIMULATED_NOW_ENV}={value!r} has no offset: write e.g. "
                                   "2026-11-23T10:00:00+09:00")
    return lambda: moment.astimezone(dt.UTC)


def transport_and_clock() -> tuple[Transport, Callable[[], dt.datetime]]:
    """The configured transport (`transport_from_env`) and the clock it acts on; with a simulated
    time the local sink stamps its records with that time too."""
    from retention.outreach.transports import transport_from_env
    from retention.outreach.transports.local_sink import LocalSink

    transport = transport_from_env()
    if not transport.simulated and os.environ.get("RETENTION_SMS_OPT_OUT_NUMBER", "").strip() == DEMO_OPT_OUT_NUMBER:
        raise OutreachSettingError(f"RETENTION_SMS_OPT_OUT_NUMBER is the local runs' placeholder {DEMO_OPT_OUT_NUMBER}, "
                                   f"and SMS go out through {transport.name}: set the campaign's real free 080 number")
    clock = outreach_clock(transport)
    if isinstance(transport, LocalSink) and clock is not utc_now:
        transport = LocalSink(transport.path, clock=clock)
    elif getattr(transport, "local_fake", False) and clock is not utc_now:
        transport = transport.with_clock(clock)  # type: ignore[attr-defined]
    return transport, clock
