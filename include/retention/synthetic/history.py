"""Weekly customer snapshots generated from the IBM file: deterministic, marked synthetic.

The IBM data is one snapshot. This simulates the weeks after it so that "newly at risk",
backfills and out-of-time evaluation mean something. It starts from every IBM customer,
active, on `HISTORY_START` (a fixed Monday: a given week's file is the same whichever weeks
are asked for) and then, week by week:

- customers leave: each week with a hazard that is high for the customers IBM's label says
  left (`Churn` = Yes) and low for the others, so the features a model sees (contract,
  tenure, charges...) carry real signal, and only later weeks tell who left;
- new customers join, copied from a random IBM customer's profile with tenure 0;
- on a month boundary tenure advances and the charges to date accumulate;
- a few customers change contract, streaming services or monthly charge.

Every row describes an active customer as the business knows it that week: `Churn` = No,
no churn reason or category, and the columns known only after the fact or produced by
another model (`Satisfaction Score`, `Churn Score`, `Churn Score.1`) are blank. A customer
who leaves in week N is simply absent from week N on; nothing in earlier weeks reveals it.
Each row carries `snapshot_date` and `synthetic` = true.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass

SEED = 42
"""The seed of the history the demo, the Airflow UI command and the `synthetic` source use."""
HISTORY_START = dt.date(2026, 1, 5)
"""The first generated week (the DAGs' start date). Earlier weeks cannot be generated."""

WEEKLY_LEAVE_HAZARD_IF_IBM_CHURNED = 0.05
WEEKLY_LEAVE_HAZARD_OTHERWISE = 0.003
WEEKLY_JOIN_RATE = 0.012
WEEKLY_CONTRACT_CHANGE = 0.004
WEEKLY_SERVICE_CHANGE = 0.006
WEEKLY_CHARGE_CHANGE = 0.006

EXTRA_COLUMNS = ["snapshot_date", "synthetic"]
UNKNOWN_AT_THE_TIME = ("Satisfaction Score", "Churn Score", "Churn Score.1", "Churn Reason")


@dataclass
class Customer:
    row: dict[str, str]
    leave_hazard: float


def _money(value: float) -> str:
    """IBM's style: 70.7, 108.15, 0."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _number(text: str) -> float:
    text = text.strip()
    return float(text) if text else 0.0


def _as_active(row: dict[str, str]) -> dict[str, str]:
    active = dict(row)
    active["Churn"] = "No"
    active["churn_rate"] = "0"
    active["Churn Category"] = "0"
    for column in UNKNOWN_AT_THE_TIME:
        active[column] = ""
    active["Customer Status"] = "Joined" if int(active["tenure"]) <= 3 else "Stayed"
    return active


def _recompute_revenue(row: dict[str, str]) -> None:
    row["Total Revenue"] = _money(
        _number(row["TotalCharges"]) + _number(row["Total Long Distance Charges"])
        + _number(row["Total Extra Data Charges"]) - _number(row["Total Refunds"])
    )


def _advance_month(row: dict[str, str]) -> None:
    row["tenure"] = str(int(row["tenure"]) + 1)
    row["TotalCharges"] = _money(_number(row["TotalCharges"]) + _number(row["MonthlyCharges"]))
    row["Total Long Distance Charges"] = _money(
        _number(row["Total Long Distance Charges"]) + _number(row["Avg Monthly Long Distance Charges"])
    )
    _recompute_revenue(row)
    row["Customer Status"] = "Joined" if int(row["tenure"]) <= 3 else "Stayed"


def _change_contract(row: dict[str, str]) -> None:
    row["Contract"] = {"Month-to-month": "One year", "One year": "Two year", "Two year": "One year"}[row["Contract"]]


def _billable(row: dict[str, str], charge: float) -> bool:
    """The contract says charges to date cover at least one monthly charge once tenure starts:
    a change that would break that (a raise in the first month) does not happen."""
    return int(row["tenure"]) == 0 or charge <= _number(row["TotalCharges"])


def _change_service(row: dict[str, str], rng: random.Random) -> None:
    if row["InternetService"] == "No":
        return
    column = rng.choice(["StreamingTV", "StreamingMovies"])
    adding = row[column] == "No"
    charge = max(18.25, _number(row["MonthlyCharges"]) + (10.0 if adding else -10.0))
    if _billable(row, charge):
        row[column] = "Yes" if adding else "No"
        row["MonthlyCharges"] = _money(charge)


def _change_charge(row: dict[str, str], rng: random.Random) -> None:
    charge = max(18.25, round(_number(row["MonthlyCharges"]) * rng.uniform(0.9, 1.1) * 20) / 20)
    if _billable(row, charge):
        row["MonthlyCharges"] = _money(charge)


def _new_customer(template: Customer, customer_id: str) -> Customer:
    row = _as_active(template.row)
    row.update({
        "customerID": customer_id, "tenure": "0", "TotalCharges": " ", "Total Long Distance Charges": "0",
        "Total Extra Data Charges": "0", "Total Refunds": "0", "Total Revenue": "0", "Customer Status": "Joined",
        "Number of Referrals": "0", "Referred a Friend": "No",
    })
    return Customer(row, template.leave_hazard)


def simulate(ibm_header: list[str], ibm_rows: list[list[str]], seed: int) -> Iterator[tuple[dt.date, list[dict]]]:
    """Yield (week, rows) for every week from HISTORY_START on, forever; the caller stops."""
    rng = random.Random(seed)
    templates = []
    population: dict[str, Customer] = {}
    for values in ibm_rows:
        row = dict(zip(ibm_header, values, strict=True))
        churned = row["Churn"] == "Yes"
        hazard = WEEKLY_LEAVE_HAZARD_IF_IBM_CHURNED if churned else WEEKLY_LEAVE_HAZARD_OTHERWISE
        templates.append(Customer(_as_active(row), hazard))
        population[row["customerID"]] = Customer(_as_active(row), hazard)
    week = HISTORY_START
    while True:
        yield week, [dict(c.row) for c in population.values()]
        next_week = week + dt.timedelta(weeks=1)
        for customer_id in list(population):
            if rng.random() < population[customer_id].leave_hazard:
                del population[customer_id]
        for customer in population.values():
            if next_week.month != week.month:
                _advance_month(customer.row)
            draw = rng.random()
            if draw < WEEKLY_CONTRACT_CHANGE:
                _change_contract(customer.row)
            elif draw < WEEKLY_CONTRACT_CHANGE + WEEKLY_SERVICE_CHANGE:
                _change_service(customer.row, rng)
            elif draw < WEEKLY_CONTRACT_CHANGE + WEEKLY_SERVICE_CHANGE + WEEKLY_CHARGE_CHANGE:
                _change_charge(customer.row, rng)
        joining = sum(rng.random() < WEEKLY_JOIN_RATE for _ in population)
        for number in range(joining):
            customer_id = f"N{next_week:%y%m%d}-{number + 1:04d}"
            population[customer_id] = _new_customer(rng.choice(templates), customer_id)
        week = next_week


def weekly_snapshots(
    ibm_header: list[str], ibm_rows: list[list[str]], weeks: list[dt.date], seed: int
) -> dict[dt.date, str]:
    """CSV text of each asked week (Mondays on or after HISTORY_START): same seed, same bytes."""
    wanted = sorted(set(weeks))
    for week in wanted:
        if week < HISTORY_START or week.weekday() != 0:
            raise ValueError(f"{week} is not a Monday on or after {HISTORY_START}: no synthetic snapshot for it")
    header = ibm_header + EXTRA_COLUMNS
    files: dict[dt.date, str] = {}
    if not wanted:
        return files
    for week, rows in simulate(ibm_header, ibm_rows, seed):
        if week in wanted:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows([row[c] for c in ibm_header] + [week.isoformat(), "true"] for row in rows)
            files[week] = out.getvalue()
        if week >= wanted[-1]:
            return files
    return files


def synthetic_snapshot(week: dt.date, seed: int = SEED) -> str:
    """The generated snapshot of one week, from the bundled IBM file."""
    from retention.config import BUNDLED_TELCO_SNAPSHOT

    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return weekly_snapshots(rows[0], rows[1:], [week], seed)[week]
