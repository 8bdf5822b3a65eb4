"""The two-year rule (consent_standing) and the informational notices' text (notice_text)."""

from __future__ import annotations

import datetime as dt

import pytest
from retention.outreach.audience import AudienceSettings, Candidate, exclusion_reason
from retention.outreach.consent_standing import anniversary_to_notify, consent_stands, current_anniversary
from retention.outreach.message import AD_MARK, TemplateError, segment_info
from retention.outreach.notice_text import KINDS, RECONFIRMATION, check_notice, render_notice

CONSENT = dt.date(2024, 12, 10)
FIRST = CONSENT + dt.timedelta(days=730)
SECOND = CONSENT + dt.timedelta(days=1460)


def test_a_consent_stands_two_years_then_only_with_the_notice_of_its_current_anniversary():
    assert consent_stands(CONSENT, FIRST, reconfirmed_anniversary=None)  # the anniversary is the last day
    assert current_anniversary(CONSENT, FIRST) is None
    assert current_anniversary(CONSENT, FIRST + dt.timedelta(days=1)) == FIRST
    assert not consent_stands(CONSENT, FIRST + dt.timedelta(days=1), reconfirmed_anniversary=None)
    assert consent_stands(CONSENT, FIRST + dt.timedelta(days=1), reconfirmed_anniversary=FIRST)
    assert consent_stands(CONSENT, SECOND, reconfirmed_anniversary=FIRST)
    # Two years after the first notice, the second one is needed.
    assert not consent_stands(CONSENT, SECOND + dt.timedelta(days=1), reconfirmed_anniversary=FIRST)
    assert consent_stands(CONSENT, SECOND + dt.timedelta(days=1), reconfirmed_anniversary=SECOND)
    assert not consent_stands(None, FIRST, reconfirmed_anniversary=None)


def test_the_notice_is_due_from_the_lead_time_before_each_anniversary_and_late_after_it():
    assert anniversary_to_notify(CONSENT, FIRST - dt.timedelta(days=31), lead_days=30) is None
    assert anniversary_to_notify(CONSENT, FIRST - dt.timedelta(days=30), lead_days=30) == FIRST
    assert anniversary_to_notify(CONSENT, FIRST + dt.timedelta(days=100), lead_days=30) == FIRST  # late, still due
    assert anniversary_to_notify(CONSENT, SECOND - dt.timedelta(days=30), lead_days=30) == SECOND


def test_the_audience_rule_relies_on_an_old_consent_only_after_its_re_confirmation_went_out():
    settings = AudienceSettings(campaign_id="c", holdout_share=0.1, consent_valid_days=730, cooldown_days=28)
    week = FIRST + dt.timedelta(days=14)
    candidate = Candidate(customer_id="A", phone_e164="+821012345678", sms_consent=True, sms_consent_date=CONSENT,
                          opted_out=False, home_dong_code="11680101", in_campaign=False, last_messaged_at=None)
    assert exclusion_reason(candidate, week, settings) == "consent_not_reconfirmed"
    from dataclasses import replace

    assert exclusion_reason(replace(candidate, reconfirmed_anniversary=FIRST), week, settings) is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_notice_is_informational_names_the_sender_and_the_dates(kind):
    notice = render_notice(kind, sender="KT", opt_out_number="080-123-4567", max_segments=3,
                           consent_date=CONSENT, requested_on=dt.date(2026, 11, 20), processed_on=dt.date(2026, 11, 23))
    assert not notice.text.startswith(AD_MARK) and AD_MARK not in notice.text
    assert notice.text.startswith("[KT] ")
    assert "할인" not in notice.text and "배움터" not in notice.text  # no offer
    assert notice.segments == segment_info(notice.text).segments <= 3
    if kind == RECONFIRMATION:
        assert "2024년 12월 10일" in notice.text and "080-123-4567" in notice.text  # when, and how to withdraw
    else:
        assert "2026년 11월 20일" in notice.text and "2026년 11월 23일" in notice.text  # asked, processed


def test_a_notice_that_would_read_as_an_advertisement_or_an_offer_is_refused():
    assert check_notice("(광고)[KT] 안내", sender="KT")
    assert check_notice("[KT] 요금 10% 할인", sender="KT")
    assert check_notice("안내 [KT]", sender="KT")
    assert check_notice("[KT] 안내", sender="KT") == []
    with pytest.raises(TemplateError, match="RETENTION_NOTICE_MAX_SEGMENTS"):
        render_notice(RECONFIRMATION, sender="KT", opt_out_number="080-123-4567", max_segments=1, consent_date=CONSENT)
