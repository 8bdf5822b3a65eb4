"""Synthetic contacts for generated or IBM customers: deterministic, numbers that reach no one.

Phone numbers are `+82 10-0xxx-xxxx` or `+82 10-1xxx-xxxx`: Korean mobile numbers are `010`
followed by eight digits, and the Ministry of Science and ICT allocates subscriber numbers
starting with 2-9 only, so the `010-0` and `010-1` blocks (twenty million numbers) belong to
no subscriber. Each customer's number comes from its place (IBM customers by sorted id) or
from the serial in its generated id, so numbers are unique whatever the size. They pass the platform's format check
(so the outreach path is exercised end to end) but reach no one; every row is also marked
synthetic, and the local SMS sink is the default transport.

Each customer's contact is drawn from a hash of (seed, customer id), so it does not depend on
which other customers or weeks are generated; a week of a million contacts is a few vectorised
passes. About a quarter never gave SMS
marketing consent; consent dates spread over the three years before the history starts
(some older than the two-year re-confirmation period); one in ten of the consenting also
allowed night-time messages; a few percent opt out during the year (a week's file shows an
opt-out from its date on). Homes are legal dongs of Seoul, from the bundled polygons.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd

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


PHONE_NUMBERS = 20_000_000
"""How many numbers the two unallocated blocks hold: 010-0000-0000 to 010-1999-9999."""
GENERATED_ID = r"^(?:G|N\d{6}-)(\d{8})$"


def synthetic_phone(number: int) -> str:
    """E.164 in the unallocated 010-0 and 010-1 blocks: +82 10 followed by eight digits."""
    if not 0 <= number < PHONE_NUMBERS:
        raise ValueError(f"the unallocated 010-0 and 010-1 blocks hold {PHONE_NUMBERS:,} numbers, not {number:,}")
    return f"+8210{number:08d}"


@cache
def _ibm_positions() -> dict[str, int]:
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {customer_id: index for index, customer_id in enumerate(sorted(row[0] for row in reader))}


def phone_numbers(customer_ids: Sequence[str]) -> np.ndarray:
    """Stable and unique per customer: IBM customers by their sorted position (0 to 7,042),
    generated customers (`G<serial>`, `N<yymmdd>-<serial>`) by their serial (7,043 on)."""
    ids = pd.Series(list(customer_ids), dtype=object)
    number = ids.map(_ibm_positions()).astype("Float64")
    generated = pd.to_numeric(ids.str.extract(GENERATED_ID, expand=False), errors="coerce")
    number = number.fillna(generated)
    unknown = ids[number.isna().to_numpy()]
    if len(unknown):
        raise ValueError(
            f"no synthetic phone number for {unknown.iloc[0]!r} ({len(unknown)} such ids): not an IBM or generated "
            "customer id; synthetic contacts are only for the synthetic history's customers"
        )
    number = number.to_numpy(dtype=float).astype(np.int64)
    if (number >= PHONE_NUMBERS).any():
        raise ValueError(f"serial {number.max():,} is beyond the {PHONE_NUMBERS:,} unallocated numbers: "
                         "generate fewer customers or fewer weeks")
    return ("+8210" + pd.Series(number).astype(str).str.zfill(8)).to_numpy(dtype=object)


def phone_number_for(customer_id: str) -> str:
    return str(phone_numbers([customer_id])[0])


def _uniform(customer_ids: Sequence[str], seed: int, draws: int) -> np.ndarray:
    """(customers, draws) uniform numbers in [0, 1), each row a function of (seed, id) alone:
    a 64-bit BLAKE2 hash of both, spread over `draws` streams by SplitMix64."""
    keys = np.fromiter(
        (int.from_bytes(hashlib.blake2b(f"{seed}:{c}".encode(), digest_size=8).digest(), "little")
         for c in customer_ids), dtype=np.uint64, count=len(customer_ids),
    )
    streams = keys[:, None] + np.arange(1, draws + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (streams ^ (streams >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def contacts_frame(customer_ids: Sequence[str], seed: int, week: dt.date) -> pd.DataFrame:
    """The contacts of `customer_ids` as they stand in `week`, one row each, as text: the same
    customer gets the same consent, phone and home in every week, and an opt-out shows from its date on."""
    ids = list(customer_ids)
    u = _uniform(ids, seed, 6)
    consent = u[:, 0] >= NO_CONSENT_SHARE
    start = np.datetime64(HISTORY_START, "D")
    consent_date = start - (7 + (u[:, 1] * (CONSENT_SPAN_DAYS - 7)).astype(np.int64)).astype("timedelta64[D]")
    night = consent & (u[:, 2] < NIGHT_CONSENT_SHARE)
    opt_out_date = start + (u[:, 3] * 365).astype(np.int64).astype("timedelta64[D]")
    opted_out = consent & (u[:, 4] < OPT_OUT_SHARE) & (opt_out_date <= np.datetime64(week, "D"))
    dongs = np.array(seoul_dongs(), dtype=object)[(u[:, 5] * len(seoul_dongs())).astype(np.int64)]
    yes_no = np.array(["No", "Yes"], dtype=object)
    return pd.DataFrame({
        "customer_id": np.asarray(ids, dtype=object),
        "phone": phone_numbers(ids),
        "sms_consent": yes_no[consent.astype(int)],
        "sms_consent_date": np.where(consent, consent_date.astype(str).astype(object), ""),
        "night_consent": yes_no[night.astype(int)],
        "opted_out": yes_no[opted_out.astype(int)],
        "opted_out_date": np.where(opted_out, opt_out_date.astype(str).astype(object), ""),
        "home_dong_code": dongs[:, 0] if len(ids) else [],
        "home_dong_name": dongs[:, 1] if len(ids) else [],
        "home_district": dongs[:, 2] if len(ids) else [],
        "synthetic": "true",
    }, columns=HEADER)


def contact_for(customer_id: str, seed: int, week: dt.date) -> dict[str, str]:
    """One customer's contact as it stands in `week` (see `contacts_frame`)."""
    return contacts_frame([customer_id], seed, week).iloc[0].to_dict()


CONTACT_ROWS = 200_000


def write_contacts(customer_ids: Sequence[str], seed: int, week: dt.date, handle) -> None:
    """CSV of the contacts of `customer_ids` for one week, written a block at a time."""
    csv.writer(handle, lineterminator="\n").writerow(HEADER)
    for start in range(0, len(customer_ids), CONTACT_ROWS):
        block = contacts_frame(customer_ids[start:start + CONTACT_ROWS], seed, week)
        block.to_csv(handle, header=False, index=False, lineterminator="\n")


def contacts_file(customer_ids: Sequence[str], seed: int, week: dt.date) -> str:
    """CSV text of the contacts of `customer_ids` for one week."""
    out = io.StringIO()
    write_contacts(list(customer_ids), seed, week, out)
    return out.getvalue()
