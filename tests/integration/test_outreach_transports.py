"""The SMS transports: the official Twilio client against the loopback fake, and the local sink.

What a user of the outbox would notice: a message is sent once and only once (even when
Twilio's answer is lost), opted-out and invalid numbers are told apart from outages, rate
limits are honoured, and no phone number, account SID or auth token ends up in a log.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import airflow.sdk  # noqa: F401  (see below)
import pytest
from fake_twilio import serve_fake_twilio
from retention.outreach import transports
from retention.outreach.transports import DeliveryStatus, SendRequest, mask_number, transport_from_env
from retention.outreach.transports import twilio as twilio_transport_module
from retention.outreach.transports.errors import (
    PermanentSendError,
    RecipientUnsubscribed,
    SenderConfigurationError,
    SendWindowClosed,
    TransientSendError,
    classify_error_code,
)
from retention.outreach.transports.local_sink import LocalSink
from retention.outreach.transports.pacing import SendSettings
from retention.outreach.transports.twilio import TwilioTransport
from retention.synthetic.contacts import synthetic_phone

# Importing airflow.sdk configures logging (dictConfig), which replaces the root handlers,
# caplog's included. Done here, at collection, so that no test loses its captured log halfway
# and the "never logged" assertions cannot pass for want of captured records.

ALICE, BOB, CAROL = synthetic_phone(1), synthetic_phone(2), synthetic_phone(3)
BODY = "(광고) KT 디지털 배움터 무료 교육 안내 무료수신거부 080-000-0000"
# Tiny waits so that retries cost milliseconds; each test that measures a wait sets its own.
FAST = SendSettings(rate_per_second=1000, max_attempts=4, timeout_seconds=2, backoff_seconds=0.01,
                    backoff_max_seconds=5, recheck_delay_seconds=0)


def request(to: str = ALICE, customer: str = "C-0001", campaign: str = "2026-W48") -> SendRequest:
    return SendRequest.for_campaign(campaign, customer, to, BODY)


def twilio_transport(fake, settings: SendSettings = FAST, *, sender: str = "messaging_service") -> TwilioTransport:
    kind = ({"messaging_service_sid": fake.messaging_service_sid} if sender == "messaging_service"
            else {"from_number": fake.from_number})
    return TwilioTransport(fake.account_sid, fake.auth_token, base_url=fake.base_url, settings=settings, **kind)


@pytest.fixture
def fake():
    with serve_fake_twilio() as twilio:
        yield twilio


@pytest.fixture
def logs(caplog):
    """Every record, DEBUG included (urllib3's request lines too)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secrets(text: str, fake, *numbers: str) -> None:
    assert "Twilio API request" in text  # the log was captured: the checks below are not vacuous
    assert fake.auth_token not in text
    assert fake.account_sid not in text
    for number in numbers:
        assert number not in text and number[1:] not in text


# --- Sending through Twilio ---------------------------------------------------------------


def test_a_message_reaches_twilio_with_its_body_and_credentials(fake, logs):
    transport = twilio_transport(fake)

    result = transport.send(request())

    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    assert result.status == "accepted"  # what Twilio answers for a Messaging Service send
    assert not result.simulated and result.attempts == 1
    [message] = fake.messages
    assert (message.to, message.body, message.sid) == (ALICE, BODY, result.provider_message_id)
    [create] = fake.creates()
    assert create.authorized and create.user_agent.startswith("twilio-python/")
    assert create.form["MessagingServiceSid"] == fake.messaging_service_sid and "From" not in create.form
    assert mask_number(ALICE) in logs.text
    assert_no_secrets(logs.text + repr(transport) + repr(request()), fake, ALICE)


def test_a_from_number_is_used_when_there_is_no_messaging_service(fake):
    result = twilio_transport(fake, sender="from_number").send(request())

    assert result.status == "queued"
    assert fake.creates()[0].form["From"] == fake.from_number


def test_wrong_credentials_stop_the_batch_instead_of_failing_each_contact(fake, logs):
    transport = TwilioTransport(fake.account_sid, "not-the-token", messaging_service_sid=fake.messaging_service_sid,
                                base_url=fake.base_url, settings=FAST)

    with pytest.raises(SenderConfigurationError) as raised:
        transport.send(request())

    assert raised.value.code == 20003 and raised.value.affects_all_recipients
    assert len(fake.creates()) == 1 and not fake.messages
    assert_no_secrets(logs.text + str(raised.value), fake, ALICE)


def test_an_invalid_number_fails_at_once_with_twilios_code_and_no_retry(fake, logs):
    fake.reject(ALICE, 21211)  # Twilio's message quotes the number: it must come back masked

    with pytest.raises(PermanentSendError) as raised:
        twilio_transport(fake).send(request())

    error = raised.value
    assert (error.code, error.reason, error.http_status) == (21211, "invalid_number", 400)
    assert not error.unsubscribed and not error.affects_all_recipients
    assert error.result.permanent and error.result.error_code == 21211 and error.result.provider_message_id is None
    assert mask_number(ALICE) in str(error)
    assert len(fake.creates()) == 1 and not fake.messages
    assert_no_secrets(logs.text + str(error), fake, ALICE)


def test_an_unsubscribed_recipient_is_told_apart_so_the_contact_is_marked_opted_out(fake):
    fake.reject(ALICE, 21610)

    with pytest.raises(RecipientUnsubscribed) as raised:
        twilio_transport(fake).send(request())

    assert isinstance(raised.value, PermanentSendError)
    assert raised.value.unsubscribed and raised.value.code == 21610
    assert len(fake.creates()) == 1


def test_a_rate_limited_send_waits_for_retry_after_then_succeeds(fake):
    fake.fail_next(429, retry_after="1")
    transport = twilio_transport(fake)

    started = time.monotonic()
    result = transport.send(request())
    elapsed = time.monotonic() - started

    assert result.attempts == 2 and len(fake.messages) == 1
    first, second = fake.creates()
    assert first.status == 429 and second.status == 201
    assert 0.9 <= second.at - first.at and elapsed < 3


def test_a_retry_after_longer_than_a_task_should_wait_is_handed_back_to_the_caller(fake):
    fake.fail_next(429, retry_after="3600")

    with pytest.raises(TransientSendError) as raised:
        twilio_transport(fake).send(request())

    assert raised.value.retry_after_seconds == 3600 and raised.value.result.retry_after_seconds == 3600
    assert not raised.value.ambiguous and len(fake.creates()) == 1


def test_a_server_error_is_retried_and_the_message_sent_once(fake):
    fake.fail_next(500)

    result = twilio_transport(fake).send(request())

    assert result.attempts == 2
    assert [create.status for create in fake.creates()] == [500, 201]
    assert len(fake.messages_to(ALICE)) == 1


def test_server_errors_every_time_give_a_transient_error_after_the_last_attempt(fake):
    fake.fail_next(503, times=None)

    with pytest.raises(TransientSendError) as raised:
        twilio_transport(fake).send(request())

    assert raised.value.http_status == 503 and raised.value.attempts == FAST.max_attempts
    assert not raised.value.ambiguous and not raised.value.result.permanent
    assert len(fake.creates()) == FAST.max_attempts and not fake.messages


def test_errors_after_some_sends_leave_the_earlier_messages_sent(fake):
    fake.fail_after(2, status=500)
    transport = twilio_transport(fake)

    transport.send(request(ALICE, "C-1"))
    transport.send(request(BOB, "C-2"))
    with pytest.raises(TransientSendError):
        transport.send(request(CAROL, "C-3"))

    assert [message.to for message in fake.messages] == [ALICE, BOB]


def test_a_timeout_after_twilio_stored_the_message_is_not_sent_twice(fake, logs):
    fake.answer_late(1.5)  # Twilio stores it; its answer comes after the client gave up
    settings = SendSettings(rate_per_second=1000, timeout_seconds=0.3, backoff_seconds=0.01,
                            recheck_delay_seconds=0)

    result = twilio_transport(fake, settings).send(request())

    assert result.recovered and result.provider_message_id == fake.messages[0].sid
    assert len(fake.messages_to(ALICE)) == 1 and len(fake.creates()) == 1
    assert fake.messages[0].answered_late
    assert_no_secrets(logs.text, fake, ALICE)


def test_a_timeout_with_nothing_listed_yet_is_never_re_sent_in_the_same_attempt(fake):
    fake.answer_late(1.5, stored=False)  # lost on the way in, or still being processed: nothing listed
    settings = SendSettings(rate_per_second=1000, timeout_seconds=0.3, backoff_seconds=0.01,
                            recheck_delay_seconds=0)

    with pytest.raises(TransientSendError) as raised:
        twilio_transport(fake, settings).send(request())

    # Twilio's lists lag: "not listed yet" is not "not sent". The outbox keeps it in `sending`
    # and asks again after its lease, before any new attempt.
    assert raised.value.ambiguous and len(fake.creates()) == 1
    lists = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/Messages.json")]
    assert lists and all(r.query["To"] == ALICE for r in lists)  # it looked


def test_a_message_whose_send_window_closed_while_waiting_is_not_sent(fake):
    closed = datetime.now(UTC) - timedelta(seconds=1)
    late = SendRequest.for_campaign("2026-W48", "C-0001", ALICE, BODY, not_after=closed)
    with pytest.raises(SendWindowClosed):
        twilio_transport(fake).send(late)
    assert fake.creates() == []


def test_when_twilio_cannot_be_asked_after_a_timeout_the_send_stays_ambiguous(fake):
    fake.answer_late(1.5)
    fake.fail_next(500, times=None, method="GET")  # the check itself fails
    settings = SendSettings(rate_per_second=1000, max_attempts=2, timeout_seconds=0.3, backoff_seconds=0.01,
                            recheck_delay_seconds=0)

    with pytest.raises(TransientSendError) as raised:
        twilio_transport(fake, settings).send(request())

    assert raised.value.ambiguous  # the outbox keeps the row in `sending` and reconciles it later
    assert len(fake.creates()) == 1


def test_an_unreachable_twilio_is_a_transient_error_and_never_ambiguous():
    with serve_fake_twilio() as gone:
        base_url, account_sid, token, service = gone.base_url, gone.account_sid, gone.auth_token, \
            gone.messaging_service_sid
    transport = TwilioTransport(account_sid, token, messaging_service_sid=service, base_url=base_url,
                                settings=SendSettings(rate_per_second=1000, max_attempts=2, timeout_seconds=1,
                                                      backoff_seconds=0.01, recheck_delay_seconds=0))

    with pytest.raises(TransientSendError) as raised:
        transport.send(request())

    assert not raised.value.ambiguous and raised.value.attempts == 2  # connection refused: nothing was sent


def test_sends_are_paced_to_the_configured_rate(fake):
    transport = twilio_transport(fake, SendSettings(rate_per_second=5, backoff_seconds=0.01))
    numbers = [synthetic_phone(n) for n in range(10, 16)]

    started = time.monotonic()
    for n, number in enumerate(numbers):
        transport.send(request(number, f"C-{n}"))
    elapsed = time.monotonic() - started

    arrivals = [create.at for create in fake.creates()]
    assert elapsed >= (len(numbers) - 1) / 5 * 0.95
    assert min(later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)) >= 0.18
    assert sorted(message.to for message in fake.messages) == sorted(numbers)


