"""Quiet hours (21:00-08:00 KST): nothing goes out then without night-time consent; such a
message waits for 08:00 KST."""

from __future__ import annotations

import datetime as dt

import pytest

from retention.outreach.quiet_hours import SEOUL, earliest_send_time, in_quiet_hours


def _kst(hour: int, minute: int = 0, day: int = 24) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize(("hour", "minute", "quiet"), [
    (7, 59, True), (8, 0, False), (12, 0, False), (20, 59, False), (21, 0, True), (23, 30, True), (0, 0, True),
])
def test_quiet_hours_are_21_to_8_seoul_time(hour, minute, quiet):
    assert in_quiet_hours(_kst(hour, minute)) is quiet
    assert in_quiet_hours(_kst(hour, minute).astimezone(dt.UTC)) is quiet  # whatever zone it is given in


def test_a_message_in_the_quiet_hours_waits_for_8_unless_night_consent():
    assert earliest_send_time(_kst(22, 15), night_consent=False) == _kst(8, 0, day=25)
    assert earliest_send_time(_kst(6, 40), night_consent=False) == _kst(8, 0)
    assert earliest_send_time(_kst(22, 15), night_consent=True) == _kst(22, 15)
    assert earliest_send_time(_kst(10, 0), night_consent=False) == _kst(10, 0)
    assert earliest_send_time(_kst(22, 15), night_consent=False).tzinfo == dt.UTC


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        in_quiet_hours(dt.datetime(2026, 11, 24, 22))


def test_the_send_window_closes_at_nine_pm_seoul_on_the_moments_day():
    import datetime as dt

    from retention.outreach.quiet_hours import send_window_end

    morning = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert send_window_end(morning) == dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # 21:00 KST


@pytest.mark.parametrize(("moment", "run"), [
    ("2026-11-23T10:30:00+09:00", "2026-11-23T11:00:00+09:00"),  # a lease expiring mid-morning
    ("2026-11-23T11:00:00+09:00", "2026-11-23T11:00:00+09:00"),  # on the hour: that run
    ("2026-11-23T20:10:00+09:00", "2026-11-24T08:00:00+09:00"),  # after the last run: tomorrow's first
    ("2026-11-24T03:00:00+09:00", "2026-11-24T08:00:00+09:00"),
])
def test_the_next_send_run_is_the_first_hourly_run_from_eight_to_eight_pm(moment, run):
    from retention.outreach.quiet_hours import next_send_run

    assert next_send_run(dt.datetime.fromisoformat(moment)) == dt.datetime.fromisoformat(run)
