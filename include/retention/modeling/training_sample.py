"""A bounded, stratified, seeded sample of the labelled weeks, drawn in the warehouse.

Training reads at most `RETENTION_TRAINING_SAMPLE_ROWS` rows (default 200,000) whatever the
number of customers, so its time stops growing with N. The rows are split into four strata,
label (left / stayed) x senior flag; `allocate` decides how many rows each keeps and
`sql/ml/training_sample/query.sql` keeps, within each stratum, the rows with the lowest
`FARM_FINGERPRINT(customer | week | seed)`: the same seed and data give the same rows.

The allocation, in words:
- everything fits under the cap: every row is kept (weight 1);
- otherwise leavers, the rare class, get up to half the cap (all of them if fewer), and those
  who stayed fill the rest (case-control sampling: for a ranking model the leavers are the
  scarce information, the stayers the plentiful one);
- within each label, seniors and the others share that label's quota in proportion to their
  rows, so the seniors the outreach is for are exactly as represented as in the population.

Each sampled row carries `sample_weight` = stratum rows / rows kept from the stratum. Training
fits the models on the sample as it is (like class weights, the over-represented leavers only
shift scores, not their order) and uses the weights where a number must speak for the whole
population: the ensemble weights, the Platt calibration (so a probability of 0.3 still means
30% of all customers, not of the sample) and every metric.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from retention.warehouse import Warehouse

DEFAULT_CAP = 200_000
"""Rows; about 3 minutes of the quick grid's training on this 2-core machine (README, Churn model)."""
LEAVER_SHARE = 0.5
STRATA = ((False, False), (False, True), (True, False), (True, True))
"""(left, senior)."""
QUOTA_PARAMETERS = {
    (False, False): "quota_stayed", (False, True): "quota_stayed_senior",
    (True, False): "quota_left", (True, True): "quota_left_senior",
}


class SampleSettingError(ValueError):
    """A sample setting that cannot be used."""


def settings() -> tuple[int, int]:
    """(cap, seed) from RETENTION_TRAINING_SAMPLE_ROWS and RETENTION_TRAINING_SAMPLE_SEED."""
    values = {}
    for name, default in (("RETENTION_TRAINING_SAMPLE_ROWS", DEFAULT_CAP), ("RETENTION_TRAINING_SAMPLE_SEED", 0)):
        raw = os.environ.get(name, str(default))
        try:
            values[name] = int(raw)
        except ValueError:
            raise SampleSettingError(f"{name}={raw!r} is not a whole number: set it to e.g. {default}") from None
    cap = values["RETENTION_TRAINING_SAMPLE_ROWS"]
    if cap < 100:
        raise SampleSettingError(
            f"RETENTION_TRAINING_SAMPLE_ROWS={cap}: a sample this small cannot be cross-validated; "
            f"use at least 100 (default {DEFAULT_CAP})"
        )
    return cap, values["RETENTION_TRAINING_SAMPLE_SEED"]


def _share(quota: int, sizes: list[int], shares: list[float]) -> list[int]:
    """Split `quota` over groups of `sizes` by `shares`, none above its size; what a small
    group cannot use goes to the others (in the order given)."""
    taken = [min(size, int(quota * share + 1e-9)) for size, share in zip(sizes, shares, strict=True)]
    for i, size in enumerate(sizes):
        taken[i] = min(size, taken[i] + quota - sum(taken))
    return taken


def allocate(population: dict[tuple[bool, bool], int], cap: int) -> dict[tuple[bool, bool], int]:
    """Rows to keep per (left, senior) stratum: at most `cap` in all, as the module says."""
    rows = {stratum: int(population.get(stratum, 0)) for stratum in STRATA}
    total = sum(rows.values())
    if total <= cap:
        return rows
    left, stayed = rows[True, False] + rows[True, True], rows[False, False] + rows[False, True]
    leaver_share = max(LEAVER_SHARE, left / total)
    quota_left, quota_stayed = _share(cap, [left, stayed], [leaver_share, 1 - leaver_share])
    out = {}
    for label, quota, label_rows in ((True, quota_left, left), (False, quota_stayed, stayed)):
        sizes = [rows[label, False], rows[label, True]]
        shares = [size / label_rows if label_rows else 0.0 for size in sizes]
        # Seniors first: rounding down never costs the minority a row.
        seniors, others = _share(quota, sizes[::-1], shares[::-1])
        out[label, False], out[label, True] = others, seniors
    return out


@dataclass
class Sample:
    frame: pd.DataFrame
    cap: int
    seed: int
    population: dict[tuple[bool, bool], int]
    sampled: dict[tuple[bool, bool], int]

    def describe(self) -> dict:
        """What the registry records (parameters.training.sample)."""
        def name(stratum: tuple[bool, bool]) -> str:
            return ("left" if stratum[0] else "stayed") + ("_senior" if stratum[1] else "")

        return {
            "cap": self.cap, "seed": self.seed, "population_rows": sum(self.population.values()),
            "sampled_rows": sum(self.sampled.values()),
            "strata": {
                name(s): {"population_rows": self.population[s], "sampled_rows": self.sampled[s],
                          "weight": self.population[s] / self.sampled[s] if self.sampled[s] else None}
                for s in STRATA
            },
            "rule": "leavers up to half the cap, seniors in proportion within each label; "
                    "rank FARM_FINGERPRINT(customer|week|seed) per stratum",
        }


def population(warehouse: Warehouse, weeks: list[dt.date], horizon_weeks: int) -> dict[tuple[bool, bool], int]:
    rows = warehouse.rows(
        warehouse.sql_file("ml/training_sample/strata.sql"), {"weeks": weeks, "horizon_weeks": horizon_weeks},
        source="sql/ml/training_sample/strata.sql",
    )
    counts = {stratum: 0 for stratum in STRATA}
    for row in rows:
        counts[bool(row["churn_label"]), bool(row["senior_citizen"])] = int(row["population_rows"])
    return counts


def draw(warehouse: Warehouse, weeks: list[dt.date], horizon_weeks: int) -> Sample:
    """The sample of `weeks` labelled at `horizon_weeks`, with its description."""
    cap, seed = settings()
    counts = population(warehouse, weeks, horizon_weeks)
    quotas = allocate(counts, cap)
    frame = warehouse.dataframe(
        warehouse.sql_file("ml/training_sample/query.sql"),
        {"weeks": weeks, "horizon_weeks": horizon_weeks, "seed": seed,
         **{QUOTA_PARAMETERS[s]: quotas[s] for s in STRATA}},
        source="sql/ml/training_sample/query.sql",
    )
    got = {s: 0 for s in STRATA}
    if len(frame):
        seniors = frame["senior_citizen"].fillna(False).astype(bool)
        for (label, senior), n in frame.groupby([frame["churn_label"].astype(bool), seniors]).size().items():
            got[bool(label), bool(senior)] = int(n)
    if got != quotas:
        raise RuntimeError(
            f"sql/ml/training_sample/query.sql returned {got} rows per (left, senior) stratum but {quotas} were "
            f"allocated from {counts}: the labelled weeks {weeks} changed while sampling; re-run the task"
        )
    return Sample(frame, cap, seed, counts, quotas)