def test_status_follows_the_message_to_delivery_or_failure(fake):
    transport = twilio_transport(fake)
    delivered = transport.send(request(ALICE, "C-1"))
    fake.deliver_as(BOB, "undelivered", 30007)
    filtered = transport.send(request(BOB, "C-2"))

    seen = [transport.status(delivered.provider_message_id) for _ in range(5)]
    final = [transport.status(filtered.provider_message_id) for _ in range(5)][-1]

    assert seen[0] == "queued" and seen[-1] == "delivered"
    assert final == "undelivered" and classify_error_code(30007) == "blocked"
    with pytest.raises(LookupError):
        transport.status("SM" + "0" * 32)


def test_delivery_shows_the_error_code_of_a_message_that_did_not_arrive(fake, logs):
    transport = twilio_transport(fake)
    delivered = transport.send(request(ALICE, "C-1"))
    fake.deliver_as(BOB, "undelivered", 30007)
    filtered = transport.send(request(BOB, "C-2"))
    fake.deliver_as(CAROL, "failed", 30005)
    unknown = transport.send(request(CAROL, "C-3"))

    first = transport.delivery(filtered.provider_message_id)
    ends = [[transport.delivery(sent.provider_message_id) for _ in range(5)][-1]
            for sent in (delivered, filtered, unknown)]

    assert first == DeliveryStatus("queued", None, None)  # no error until Twilio gives up on it
    assert ends == [DeliveryStatus("delivered", None, None),
                    DeliveryStatus("undelivered", 30007, "Message filtered"),
                    DeliveryStatus("failed", 30005, None)]
    assert [classify_error_code(end.error_code) for end in ends[1:]] == ["blocked", "invalid_number"]
    assert transport.status(filtered.provider_message_id) == "undelivered"  # status() is unchanged
    with pytest.raises(LookupError):
        transport.delivery("SM" + "0" * 32)
    assert_no_secrets(logs.text, fake, ALICE, BOB, CAROL)


