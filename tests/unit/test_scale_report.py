"""The scale benchmark's report: medians over repeated runs, k per stage, the ⚠ above 1.1, 10M."""

from __future__ import annotations

import datetime as dt
import math

from retention.scale.report import exponent, medians, report
from retention.scale.stages import STAGES


def _run(size: int, cpu_per_stage: dict[str, float], wall_factor: float = 2.0) -> dict:
    return {"size": size, "generate_seconds": 1.0, "setup_seconds": 5.0, "stages": [
        {"size": size, "stage": stage, "seconds": cpu * wall_factor, "worker_cpu": cpu * 0.75,
         "emulator_cpu": cpu * 0.25, "worker_mb": 300.0, "emulator_mb": 500.0, "load": 3.0,
         "result": {"rows": size}} for stage, cpu in cpu_per_stage.items()]}


def test_k_is_the_log_ratio_of_costs_over_the_log_ratio_of_sizes():
    assert math.isclose(exponent(10.0, 100.0, 100_000, 1_000_000), 1.0)
    assert math.isclose(exponent(10.0, 20.0, 100_000, 1_000_000), math.log10(2))
    assert math.isnan(exponent(0.0, 20.0, 100_000, 1_000_000))


def test_medians_of_a_repeated_size_are_quoted():
    small = [_run(1_000, dict.fromkeys(STAGES, cpu)) for cpu in (1.0, 3.0, 100.0)]
    table = medians(small)
    assert table[1_000, "train"]["worker_cpu"] == 3.0 * 0.75
    assert table[1_000, "train"]["runs"] == 3


def test_report_flags_a_stage_growing_faster_than_n_and_extrapolates_to_ten_million():
    costs = dict.fromkeys(STAGES, 10.0)
    large = {**costs, "marts": 10.0 * 10 ** 1.3, "score": 100.0}  # marts k = 1.3, score k = 1.0
    text = report([_run(100_000, costs), _run(1_000_000, large)], "python -m retention.scale.benchmark",
                  dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    growth = text.split("## Growth exponent")[1].split("## 10,000,000")[0]
    rows = {line.split("|")[1].strip(): line for line in growth.splitlines() if line.startswith("| ")}
    assert "1.30 ⚠" in rows["marts"]
    assert "1.00 |" in rows["score"] and "⚠" not in rows["score"]
    assert "0.00" in rows["ingest"]
    assert "10,000,000 customers, extrapolated" in text
    assert "| whole cycle |" in text and "**whole cycle**" in text
    assert "`python -m retention.scale.benchmark`" in text
