"""The SOLAPI transport: the official `solapi` SDK against a fake of SOLAPI's API on loopback
(endpoints and fields from the SDK's own code), including a send that stalls after the gateway
accepted it. The fake's record of what it stored is the proof of "never twice"."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fake_solapi import serve_fake_solapi
from outreach_scenario import OPT_OUT_NUMBER, WEEK, at, create_tables, people, publish_places, publish_week
from retention.outreach.message import segment_info
from retention.outreach.outbox import OutboxSettings, check_delivery, send_pending
from retention.outreach.transports import SendRequest, transport_from_env
from retention.outreach.transports.errors import SenderConfigurationError, TransientSendError
from retention.outreach.transports.pacing import SendSettings
from retention.outreach.transports.solapi import SolapiTransport, message_type
from retention.task_errors import PermanentError

FAST = SendSettings(rate_per_second=1000, max_attempts=2, timeout_seconds=1, backoff_seconds=0.01,
                    backoff_max_seconds=1, recheck_delay_seconds=0)
SHORT = "[KT] 안내: 수신동의가 처리되었습니다."
LONG = "[KT] 광고성 정보 수신동의 확인 안내\n" + "고객님은 2024년 12월 10일에 동의하셨습니다. " * 3


@pytest.fixture
def solapi():
    with serve_fake_solapi() as fake:
        yield fake


def transport(fake, **kwargs) -> SolapiTransport:
    return SolapiTransport(fake.api_key, fake.api_secret, sender_number=kwargs.pop("sender", fake.sender_number),
                           base_url=fake.base_url, settings=FAST, sleep=lambda _: None, **kwargs)


def request(body: str, to: str = "+821000000001") -> SendRequest:
    return SendRequest(to=to, body=body, idempotency_key=f"test:{to}")


def test_a_short_message_goes_as_sms_a_long_one_as_one_lms_from_the_registered_sender(solapi):
    assert segment_info(SHORT).segments == 1 and message_type(SHORT) == "SMS"
    assert segment_info(LONG).segments > 1 and message_type(LONG) == "LMS"
    sender = transport(solapi)
    short = sender.send(request(SHORT))
    long = sender.send(request(LONG, to="+821000000002"))
    stored = {m.message_id: m for m in solapi.messages}
    assert stored[short.provider_message_id].type == "SMS" and stored[long.provider_message_id].type == "LMS"
    assert {m.sender for m in stored.values()} == {solapi.sender_number}
    assert {m.to for m in stored.values()} == {"01000000001", "01000000002"}  # domestic numbers
    assert stored[long.provider_message_id].text == LONG
    for _ in range(3):  # accepted (2000) -> with the carrier (3000) -> received (4000)
        status = sender.delivery(long.provider_message_id)
    assert status.status == "delivered"


def test_the_pre_registered_sender_number_is_required_and_an_unregistered_one_stops_sending(solapi):
    with pytest.raises(ValueError, match="발신번호 사전등록"):
        transport(solapi, sender=None)
    with pytest.raises(SenderConfigurationError, match="1062"):
        transport(solapi, sender="0299999999").send(request(SHORT))
    assert solapi.messages == []


def test_a_send_that_stalls_after_solapi_accepted_it_is_found_not_sent_again(solapi):
    solapi.answer_late(6.0)  # longer than the SDK's 5 s timeout; the message is stored first
    result = transport(solapi).send(request(LONG))
    assert result.recovered and len(solapi.messages) == 1 and len(solapi.sends()) == 1
    assert result.provider_message_id == solapi.messages[0].message_id


def test_a_stall_solapi_did_not_keep_is_left_for_the_outbox_never_re_sent_in_the_same_attempt(solapi):
    solapi.answer_late(6.0, stored=False)
    with pytest.raises(TransientSendError) as stalled:
        transport(solapi).send(request(SHORT))
    assert stalled.value.ambiguous and len(solapi.sends()) == 1 and solapi.messages == []


def test_a_5xx_is_retried_and_the_message_goes_once(solapi):
    solapi.fail_next(500)
    result = transport(solapi).send(request(SHORT))
    assert result.attempts == 2 and len(solapi.messages) == 1


@pytest.mark.emulator
def test_the_outbox_sends_through_solapi_chosen_by_connection_and_reconciles_a_stall_after_its_lease(
        warehouse, solapi, monkeypatch, tmp_path):
    from retention.outreach.audience import AudienceSettings
    from retention.outreach.campaign import QueueSettings, decide_audience, published_places, queue_messages
    from retention.outreach.message import MessageSettings
    from retention.places.geocode import Gazetteer

    monkeypatch.setenv("AIRFLOW_CONN_SOLAPI_DEFAULT", solapi.airflow_connection())
    monkeypatch.setenv("RETENTION_SMS_RECHECK_DELAY_SECONDS", "0")
    chosen = transport_from_env()
    assert isinstance(chosen, SolapiTransport) and "secret" not in repr(chosen).lower()
    monkeypatch.setenv("AIRFLOW_CONN_SOLAPI_DEFAULT", solapi.airflow_connection(sender_number=""))
    with pytest.raises(ValueError, match="sender_number"):
        transport_from_env()
    monkeypatch.setenv("AIRFLOW_CONN_SOLAPI_DEFAULT", solapi.airflow_connection())
    monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", json.dumps({"conn_type": "generic", "login": "AC1"}))
    with pytest.raises(PermanentError, match="both Airflow connections"):  # which provider: said, not guessed
        transport_from_env()
    monkeypatch.delenv("AIRFLOW_CONN_TWILIO_DEFAULT")

    create_tables(warehouse)
    publish_places(warehouse)
    crowd = people(eligible=4)
    publish_week(warehouse, WEEK, crowd)
    now = at(WEEK, 10)
    campaign = "senior-digital-literacy"
    audience = AudienceSettings(campaign_id=campaign, holdout_share=0.0, consent_valid_days=730, cooldown_days=28)
    decide_audience(warehouse, WEEK, audience, now=now, queue_settings=QueueSettings(max_week_age_days=7))
    queue_messages(warehouse, WEEK, campaign_id=campaign, now=now, run_id="r", queue_settings=QueueSettings(7),
                   message_settings=MessageSettings(opt_out_number=OPT_OUT_NUMBER),
                   places=published_places(warehouse, WEEK), dong_centroid=Gazetteer.bundled().dong_centroid)
    sender = transport(solapi, clock=lambda: now)
    solapi.answer_late(6.0)  # the first message stalls after SOLAPI stored it
    settings = OutboxSettings(batch_size=10, sending_lease_seconds=60)
    first = send_pending(warehouse, sender, campaign, clock=lambda: now, settings=settings)
    assert (first.get("recovered_as_sent"), first.get("sent")) == (1, 3), first
    later = now + dt.timedelta(minutes=5)
    again = send_pending(warehouse, sender, campaign, clock=lambda: later, settings=settings)
    assert again.get("sent", 0) == 0
    assert len(solapi.messages) == 4 and len({m.to for m in solapi.messages}) == 4  # one each, never twice
    assert {m.type for m in solapi.messages} == {"LMS"}  # the offer takes more than one segment
    for _ in range(3):
        check_delivery(warehouse, sender, campaign, clock=lambda: later)
    states = warehouse.rows("SELECT state, transport FROM `{{ outreach }}.messages` WHERE campaign_id = @c",
                            {"c": campaign})
    assert [(row["state"], row["transport"]) for row in states] == [("delivered", "solapi")] * 4
