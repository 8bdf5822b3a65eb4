"""Weekly customer snapshots generated from the IBM file: deterministic, marked synthetic, any size.

The IBM data is one snapshot. This simulates the weeks after it so that "newly at risk",
backfills and out-of-time evaluation mean something, for as many customers as asked for
(`customers`, default the IBM file's 7,043). It starts on `HISTORY_START` (a fixed Monday: a
given week's file is the same whichever weeks are asked for) from every IBM customer, active
(with fewer customers, the first ones of the file; with more, the rest are copies of random
IBM customers with their home and charges jittered, ids `G<serial>`), and then, week by week:

- customers leave: each week with a hazard that is high for the customers IBM's label says
  left (`Churn` = Yes, or the copied customer's) and low for the others, so the features a
  model sees (contract, tenure, charges...) carry real signal, and only later weeks tell who left;
- new customers join (`N<yymmdd>-<serial>`), copied from a random IBM customer's profile with tenure 0;
- on a month boundary tenure advances and the charges to date accumulate;
- a few customers change contract, streaming services or monthly charge.

Every row describes an active customer as the business knows it that week: `Churn` = No,
no churn reason or category, and the columns known only after the fact or produced by
another model (`Satisfaction Score`, `Churn Score`, `Churn Score.1`) are blank. A customer
who leaves in week N is simply absent from week N on; nothing in earlier weeks reveals it.
Each row carries `snapshot_date` and `synthetic` = true.

The population is held as numpy columns (what changes week to week) beside the IBM rows it
was copied from, and every week is one vectorised step drawn from one seeded generator, so
the same seed gives the same bytes. Files are written a block of rows at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SEED = 42
"""The seed of the history the demo, the Airflow UI command and the `synthetic` source use."""
HISTORY_START = dt.date(2026, 1, 5)
"""The first generated week (the DAGs' start date). Earlier weeks cannot be generated."""
IBM_CUSTOMERS = 7_043
"""The default size: the IBM file's customers, each once."""

WEEKLY_LEAVE_HAZARD_IF_IBM_CHURNED = 0.05
WEEKLY_LEAVE_HAZARD_OTHERWISE = 0.003
WEEKLY_JOIN_RATE = 0.012
WEEKLY_CONTRACT_CHANGE = 0.004
WEEKLY_SERVICE_CHANGE = 0.006
WEEKLY_CHARGE_CHANGE = 0.006
LOWEST_CHARGE = 18.25
WRITE_ROWS = 100_000
"""Rows formatted at a time: a file of any size is written without one frame of all its rows."""

EXTRA_COLUMNS = ["snapshot_date", "synthetic"]
UNKNOWN_AT_THE_TIME = ("Satisfaction Score", "Churn Score", "Churn Score.1", "Churn Reason")
CONTRACTS = np.array(["Month-to-month", "One year", "Two year"], dtype=object)
NEXT_CONTRACT = np.array([1, 2, 1], dtype=np.int8)  # month-to-month -> one year -> two year -> one year


def money(values: np.ndarray) -> pa.Array:
    """IBM's style, vectorised: 70.7, 108.15, 0."""
    cents = np.rint(np.asarray(values, dtype=float) * 100).astype(np.int64)
    whole = pc.cast(pa.array(cents // 100), pa.string())
    fraction = cents % 100
    tenths = pc.cast(pa.array(fraction // 10), pa.string())
    hundredths = pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 2, "0")
    tail = pc.if_else(pa.array(fraction % 10 == 0), tenths, hundredths)
    return pc.if_else(pa.array(fraction == 0), whole, pc.binary_join_element_wise(whole, tail, "."))


def _number(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column.str.strip().replace("", "0"), errors="raise").to_numpy(dtype=float)


@dataclass
class Templates:
    """The IBM customers as active rows, and what the simulation reads from them."""

    frame: pd.DataFrame
    arrow: pa.Table
    hazard: np.ndarray
    monthly: np.ndarray
    total: np.ndarray
    blank_total: np.ndarray
    long_distance: np.ndarray
    long_distance_per_month: np.ndarray
    extra_data: np.ndarray
    refunds: np.ndarray
    revenue: np.ndarray
    tenure: np.ndarray
    contract: np.ndarray
    internet: np.ndarray
    streaming_tv: np.ndarray
    streaming_movies: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray

    @classmethod
    def from_rows(cls, header: list[str], rows: list[list[str]]) -> Templates:
        frame = pd.DataFrame(rows, columns=header, dtype=object)
        churned = (frame["Churn"] == "Yes").to_numpy()
        frame["Churn"], frame["churn_rate"], frame["Churn Category"] = "No", "0", "0"
        for column in UNKNOWN_AT_THE_TIME:
            frame[column] = ""
        return cls(
            frame=frame, arrow=pa.table({c: _text(frame[c].astype(str)) for c in frame.columns}),
            hazard=np.where(churned, WEEKLY_LEAVE_HAZARD_IF_IBM_CHURNED, WEEKLY_LEAVE_HAZARD_OTHERWISE),
            monthly=_number(frame["MonthlyCharges"]), total=_number(frame["TotalCharges"]),
            blank_total=(frame["TotalCharges"].str.strip() == "").to_numpy(),
            long_distance=_number(frame["Total Long Distance Charges"]),
            long_distance_per_month=_number(frame["Avg Monthly Long Distance Charges"]),
            extra_data=_number(frame["Total Extra Data Charges"]), refunds=_number(frame["Total Refunds"]),
            revenue=_number(frame["Total Revenue"]), tenure=frame["tenure"].astype(int).to_numpy(),
            contract=frame["Contract"].map({c: i for i, c in enumerate(CONTRACTS)}).to_numpy(dtype=np.int8),
            internet=(frame["InternetService"] != "No").to_numpy(),
            streaming_tv=(frame["StreamingTV"] == "Yes").to_numpy(),
            streaming_movies=(frame["StreamingMovies"] == "Yes").to_numpy(),
            latitude=_number(frame["Latitude"]), longitude=_number(frame["Longitude"]),
        )


# What changes per customer; the rest of a row is its template's.
STATE = ("serial", "template", "origin", "joined", "tenure", "monthly", "total", "blank_total", "long_distance",
         "revenue", "contract", "streaming_tv", "streaming_movies", "latitude", "longitude")
IBM, COPY, JOINER = 0, 1, 2


@dataclass
class Population:
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["serial"])

    def keep(self, mask: np.ndarray) -> None:
        self.columns = {name: values[mask] for name, values in self.columns.items()}

    def append(self, other: dict[str, np.ndarray]) -> None:
        self.columns = {name: np.concatenate([values, other[name]]) for name, values in self.columns.items()}


def _initial(t: Templates, customers: int, rng: np.random.Generator) -> Population:
    ibm = min(customers, len(t.frame))
    copies = customers - ibm
    template = np.concatenate([np.arange(ibm), rng.integers(0, len(t.frame), copies)]).astype(np.int32)
    monthly = t.monthly[template].copy()
    total = t.total[template].copy()
    latitude, longitude = t.latitude[template].copy(), t.longitude[template].copy()
    if copies:
        # Copies differ from their template a little, so a model cannot learn a template's
        # identity (its exact home and bill) instead of what makes customers leave.
        c = slice(ibm, None)
        factor = rng.normal(1.0, 0.05, copies)
        monthly[c] = np.maximum(LOWEST_CHARGE, np.round(t.monthly[template[c]] * factor, 2))
        total[c] = np.round(total[c] * monthly[c] / t.monthly[template[c]], 2)
        started = t.tenure[template[c]] > 0
        total[c] = np.where(started, np.maximum(total[c], monthly[c]), total[c])
        latitude[c] = np.round(latitude[c] + rng.normal(0, 0.01, copies), 6)
        longitude[c] = np.round(longitude[c] + rng.normal(0, 0.01, copies), 6)
    revenue = t.revenue[template].copy()
    if copies:
        c = slice(ibm, None)
        revenue[c] = total[c] + t.long_distance[template[c]] + t.extra_data[template[c]] - t.refunds[template[c]]
    return Population({
        "serial": np.arange(customers, dtype=np.int64), "template": template,
        "origin": np.where(np.arange(customers) < ibm, IBM, COPY).astype(np.int8),
        "joined": np.full(customers, -1, dtype=np.int32), "tenure": t.tenure[template].astype(np.int32),
        "monthly": monthly, "total": total, "blank_total": t.blank_total[template].copy(),
        "long_distance": t.long_distance[template].copy(), "revenue": revenue,
        "contract": t.contract[template].copy(), "streaming_tv": t.streaming_tv[template].copy(),
        "streaming_movies": t.streaming_movies[template].copy(), "latitude": latitude, "longitude": longitude,
    })


def _billable(p: dict[str, np.ndarray], charge: np.ndarray) -> np.ndarray:
    """The contract says charges to date cover at least one monthly charge once tenure starts:
    a change that would break that (a raise in the first month) does not happen."""
    return (p["tenure"] == 0) | (charge <= np.where(p["blank_total"], 0.0, p["total"]))


def _step(population: Population, t: Templates, week: dt.date, next_serial: int, rng: np.random.Generator) -> int:
    """Move the population from `week` to the week after; returns the next free serial."""
    next_week = week + dt.timedelta(weeks=1)
    population.keep(rng.random(len(population)) >= t.hazard[population.columns["template"]])
    p = population.columns
    n = len(population)
    extra = np.where(p["origin"] == JOINER, 0.0, t.extra_data[p["template"]] - t.refunds[p["template"]])
    if next_week.month != week.month:
        p["tenure"] += 1
        p["total"] = np.where(p["blank_total"], 0.0, p["total"]) + p["monthly"]
        p["blank_total"][:] = False
        p["long_distance"] = np.round(p["long_distance"] + t.long_distance_per_month[p["template"]], 2)
        p["total"] = np.round(p["total"], 2)
        p["revenue"] = np.round(p["total"] + p["long_distance"] + extra, 2)
    draw, which, factor = rng.random(n), rng.random(n) < 0.5, rng.uniform(0.9, 1.1, n)
    contract = draw < WEEKLY_CONTRACT_CHANGE
    p["contract"][contract] = NEXT_CONTRACT[p["contract"][contract]]
    service = (draw >= WEEKLY_CONTRACT_CHANGE) & (draw < WEEKLY_CONTRACT_CHANGE + WEEKLY_SERVICE_CHANGE)
    service &= t.internet[p["template"]]
    adding = np.where(which, ~p["streaming_tv"], ~p["streaming_movies"])
    charge = np.maximum(LOWEST_CHARGE, p["monthly"] + np.where(adding, 10.0, -10.0))
    service &= _billable(p, charge)
    p["streaming_tv"] = np.where(service & which, adding, p["streaming_tv"])
    p["streaming_movies"] = np.where(service & ~which, adding, p["streaming_movies"])
    p["monthly"] = np.where(service, charge, p["monthly"])
    low = WEEKLY_CONTRACT_CHANGE + WEEKLY_SERVICE_CHANGE
    repriced = (draw >= low) & (draw < low + WEEKLY_CHARGE_CHANGE)
    charge = np.maximum(LOWEST_CHARGE, np.round(p["monthly"] * factor * 20) / 20)
    repriced &= _billable(p, charge)
    p["monthly"] = np.where(repriced, charge, p["monthly"])
    joining = int(rng.binomial(n, WEEKLY_JOIN_RATE))
    template = rng.integers(0, len(t.frame), joining).astype(np.int32)
    population.append({
        "serial": np.arange(next_serial, next_serial + joining, dtype=np.int64), "template": template,
        "origin": np.full(joining, JOINER, dtype=np.int8),
        "joined": np.full(joining, (next_week - HISTORY_START).days // 7, dtype=np.int32),
        "tenure": np.zeros(joining, dtype=np.int32), "monthly": t.monthly[template].copy(),
        "total": np.zeros(joining), "blank_total": np.ones(joining, dtype=bool), "long_distance": np.zeros(joining),
        "revenue": np.zeros(joining), "contract": t.contract[template].copy(),
        "streaming_tv": t.streaming_tv[template].copy(), "streaming_movies": t.streaming_movies[template].copy(),
        "latitude": t.latitude[template].copy(), "longitude": t.longitude[template].copy(),
    })
    return next_serial + joining


def simulate(
    ibm_header: list[str], ibm_rows: list[list[str]], seed: int, customers: int = IBM_CUSTOMERS
) -> Iterator[tuple[dt.date, Population, Templates]]:
    """Yield (week, population, templates) for every week from HISTORY_START on, forever; the
    caller stops. The population is changed in place by the next step: read it before."""
    if customers < 1:
        raise ValueError(f"customers={customers}: a synthetic history needs at least one customer")
    rng = np.random.default_rng(seed)
    templates = Templates.from_rows(ibm_header, ibm_rows)
    population = _initial(templates, customers, rng)
    # Serials number generated customers (and their phones); IBM customers keep their own ids.
    next_serial = max(customers, len(templates.frame))
    week = HISTORY_START
    while True:
        yield week, population, templates
        next_serial = _step(population, templates, week, next_serial, rng)
        week += dt.timedelta(weeks=1)


def customer_ids(population: Population, templates: Templates, rows: slice = slice(None)) -> np.ndarray:
    p = {name: values[rows] for name, values in population.columns.items()}
    serial = pd.Series(p["serial"]).astype(str).str.zfill(8).to_numpy(dtype=object)
    weeks = np.unique(p["joined"])
    prefixes = np.array([f"N{HISTORY_START + dt.timedelta(weeks=int(w)):%y%m%d}-" if w >= 0 else "G" for w in weeks],
                        dtype=object)
    ids = prefixes[np.searchsorted(weeks, p["joined"])] + serial
    ibm = p["origin"] == IBM
    ids[ibm] = templates.frame["customerID"].to_numpy(dtype=object)[p["template"][ibm]]
    return ids


def _text(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _rows(population: Population, t: Templates, week: dt.date, rows: slice) -> dict[str, pa.Array]:
    """The CSV fields of `rows` of the population, column by column, as text."""
    p = {name: values[rows] for name, values in population.columns.items()}
    n = len(p["serial"])
    template = pa.array(p["template"])
    fields = {name: t.arrow.column(name).combine_chunks().take(template) for name in t.arrow.column_names}
    fields["customerID"] = _text(customer_ids(population, t, rows))
    fields["tenure"] = pc.cast(pa.array(p["tenure"]), pa.string())
    fields["MonthlyCharges"] = money(p["monthly"])
    fields["TotalCharges"] = pc.if_else(pa.array(p["blank_total"]), " ", money(p["total"]))
    fields["Total Long Distance Charges"] = money(p["long_distance"])
    fields["Total Revenue"] = money(p["revenue"])
    fields["Contract"] = _text(CONTRACTS[p["contract"]])
    internet = pa.array(t.internet[p["template"]])
    for column, name in (("streaming_tv", "StreamingTV"), ("streaming_movies", "StreamingMovies")):
        fields[name] = pc.if_else(internet, _text(np.where(p[column], "Yes", "No")), fields[name])
    fields["Customer Status"] = _text(np.where(p["tenure"] <= 3, "Joined", "Stayed"))
    joiner = pa.array(p["origin"] == JOINER)
    for column, value in (("Total Extra Data Charges", "0"), ("Total Refunds", "0"), ("Number of Referrals", "0"),
                          ("Referred a Friend", "No")):
        fields[column] = pc.if_else(joiner, value, fields[column])
    copy = p["origin"] == COPY
    if copy.any():
        latitude = _text(pd.Series(p["latitude"]).map("{:.6f}".format).str.rstrip("0").str.rstrip("."))
        longitude = _text(pd.Series(p["longitude"]).map("{:.6f}".format).str.rstrip("0").str.rstrip("."))
        mask = pa.array(copy)
        fields["Latitude"] = pc.if_else(mask, latitude, fields["Latitude"])
        fields["Longitude"] = pc.if_else(mask, longitude, fields["Longitude"])
        fields["Lat Long"] = pc.if_else(mask, pc.binary_join_element_wise(latitude, longitude, ", "),
                                        fields["Lat Long"])
    fields["snapshot_date"] = pa.array([week.isoformat()] * n, type=pa.string())
    fields["synthetic"] = pa.array(["true"] * n, type=pa.string())
    return fields


def _quoted(values: pa.Array) -> pa.Array:
    """As Python's csv module writes a field: quoted only when it holds a comma, quote or line break."""
    needs = pc.match_substring_regex(values, '[,"\r\n]')
    if not pc.any(needs).as_py():
        return values
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


def write_snapshot(population: Population, templates: Templates, week: dt.date, handle: IO[str]) -> int:
    """Write the week's CSV to `handle`, WRITE_ROWS rows at a time; returns the rows written."""
    header = [*templates.frame.columns, *EXTRA_COLUMNS]
    csv.writer(handle, lineterminator="\n").writerow(header)
    for start in range(0, len(population), WRITE_ROWS):
        fields = _rows(population, templates, week, slice(start, start + WRITE_ROWS))
        lines = pc.binary_join_element_wise(*(_quoted(fields[name]) for name in header), ",")
        handle.write("\n".join(lines.to_pylist()) + "\n")
    return len(population)


def _check(weeks: list[dt.date]) -> list[dt.date]:
    wanted = sorted(set(weeks))
    for week in wanted:
        if week < HISTORY_START or week.weekday() != 0:
            raise ValueError(f"{week} is not a Monday on or after {HISTORY_START}: no synthetic snapshot for it")
    return wanted


def each_week(
    ibm_header: list[str], ibm_rows: list[list[str]], weeks: list[dt.date], seed: int, customers: int = IBM_CUSTOMERS
) -> Iterator[tuple[dt.date, Population, Templates]]:
    """The asked weeks (Mondays on or after HISTORY_START), in order, as the simulation reaches them."""
    wanted = _check(weeks)
    if not wanted:
        return
    for week, population, templates in simulate(ibm_header, ibm_rows, seed, customers):
        if week in wanted:
            yield week, population, templates
        if week >= wanted[-1]:
            return


def weekly_snapshots(
    ibm_header: list[str], ibm_rows: list[list[str]], weeks: list[dt.date], seed: int,
    customers: int = IBM_CUSTOMERS,
) -> dict[dt.date, str]:
    """CSV text of each asked week: same seed, same bytes. For small histories (the text is in
    memory); `python -m retention.synthetic` writes files of any size."""
    files = {}
    for week, population, templates in each_week(ibm_header, ibm_rows, weeks, seed, customers):
        out = io.StringIO()
        write_snapshot(population, templates, week, out)
        files[week] = out.getvalue()
    return files


def synthetic_snapshot(week: dt.date, seed: int = SEED, customers: int = IBM_CUSTOMERS) -> str:
    """The generated snapshot of one week, from the bundled IBM file."""
    header, rows = ibm_file()
    return weekly_snapshots(header, rows, [week], seed, customers)[week]


def ibm_file() -> tuple[list[str], list[list[str]]]:
    from retention.config import BUNDLED_TELCO_SNAPSHOT

    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]