def test_sent_to_since_finds_sent_and_not_yet_sent_messages_across_pages(monkeypatch):
    # Only the two newest are read without a date filter: the older three must come from the
    # DateSent query, which sees only messages Twilio has already sent.
    monkeypatch.setattr(twilio_transport_module, "RECENT_MESSAGES_READ", 2)
    with serve_fake_twilio(max_page_size=2) as fake:
        transport = twilio_transport(fake)
        since = datetime.now(UTC)
        for n in range(5):
            transport.send(request(ALICE, f"C-{n}", campaign=f"campaign-{n}"))
        transport.send(request(BOB, "C-9"))
        for message in fake.messages_to(ALICE)[:3]:
            fake.set_status(message.sid, "sent")

        found = transport.sent_to_since(ALICE, since)

        assert {message.provider_message_id for message in found} == {m.sid for m in fake.messages_to(ALICE)}
        assert all(message.to == ALICE and message.body == BODY for message in found)
        assert transport.sent_to_since(ALICE, datetime.now(UTC) + timedelta(hours=1)) == []
        assert any("PageToken" in r.query for r in fake.requests)  # it followed next_page_uri
        with pytest.raises(ValueError, match="timezone-aware"):
            transport.sent_to_since(ALICE, datetime.now())


# --- The local sink -----------------------------------------------------------------------


