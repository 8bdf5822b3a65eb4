"""Synthetic contacts for generated or IBM customers: deterministic, numbers that reach no one.

Phone numbers are `+82 10-0xxx-xxxx`: Korean mobile numbers are `010` followed by eight
digits, and the Ministry of Science and ICT allocates subscriber numbers starting with 2-9
only, so the `010-0` block belongs to no subscriber. They pass the platform's format check
(so the outreach path is exercised end to end) but reach no one; every row is also marked
synthetic, and the local SMS sink is the default transport.

Each customer's contact is drawn from a generator seeded by (seed, customer id), so it does
not depend on which other customers or weeks are generated. About a quarter never gave SMS
marketing consent; consent dates spread over the three years before the history starts
(some older than the two-year re-confirmation period); one in ten of the consenting also
allowed night-time messages; a few percent opt out during the year (a week's file shows an
opt-out from its date on). Homes are legal dongs of Seoul, from the bundled polygons.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
from functools import cache

from retention.config import BUNDLED_DATA_DIR, BUNDLED_TELCO_SNAPSHOT
from retention.synthetic.history import HISTORY_START

HEADER = [
    "customer_id", "phone", "sms_consent", "sms_consent_date", "night_consent", "opted_out", "opted_out_date",
    "home_dong_code", "home_dong_name", "home_district", "synthetic",
]
NO_CONSENT_SHARE = 0.25
NIGHT_CONSENT_SHARE = 0.10
OPT_OUT_SHARE = 0.04
CONSENT_SPAN_DAYS = 3 * 365


@cache
def seoul_dongs() -> list[tuple[str, str, str]]:
    """(legal dong code, dong name, district name) for Seoul's 467 legal dongs."""
    geo = BUNDLED_DATA_DIR / "geo"
    districts = {
        f["properties"]["SIG_CD"]: f["properties"]["SIG_KOR_NM"]
        for f in json.loads((geo / "seoul_municipalities_geo_simple.json").read_text(encoding="utf-8"))["features"]
    }
    dongs = json.loads((geo / "seoul_neighborhoods_geo_simple.json").read_text(encoding="utf-8"))["features"]
    return sorted(
        (p["EMD_CD"], p["EMD_KOR_NM"], districts[p["EMD_CD"][:5]]) for p in (f["properties"] for f in dongs)
    )


def synthetic_phone(number: int) -> str:
    """E.164 in the unallocated 010-0 block: +82 10 0 followed by seven digits."""
    if not 0 <= number < 10_000_000:
        raise ValueError("the 010-0 block holds ten million numbers")
    return f"+82100{number:07d}"


@cache
def _ibm_positions() -> dict[str, int]:
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {customer_id: index for index, customer_id in enumerate(sorted(row[0] for row in reader))}


def phone_number_for(customer_id: str) -> str:
    """Stable and unique per customer: IBM customers by their sorted position (9,000,000 on),
    generated customers `N<yymmdd>-<k>` by week since HISTORY_START and k."""
    if customer_id in _ibm_positions():
        return synthetic_phone(9_000_000 + _ibm_positions()[customer_id])
    match = re.fullmatch(r"N(\d{6})-(\d{4})", customer_id)
    if not match:
        raise ValueError(f"no synthetic phone number for {customer_id!r}: not an IBM or generated customer id")
    week = dt.datetime.strptime(match.group(1), "%y%m%d").date()
    return synthetic_phone((week - HISTORY_START).days // 7 * 10_000 + int(match.group(2)))


def contact_for(customer_id: str, seed: int, week: dt.date) -> dict[str, str]:
    """One customer's contact as it stands in `week`; the same customer gets the same consent,
    phone and home in every week, and an opt-out shows from its date on."""
    rng = random.Random(f"{seed}:{customer_id}")
    consent = rng.random() >= NO_CONSENT_SHARE
    consent_date = HISTORY_START - dt.timedelta(days=rng.randrange(7, CONSENT_SPAN_DAYS))
    night = consent and rng.random() < NIGHT_CONSENT_SHARE
    opt_out_date = HISTORY_START + dt.timedelta(days=rng.randrange(0, 365))
    opted_out = consent and rng.random() < OPT_OUT_SHARE and opt_out_date <= week
    code, dong, district = rng.choice(seoul_dongs())
    return {
        "customer_id": customer_id,
        "phone": phone_number_for(customer_id),
        "sms_consent": "Yes" if consent else "No",
        "sms_consent_date": consent_date.isoformat() if consent else "",
        "night_consent": "Yes" if night else "No",
        "opted_out": "Yes" if opted_out else "No",
        "opted_out_date": opt_out_date.isoformat() if opted_out else "",
        "home_dong_code": code,
        "home_dong_name": dong,
        "home_district": district,
        "synthetic": "true",
    }


def contacts_file(customer_ids: list[str], seed: int, week: dt.date) -> str:
    """CSV text of the contacts of `customer_ids` for one week."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(contact_for(customer_id, seed, week) for customer_id in customer_ids)
    return out.getvalue()
