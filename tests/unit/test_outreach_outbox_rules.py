"""The outbox's guards that need no warehouse: a simulated clock and the demo's placeholder
opt-out number never reach a real SMS provider; an old week is never messaged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from retention.outreach.campaign import QueueSettings, week_too_old
from retention.outreach.message import DEMO_OPT_OUT_NUMBER
from retention.outreach.outbox import OutboxSettings
from retention.outreach.transport_setup import outreach_clock, transport_and_clock
from retention.outreach.transports.local_sink import LocalSink

SEOUL = dt.timezone(dt.timedelta(hours=9))
TWILIO_CONNECTION = json.dumps({"conn_type": "generic", "login": "AC" + "0" * 32, "password": "secret-token",
                                "host": "http://127.0.0.1:9", "extra": {"messaging_service_sid": "MG" + "0" * 32}})


def test_a_simulated_time_is_used_with_the_local_sink_only(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", "2026-11-23T10:00:00+09:00")
    clock = outreach_clock(LocalSink(tmp_path / "sms.jsonl"))
    assert clock() == dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)

    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", TWILIO_CONNECTION)
    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-123-4567")
    with pytest.raises(ValueError, match="only for the local sink"):
        transport_and_clock()

    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", "2026-11-23T10:00:00")
    with pytest.raises(ValueError, match="has no offset"):
        outreach_clock(LocalSink(tmp_path / "sms.jsonl"))


def test_the_demo_opt_out_number_is_refused_by_a_real_transport(monkeypatch):
    monkeypatch.delenv("RETENTION_OUTREACH_SIMULATED_NOW", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", TWILIO_CONNECTION)
    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", DEMO_OPT_OUT_NUMBER)
    with pytest.raises(ValueError, match="placeholder") as refused:
        transport_and_clock()
    assert "secret-token" not in str(refused.value)
    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-123-4567")
    transport, _ = transport_and_clock()
    assert transport.name == "twilio" and not transport.simulated


def test_a_week_is_messaged_up_to_a_week_after_it_ends():
    settings, week = QueueSettings(max_week_age_days=7), dt.date(2026, 11, 23)
    assert not week_too_old(week, dt.datetime(2026, 11, 23, 10, tzinfo=SEOUL), settings)
    assert not week_too_old(week, dt.datetime(2026, 12, 7, 0, tzinfo=SEOUL), settings)
    assert week_too_old(week, dt.datetime(2026, 12, 7, 0, 1, tzinfo=SEOUL), settings)


def test_outbox_settings_are_checked(monkeypatch):
    monkeypatch.setenv("RETENTION_OUTREACH_SEND_BATCH", "0")
    with pytest.raises(ValueError, match="at least 1"):
        OutboxSettings.from_env()


@pytest.mark.parametrize(("host", "local_fake", "accepted"), [
    ("http://127.0.0.1:9", True, True),  # the tests' fake Twilio: it reaches no one
    ("http://127.0.0.1:9", False, False),  # loopback alone is not enough: a proxy to Twilio may listen there
    ("https://api.twilio.com", True, False),  # nor is the extra alone
])
def test_a_simulated_time_with_twilio_only_for_a_declared_fake_on_loopback(monkeypatch, host, local_fake, accepted):
    connection = json.loads(TWILIO_CONNECTION)
    connection["host"] = host
    if local_fake:
        connection["extra"]["local_fake"] = True
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-123-4567")
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", "2026-11-23T22:00:00+09:00")
    if not accepted:
        with pytest.raises(ValueError, match="only for the local sink"):
            transport_and_clock()
        return
    transport, clock = transport_and_clock()
    assert transport.name == "twilio" and transport.local_fake
    assert clock() == dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC) == transport._clock()