def test_the_local_sink_records_every_send_and_masks_numbers_in_logs(tmp_path, logs):
    sink = LocalSink(tmp_path / "outbox" / "sms.jsonl")
    since = datetime.now(UTC)

    first = sink.send(request(ALICE, "C-1"))
    again = sink.send(request(ALICE, "C-1"))  # like Twilio, a second send is a second message
    other = sink.send(request(BOB, "C-2"))

    assert first.simulated and len({first.provider_message_id, again.provider_message_id,
                                     other.provider_message_id}) == 3
    lines = [json.loads(line) for line in sink.path.read_text(encoding="utf-8").splitlines()]
    assert [(line["to"], line["body"], line["idempotency_key"]) for line in lines] == [
        (ALICE, BODY, "2026-W48:C-1"), (ALICE, BODY, "2026-W48:C-1"), (BOB, BODY, "2026-W48:C-2")]
    assert sink.status(first.provider_message_id) == "delivered"
    assert sink.delivery(first.provider_message_id) == DeliveryStatus("delivered", None, None)
    with pytest.raises(LookupError):
        sink.delivery("local-unknown")
    assert [m.provider_message_id for m in sink.sent_to_since(ALICE, since)] == [
        first.provider_message_id, again.provider_message_id]
    assert sink.sent_to_since(ALICE, datetime.now(UTC) + timedelta(seconds=1)) == []
    assert mask_number(ALICE) in logs.text and ALICE not in logs.text and BOB not in logs.text
    # A new sink on the same file (a new task) sees what the first one wrote.
    assert LocalSink(sink.path).delivery(other.provider_message_id).status == "delivered"
    with pytest.raises(SendWindowClosed):
        LocalSink(sink.path).send(SendRequest.for_campaign("2026-W48", "C-3", BOB, BODY, not_after=since))
    assert len(sink.path.read_text(encoding="utf-8").splitlines()) == 3


def test_invalid_requests_are_refused_without_showing_the_number():
    with pytest.raises(ValueError) as raised:
        SendRequest.for_campaign("2026-W48", "C-1", "010-1234-5678", BODY)
    assert "010-1234-5678" not in str(raised.value) and "E.164" in str(raised.value)
    assert ALICE not in repr(request(ALICE))


# --- Choosing the transport -----------------------------------------------------------------


def test_without_a_twilio_connection_messages_go_to_the_sink_and_say_so_once(tmp_path, monkeypatch, logs):
    monkeypatch.delenv("AIRFLOW_CONN_TWILIO_DEFAULT", raising=False)
    monkeypatch.delenv("RETENTION_TWILIO_CONN_ID", raising=False)
    monkeypatch.setenv("RETENTION_SMS_SINK_PATH", str(tmp_path / "sms.jsonl"))
    monkeypatch.setattr(transports, "_simulation_announced", False)

    first, second = transport_from_env(), transport_from_env()

    assert isinstance(first, LocalSink) and first.simulated and first.path == tmp_path / "sms.jsonl"
    assert isinstance(second, LocalSink)
    assert logs.text.count("SMS are simulated") == 1


def test_with_a_twilio_connection_messages_go_to_twilio(fake, monkeypatch, logs):
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", fake.airflow_connection())
    monkeypatch.delenv("RETENTION_TWILIO_CONN_ID", raising=False)
    monkeypatch.setenv("RETENTION_SMS_RATE_PER_SECOND", "100")

    transport = transport_from_env()
    result = transport.send(request())

    assert isinstance(transport, TwilioTransport) and not transport.simulated
    assert transport.settings.rate_per_second == 100
    assert [message.sid for message in fake.messages] == [result.provider_message_id]
    assert_no_secrets(logs.text + repr(transport), fake, ALICE)


def test_another_connection_id_and_an_incomplete_connection(fake, monkeypatch):
    monkeypatch.setenv("RETENTION_TWILIO_CONN_ID", "twilio_outreach")
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_OUTREACH", fake.airflow_connection(sender="from_number"))
    assert transport_from_env().send(request()).status == "queued"

    incomplete = json.loads(fake.airflow_connection())
    incomplete["extra"] = {}
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_OUTREACH", json.dumps(incomplete))
    with pytest.raises(ValueError, match="twilio_outreach.*messaging_service_sid") as raised:
        transport_from_env()
    assert fake.auth_token not in str(raised.value)
