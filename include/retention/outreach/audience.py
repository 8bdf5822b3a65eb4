"""Who the weekly senior campaign may message, and who is held out as control.

The audience of a scored week is every customer aged 65+ who is newly at risk that week. Each
one is either excluded, with the first reason that applies (kept, so a marketer can see why
someone was not messaged), or assigned to the campaign's groups: a deterministic share
(`RETENTION_OUTREACH_HOLDOUT_SHARE`, default 10%) is held out as control and never messaged,
so the campaign's effect on churn can be measured; the rest is messaged.

Rules, in order: SMS marketing consent given; consent not older than the re-confirmation
period (the Act asks senders to re-confirm consent every two years:
`RETENTION_OUTREACH_CONSENT_VALID_DAYS`, default 730); not opted out; a valid Korean mobile
number; a home legal dong (to find the nearest places); not already in this campaign; not
messaged by any campaign within the cool-down (`RETENTION_OUTREACH_COOLDOWN_DAYS`, default 28).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass

from retention.outreach.consent_standing import consent_stands

KOREAN_MOBILE = re.compile(r"^\+8210\d{8}$")
MESSAGE, HOLDOUT = "message", "holdout"


@dataclass(frozen=True)
class AudienceSettings:
    campaign_id: str
    holdout_share: float
    consent_valid_days: int
    cooldown_days: int

    @classmethod
    def from_env(cls) -> AudienceSettings:
        share = float(os.environ.get("RETENTION_OUTREACH_HOLDOUT_SHARE", "0.10"))
        if not 0 <= share < 1:
            raise ValueError(f"RETENTION_OUTREACH_HOLDOUT_SHARE={share}: give a share from 0 to below 1 (0.10 = 10%)")
        return cls(
            campaign_id=os.environ.get("RETENTION_OUTREACH_CAMPAIGN", "senior-digital-literacy"),
            holdout_share=share,
            consent_valid_days=int(os.environ.get("RETENTION_OUTREACH_CONSENT_VALID_DAYS", "730")),
            cooldown_days=int(os.environ.get("RETENTION_OUTREACH_COOLDOWN_DAYS", "28")),
        )


@dataclass(frozen=True)
class Candidate:
    """A newly at-risk senior of the week, with their contact as published that week."""

    customer_id: str
    phone_e164: str | None
    sms_consent: bool | None
    sms_consent_date: dt.date | None
    opted_out: bool | None
    home_dong_code: str | None
    in_campaign: bool
    """Already has a row in this campaign's outbox (any state)."""
    last_messaged_at: dt.datetime | None
    """Last message actually sent to them by any campaign."""
    reconfirmed_anniversary: dt.date | None = None
    """The latest anniversary of this consent whose re-confirmation notice was sent
    (`consent_standing`: the consent stands past two years only with it)."""


def exclusion_reason(candidate: Candidate, week: dt.date, settings: AudienceSettings) -> str | None:
    """Why `candidate` may not be messaged for `week`, or None when they may."""
    if not candidate.sms_consent:
        return "no_sms_consent"
    if not consent_stands(candidate.sms_consent_date, week, reconfirmed_anniversary=candidate.reconfirmed_anniversary,
                          period_days=settings.consent_valid_days):
        return "consent_not_reconfirmed"
    if candidate.opted_out or candidate.opted_out is None:
        return "opted_out"
    if not candidate.phone_e164 or not KOREAN_MOBILE.fullmatch(candidate.phone_e164):
        return "not_a_korean_mobile_number"
    if not candidate.home_dong_code:
        return "no_home_dong"
    if candidate.in_campaign:
        return "already_in_campaign"
    week_start = dt.datetime.combine(week, dt.time(0), dt.UTC)
    if candidate.last_messaged_at and week_start - candidate.last_messaged_at < dt.timedelta(days=settings.cooldown_days):
        return "cool_down"
    return None


def group(campaign_id: str, customer_id: str, holdout_share: float) -> str:
    """`holdout` or `message`, the same for a customer in a campaign however often it is asked:
    a uniform number from a hash of both, compared with the share."""
    digest = hashlib.sha256(f"{campaign_id}\x1f{customer_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return HOLDOUT if draw < holdout_share else MESSAGE
