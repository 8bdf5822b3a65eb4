"""Whether a marketing consent still stands, by the Network Act's two-year rule (art. 50(8)).

The sender must confirm each recipient's consent every two years from the day it was given:
a notice saying that they consented, when, and how to withdraw (Enforcement Decree art. 62-3).
The consent itself does not expire: once the notice has gone out and the recipient has not
withdrawn, it is left standing for the next two years. What the platform may not do is rely on
a consent whose anniversary passed without that notice. So a consent given on `c` stands on
day `d` when

- `d` is within the first period (`d - c <= period`, 730 days: never more than two calendar
  years), or
- the notice for the anniversary the consent is in now (`c + k * period`, the latest one on or
  before `d`) has been sent (a later anniversary's notice counts too: the recipient was told).

A notice sent late (after its anniversary) restores the standing from then on: in between the
consent is not relied on (`consent_not_reconfirmed`). A new consent date (re-consent) starts
the count again. The audience (`audience.exclusion_reason`) and the sender (`outbox._withheld`)
both ask this module, so the rule has one home.
"""

from __future__ import annotations

import datetime as dt

DEFAULT_PERIOD_DAYS = 730


def current_anniversary(consent_date: dt.date, on: dt.date, period_days: int = DEFAULT_PERIOD_DAYS) -> dt.date | None:
    """The latest anniversary (`consent_date + k * period`, k >= 1) strictly before `on`'s period
    ends; None while `on` is still within the first period."""
    age = (on - consent_date).days
    if age <= period_days:
        return None
    periods = (age - 1) // period_days  # age in (k*P, (k+1)*P] -> anniversary k
    return consent_date + dt.timedelta(days=periods * period_days)


def consent_stands(consent_date: dt.date | None, on: dt.date, *, reconfirmed_anniversary: dt.date | None,
                   period_days: int = DEFAULT_PERIOD_DAYS) -> bool:
    """True when a consent given on `consent_date` may be relied on for a message on `on`;
    `reconfirmed_anniversary` is the latest anniversary of that consent whose notice was sent."""
    if consent_date is None:
        return False
    due = current_anniversary(consent_date, on, period_days)
    return due is None or (reconfirmed_anniversary is not None and reconfirmed_anniversary >= due)


def anniversary_to_notify(consent_date: dt.date, on: dt.date, *, lead_days: int,
                          period_days: int = DEFAULT_PERIOD_DAYS) -> dt.date | None:
    """The anniversary whose notice is due on `on`: the one `lead_days` or fewer ahead, or the
    one the consent is in (already passed: a late notice still goes, to restore the standing);
    None in the first period before the lead time."""
    periods = ((on - consent_date).days + lead_days) // period_days
    if periods < 1:
        return None
    return consent_date + dt.timedelta(days=periods * period_days)
