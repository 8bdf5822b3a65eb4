"""Access by role (issue 22, part 5), on the emulator: phone numbers live in one place
(contact.phone_numbers; raw.contacts as received, expiring), no mart Looker Studio reads has a
phone column, and an unsubscribe blocks the number itself, whoever holds it later."""

from __future__ import annotations

import datetime as dt

import pytest
from outreach_scenario import WEEK, at, create_tables, people, phone_key, publish_places, publish_week, with_changes
from retention.access import PHONE_TABLES, authorize_mart_views, is_phone_column, phone_columns
from retention.config import LAYERS
from retention.outreach.audience import AudienceSettings, group
from retention.outreach.campaign import QueueSettings, decide_audience, published_places, queue_messages
from retention.outreach.message import MessageSettings
from retention.outreach.outbox import OutboxSettings, send_pending
from retention.outreach.transports.local_sink import LocalSink
from retention.places.geocode import Gazetteer

pytestmark = [pytest.mark.emulator]

CAMPAIGN = "senior-digital-literacy"
AUDIENCE = AudienceSettings(campaign_id=CAMPAIGN, holdout_share=0.10, consent_valid_days=730, cooldown_days=28)


@pytest.fixture
def every_table(warehouse):
    """Every table and view of every layer, as the DAGs create them (empty: schemas are what count)."""
    from retention.ingest.contacts import ensure_phone_numbers
    from retention.ingest.customers import ensure_tables
    from retention.marts.build import refresh_marts
    from retention.modeling.registry import ensure_registry
    from retention.outreach.campaign import ensure_tables as ensure_outreach_tables
    from retention.scoring.score import ensure_scores_table

    ensure_tables(warehouse)
    ensure_phone_numbers(warehouse)
    ensure_registry(warehouse)
    ensure_scores_table(warehouse)
    ensure_outreach_tables(warehouse)
    refresh_marts(warehouse)
    return warehouse


def test_no_mart_and_no_table_outside_the_contact_dataset_has_a_phone_number(every_table):
    marts = every_table.client.list_tables(every_table.dataset_id("marts"))
    names = {item.table_id for item in marts}
    assert {"customer_risk", "senior_watch_list", "campaign_results"} <= names  # what Looker Studio reads
    for name in names:
        schema = every_table.client.get_table(every_table.table_id("marts", name)).schema
        assert not [f.name for f in schema if is_phone_column(f.name)], f"marts.{name} exposes a phone column"

    found = phone_columns(every_table, LAYERS)
    assert set(found) == {f"{layer}.{table}" for layer, table in PHONE_TABLES}, found
    assert found["contact.phone_numbers"] == ["phone_e164"]
    for layer, table in (("core", "contacts"), ("outreach", "messages"), ("outreach", "opt_outs")):
        columns = {f.name for f in every_table.client.get_table(every_table.table_id(layer, table)).schema}
        assert "phone_key" in columns and not any(is_phone_column(c) for c in columns)


def test_the_raw_contacts_files_expire(every_table):
    partitioning = every_table.client.get_table(every_table.table_id("raw", "contacts")).time_partitioning
    assert partitioning.field == "_snapshot_date" and partitioning.expiration_ms == 90 * 86_400_000


def test_the_marts_views_are_authorized_on_what_they_read_and_never_on_contact(every_table):
    views = [item.table_id for item in every_table.client.list_tables(every_table.dataset_id("marts"))
             if item.table_type == "VIEW"]
    every_source = {"core": len(views), "ml": len(views), "outreach": len(views)}
    assert authorize_mart_views(every_table) == every_source
    assert authorize_mart_views(every_table) == every_source  # idempotent
    contact = every_table.client.get_dataset(every_table.dataset_id("contact"))
    assert not [entry for entry in contact.access_entries if entry.entity_type == "view"]


def _opt_out(warehouse, customer_id: str, phone_e164: str, moment: dt.datetime) -> None:
    warehouse.insert_missing(warehouse.table_id("outreach", "opt_outs"), [
        {"customer_id": customer_id, "phone_key": phone_key(phone_e164), "source": "twilio_21610",
         "campaign_id": "an-earlier-campaign", "recorded_at": moment}], ("customer_id",))


def _messaged(crowd):
    return [p for p in crowd if p.customer_id.startswith("S-") and not p.night_consent
            and group(CAMPAIGN, p.customer_id, 0.10) == "message"]


def test_an_unsubscribed_number_is_left_out_of_the_audience_whoever_holds_it(warehouse):
    """S-a unsubscribed at the provider; the operator then gives the number to S-b (a number
    changes hands, or a family shares it): S-b is not in the campaign on it."""
    create_tables(warehouse)
    crowd = people(eligible=10)
    quitter, heir = _messaged(crowd)[:2]
    _opt_out(warehouse, quitter.customer_id, quitter.phone_e164, at(WEEK, 9))
    publish_week(warehouse, WEEK, with_changes(crowd, **{heir.customer_id: {"phone": quitter.phone_e164}}))

    decide_audience(warehouse, WEEK, AUDIENCE, now=at(WEEK, 10), queue_settings=QueueSettings(max_week_age_days=7))
    audience = {row["customer_id"]: row["excluded_reason"] for row in warehouse.rows(
        "SELECT customer_id, excluded_reason FROM `{{ outreach }}.campaign_audience`")}
    assert audience[quitter.customer_id] == audience[heir.customer_id] == "opted_out"
    assert sum(reason == "opted_out" for reason in audience.values()) == 3  # and X-OPTEDOUT, by its contact flag


def test_a_queued_message_to_a_number_unsubscribed_since_is_withheld(warehouse, tmp_path):
    """Queued for S-b; before it is due, the provider reports its number unsubscribed by someone
    else who holds it too: the message is withheld, and nothing reaches that number."""
    create_tables(warehouse)
    publish_places(warehouse)
    crowd = people(eligible=10)
    publish_week(warehouse, WEEK, crowd)
    target = _messaged(crowd)[0]
    decide_audience(warehouse, WEEK, AUDIENCE, now=at(WEEK, 10), queue_settings=QueueSettings(max_week_age_days=7))
    queue_messages(warehouse, WEEK, campaign_id=CAMPAIGN, now=at(WEEK, 10), run_id="run-1",
                   message_settings=MessageSettings(opt_out_number="080-123-4567"),
                   queue_settings=QueueSettings(max_week_age_days=7), places=published_places(warehouse, WEEK),
                   dong_centroid=Gazetteer.bundled().dong_centroid)
    _opt_out(warehouse, "SOMEONE-ELSE", target.phone_e164, at(WEEK, 10, 30))

    queued = warehouse.rows("SELECT COUNT(*) AS n FROM `{{ outreach }}.messages` WHERE state = 'queued'")[0]["n"]
    sink = LocalSink(tmp_path / "sms.jsonl", clock=lambda: at(WEEK, 11))
    summary = send_pending(warehouse, sink, CAMPAIGN, clock=lambda: at(WEEK, 11), settings=OutboxSettings())
    assert summary["skipped: opted_out_before_send"] == 1 and summary["sent"] == queued - 1, str(summary)
    row = warehouse.rows("SELECT state, reason FROM `{{ outreach }}.messages` WHERE customer_id = @c",
                         {"c": target.customer_id})[0]
    assert (row["state"], row["reason"]) == ("skipped", "opted_out_before_send")
    assert target.phone_e164 not in (tmp_path / "sms.jsonl").read_text(encoding="utf-8")
