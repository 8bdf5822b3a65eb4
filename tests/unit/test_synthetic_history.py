"""The generated weekly history: deterministic, marked synthetic, and free of future knowledge."""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache

import pytest

from retention.config import BUNDLED_TELCO_SNAPSHOT
from retention.synthetic.contacts import contacts_file, phone_number_for
from retention.synthetic.history import HISTORY_START, weekly_snapshots

WEEKS = [dt.date(2026, 11, 2) + dt.timedelta(weeks=i) for i in range(4)]
LABEL_AND_AFTER_THE_FACT = ["Churn", "churn_rate", "Churn Category", "Churn Reason", "Satisfaction Score",
                            "Churn Score", "Churn Score.1", "Customer Status"]


@cache
def ibm() -> tuple[list[str], list[list[str]]]:
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


@cache
def history(weeks: tuple[dt.date, ...], seed: int = 42) -> dict[dt.date, dict[str, dict[str, str]]]:
    files = weekly_snapshots(*ibm(), list(weeks), seed)
    return {week: {row["customerID"]: row for row in csv.DictReader(text.splitlines())} for week, text in files.items()}


def test_the_same_seed_gives_byte_identical_files_and_another_seed_does_not():
    first = weekly_snapshots(*ibm(), WEEKS, 42)
    assert first == weekly_snapshots(*ibm(), WEEKS, 42)
    assert first[WEEKS[-1]] != weekly_snapshots(*ibm(), WEEKS[-1:], 7)[WEEKS[-1]]


def test_a_weeks_file_does_not_depend_on_which_weeks_are_asked_for():
    assert weekly_snapshots(*ibm(), WEEKS, 42)[WEEKS[2]] == weekly_snapshots(*ibm(), [WEEKS[2]], 42)[WEEKS[2]]


def test_only_mondays_from_the_start_of_the_history_exist():
    with pytest.raises(ValueError, match="not a Monday on or after"):
        weekly_snapshots(*ibm(), [HISTORY_START - dt.timedelta(weeks=1)], 42)
    with pytest.raises(ValueError, match="not a Monday"):
        weekly_snapshots(*ibm(), [dt.date(2026, 11, 4)], 42)


def test_every_row_is_marked_synthetic_and_dated():
    weeks = history(tuple(WEEKS))
    for week, rows in weeks.items():
        assert {row["synthetic"] for row in rows.values()} == {"true"}
        assert {row["snapshot_date"] for row in rows.values()} == {week.isoformat()}


def test_customers_leave_and_join_and_leavers_are_mostly_those_ibm_says_churn():
    weeks = history(tuple(WEEKS))
    ibm_churned = {row[0] for row in ibm()[1] if row[20] == "Yes"}
    left = set(weeks[WEEKS[0]]) - set(weeks[WEEKS[-1]])
    joined = set(weeks[WEEKS[-1]]) - set(weeks[WEEKS[0]])
    assert len(left) > 50 and len(joined) > 50
    assert all(customer_id.startswith("N") for customer_id in joined)
    present = set(weeks[WEEKS[0]]) & {row[0] for row in ibm()[1]}
    churner_rate = len(left & present & ibm_churned) / len(present & ibm_churned)
    other_rate = len((left & present) - ibm_churned) / len(present - ibm_churned)
    assert churner_rate > 5 * other_rate, "leaving must carry signal a model can learn"


def test_nothing_in_earlier_weeks_reveals_who_leaves_in_week_three():
    weeks = history(tuple(WEEKS[:3]))
    leaving_in_week_3 = set(weeks[WEEKS[1]]) - set(weeks[WEEKS[2]])
    assert leaving_in_week_3
    for week in WEEKS[:2]:
        rows = weeks[week].values()
        for column in LABEL_AND_AFTER_THE_FACT:
            leavers = {row[column] for row in rows if row["customerID"] in leaving_in_week_3}
            stayers = {row[column] for row in rows if row["customerID"] not in leaving_in_week_3}
            assert leavers <= stayers, f"{column} in {week} tells leavers apart"
        assert {row["Churn"] for row in rows} == {"No"}
        assert {row["Satisfaction Score"] for row in rows} == {""}


