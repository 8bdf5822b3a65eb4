"""The campaign's audience rules and its holdout: who may be messaged, why not, and a control
group that is the same whenever it is drawn."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from retention.outreach.audience import HOLDOUT, AudienceSettings, Candidate, exclusion_reason, group

WEEK = dt.date(2026, 11, 23)
SETTINGS = AudienceSettings("senior-digital-literacy", 0.10, consent_valid_days=730, cooldown_days=28)
OK = Candidate("0001-A", "+821012345678", True, dt.date(2025, 6, 1), False, "11680106", False, None)


@pytest.mark.parametrize(("change", "reason"), [
    ({}, None),
    ({"sms_consent": False}, "no_sms_consent"),
    ({"sms_consent": None}, "no_sms_consent"),
    ({"sms_consent_date": dt.date(2024, 11, 22)}, "consent_not_reconfirmed"),  # 731 days before the week
    ({"sms_consent_date": dt.date(2024, 11, 23)}, None),  # exactly two years
    ({"opted_out": True}, "opted_out"),
    ({"phone_e164": "+82212345678"}, "not_a_korean_mobile_number"),  # a Seoul landline
    ({"phone_e164": "010-1234-5678"}, "not_a_korean_mobile_number"),
    ({"home_dong_code": None}, "no_home_dong"),
    ({"in_campaign": True}, "already_in_campaign"),
    ({"last_messaged_at": dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)}, "cool_down"),
    ({"last_messaged_at": dt.datetime(2026, 10, 20, 3, tzinfo=dt.UTC)}, None),
])
def test_each_rule_excludes_with_its_reason(change, reason):
    assert exclusion_reason(dataclasses.replace(OK, **change), WEEK, SETTINGS) == reason


def test_the_holdout_is_deterministic_and_about_the_configured_share():
    customers = [f"{n:04d}-X" for n in range(20_000)]
    groups = [group("senior-digital-literacy", c, 0.10) for c in customers]
    assert groups == [group("senior-digital-literacy", c, 0.10) for c in customers]
    assert groups.count(HOLDOUT) / len(groups) == pytest.approx(0.10, abs=0.006)
    # Another campaign draws another control group.
    other = [group("another-campaign", c, 0.10) for c in customers]
    assert sum(a != b for a, b in zip(groups, other, strict=True)) > 2_000


def test_a_holdout_share_outside_0_to_1_is_refused(monkeypatch):
    monkeypatch.setenv("RETENTION_OUTREACH_HOLDOUT_SHARE", "10")
    with pytest.raises(ValueError, match="0.10 = 10%"):
        AudienceSettings.from_env()
