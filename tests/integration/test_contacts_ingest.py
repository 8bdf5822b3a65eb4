"""A contacts file through land -> validate -> publish: bad numbers are rejected, not sent to."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from retention.config import BUNDLED_TELCO_SNAPSHOT
from retention.ingest.contacts import land_contacts, publish_contacts, validate_contacts
from retention.ingest.customers import ensure_tables, land_snapshot
from retention.synthetic.contacts import HEADER, contact_for

pytestmark = pytest.mark.emulator

WEEK = dt.date(2026, 11, 23)


def _contacts(ids: list[str]) -> list[dict[str, str]]:
    return [contact_for(customer_id, 42, WEEK) for customer_id in ids]


def _write(folder, contacts: list[dict[str, str]]) -> None:
    with (folder / f"contacts_{WEEK}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(contacts)


def test_local_formats_are_normalised_and_malformed_numbers_are_rejected_with_the_row_and_reason(warehouse, tmp_path):
    ensure_tables(warehouse)
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8") as handle:
        ids = [row[0] for row in list(csv.reader(handle))[1:401]]
    contacts = _contacts(ids)
    contacts[0]["phone"] = "010-0000-1234"       # local format: accepted as +821000001234
    contacts[1]["phone"] = "+82 10 0000 5678"    # spaced E.164: accepted
    contacts[2]["phone"] = "02-123-4567"         # a Seoul landline: not a mobile number
    contacts[3]["phone"] = "not a phone"
    contacts[4]["sms_consent"] = "maybe"
    _write(tmp_path, contacts)

    landed = land_contacts(warehouse, WEEK, source=str(tmp_path))
    result = validate_contacts(warehouse, landed)
    publish_contacts(warehouse, WEEK, landed.load_id)

    assert result["decision"] == "publish_with_warnings"
    assert result["rows_quarantined"] == 3 and "3 of 400 rows quarantined" in result["message"]
    rejected = warehouse.rows("SELECT source_row, reasons, record FROM `{{ ops }}.quarantine` ORDER BY source_row")
    assert [r["source_row"] for r in rejected] == [4, 5, 6]
    assert "phone (11 characters, value withheld) is not a Korean mobile number" in _parse_errors(rejected[0])
    assert "phone (11 characters, value withheld) is not a Korean mobile number" in _parse_errors(rejected[1])
    stored = " ".join(str(v) for r in rejected for v in r.values())
    assert "02-123-4567" not in stored and "+8210" not in stored, "phone numbers stay out of ops tables"
    messages = " ".join(r["message"] for r in warehouse.rows("SELECT message FROM `{{ ops }}.validation_runs`"))
    samples = " ".join(str(r["sample"]) for r in warehouse.rows("SELECT sample FROM `{{ ops }}.validation_results`"))
    assert "02-123-4567" not in messages + samples
    assert 'sms_consent="maybe" is not Yes or No' in _parse_errors(rejected[2])
    # core.contacts keeps each number's key; the number itself is in contact.phone_numbers only.
    core_columns = {f.name for f in warehouse.client.get_table(warehouse.table_id("core", "contacts")).schema}
    assert "phone_e164" not in core_columns
    published = {r["customer_id"]: r["phone_e164"] for r in warehouse.rows(
        "SELECT contacts.customer_id, numbers.phone_e164 FROM `{{ core }}.contacts` AS contacts "
        "JOIN `{{ contact }}.phone_numbers` AS numbers USING (phone_key)")}
    assert len(published) == 397
    assert published[ids[0]] == "+821000001234" and published[ids[1]] == "+821000005678"
    assert ids[2] not in published and ids[3] not in published


def _parse_errors(row: dict) -> str:
    import json

    return json.loads(row["record"])["parse_errors"]


def test_synthetic_contacts_follow_the_weeks_customers(warehouse):
    ensure_tables(warehouse)
    land_snapshot(warehouse, WEEK, source="bundled")
    landed = land_contacts(warehouse, WEEK, source="synthetic")
    assert landed.rows == 7043 and landed.source_uri == f"synthetic://contacts/seed-42/{WEEK}"
    assert validate_contacts(warehouse, landed)["decision"] == "publish"
    publish_contacts(warehouse, WEEK, landed.load_id)
    counts = warehouse.rows(
        "SELECT COUNT(*) AS n, COUNTIF(is_synthetic) AS synthetic, COUNTIF(NOT sms_consent) AS no_consent "
        "FROM `{{ core }}.contacts`"
    )[0]
    assert counts["n"] == counts["synthetic"] == 7043
    assert 0.2 < counts["no_consent"] / 7043 < 0.3