def test_tenure_advances_and_charges_accumulate_on_month_boundaries_only():
    weeks = [dt.date(2026, 11, 23), dt.date(2026, 11, 30), dt.date(2026, 12, 7)]
    history_ = history(tuple(weeks))
    same_month = _stayer(history_, weeks[0], weeks[1])
    assert history_[weeks[1]][same_month]["tenure"] == history_[weeks[0]][same_month]["tenure"]
    crossing = _stayer(history_, weeks[1], weeks[2], unchanged_charge=True)
    before, after = history_[weeks[1]][crossing], history_[weeks[2]][crossing]
    assert int(after["tenure"]) == int(before["tenure"]) + 1
    assert float(after["TotalCharges"]) == pytest.approx(float(before["TotalCharges"]) + float(before["MonthlyCharges"]))


def _stayer(history_, week, next_week, unchanged_charge=False) -> str:
    for customer_id, row in history_[week].items():
        later = history_[next_week].get(customer_id)
        if later and int(row["tenure"]) > 0 and (not unchanged_charge or later["MonthlyCharges"] == row["MonthlyCharges"]):
            return customer_id
    raise AssertionError("no customer stayed")


def test_a_history_of_any_size_is_reproducible_and_its_customers_and_phones_are_unique():
    weeks = [HISTORY_START + dt.timedelta(weeks=i) for i in (0, 3)]
    first = weekly_snapshots(*ibm(), weeks, 42, customers=20_000)
    assert first == weekly_snapshots(*ibm(), weeks, 42, customers=20_000)
    start, later = ([row for row in csv.DictReader(first[w].splitlines())] for w in weeks)
    assert len(start) == 20_000
    ids = [row["customerID"] for row in later]
    assert len(set(ids)) == len(ids)
    assert sum(i.startswith("G") for i in ids) > 10_000, "copies of IBM customers beyond the first 7,043"
    assert any(i.startswith("N") for i in ids), "joiners"
    copies = [row for row in start if row["customerID"].startswith("G")]
    homes = {(row["Latitude"], row["MonthlyCharges"]) for row in copies}
    assert len(homes) > 0.9 * len(copies), "a copy is not its template row again"
    assert all(float(r["TotalCharges"]) >= float(r["MonthlyCharges"]) for r in copies if int(r["tenure"]) > 0)
    phones = contacts_file(ids, 42, weeks[-1])
    numbers = [c["phone"] for c in csv.DictReader(phones.splitlines())]
    assert len(set(numbers)) == len(ids)
    assert all(p[:6] in ("+82100", "+82101") and len(p) == 13 for p in numbers), "the unallocated 010-0/010-1 blocks"


def test_fewer_customers_than_the_ibm_file_start_from_its_first_rows():
    week = weekly_snapshots(*ibm(), [HISTORY_START], 42, customers=100)[HISTORY_START]
    assert [row["customerID"] for row in csv.DictReader(week.splitlines())] == [row[0] for row in ibm()[1][:100]]


def test_contacts_have_unique_stable_numbers_that_reach_no_one():
    ids = sorted(history(tuple(WEEKS))[WEEKS[-1]])
    contacts = list(csv.DictReader(contacts_file(ids, 42, WEEKS[-1]).splitlines()))
    phones = [c["phone"] for c in contacts]
    assert len(set(phones)) == len(ids)
    assert all(p.startswith("+82100") and len(p) == 13 for p in phones), "the unallocated 010-0 block"
    with pytest.raises(ValueError, match="not an IBM or generated customer id"):
        phone_number_for("someone-else")
    assert phone_number_for(ids[0]) == contacts[0]["phone"]
    no_consent = sum(c["sms_consent"] == "No" for c in contacts) / len(contacts)
    assert 0.2 < no_consent < 0.3
    assert {c["synthetic"] for c in contacts} == {"true"}
    earlier = {c["customer_id"]: c for c in csv.DictReader(contacts_file(ids, 42, WEEKS[0]).splitlines())}
    assert all(earlier[c["customer_id"]]["phone"] == c["phone"] for c in contacts)
