"""Validation in chunks gives the file's own outcome: counts, samples, quarantine and decision
add up across chunks, uniqueness holds across the whole file (Great Expectations, no warehouse)."""

from __future__ import annotations

import great_expectations.expectations as gxe
import pandas as pd
import pytest

from retention.quality.chunked import unique_columns, validate_chunks
from retention.quality.gates import Check, Suite, SuiteContext, Thresholds, validate

CHECKS = [
    Check(gxe.ExpectTableColumnsToMatchSet(column_set=["customer_id", "age"], exact_match=False), True, "Columns"),
    Check(gxe.ExpectTableRowCountToBeBetween(min_value=1), True, "Has rows"),
    Check(gxe.ExpectColumnValuesToBeUnique(column="customer_id"), True, "Once per file"),
    Check(gxe.ExpectColumnValuesToBeBetween(column="age", min_value=18, max_value=120), True, "Age"),
    Check(gxe.ExpectColumnMeanToBeBetween(column="age", min_value=20, max_value=60), False, "Mean age"),
]


def _suite() -> Suite:
    return Suite(name="toy", checks=lambda context, frame: CHECKS)


def _file(rows: int = 1000) -> pd.DataFrame:
    frame = pd.DataFrame({"source_row": range(2, rows + 2), "customer_id": [f"C{i}" for i in range(rows)],
                          "age": [30 + i % 40 for i in range(rows)]})
    frame.loc[[5, 900], "customer_id"] = "C7"  # C7 three times, far apart
    frame.loc[[10, 600], "age"] = [150, 7]
    return frame


def _in_chunks(frame: pd.DataFrame, size: int) -> tuple:
    # What the warehouse adds before chunking: how many rows of the file share each key.
    counts = frame["customer_id"].map(frame["customer_id"].value_counts())
    with_copies = frame.assign(customer_id__copies=counts.where(counts > 1))
    held: dict[int, list[str]] = {}
    report = validate_chunks(
        [with_copies.iloc[i:i + size] for i in range(0, len(frame), size)], CHECKS, _suite(),
        SuiteContext(Thresholds()), source="f.csv", on_quarantine=lambda chunk, rows: held.update(rows),
    )
    return report, held


@pytest.mark.parametrize("size", [1000, 333, 7])
def test_chunks_give_the_whole_file_outcome(size):
    whole = validate(_file(), _suite(), SuiteContext(Thresholds()), source="f.csv")
    report, held = _in_chunks(_file(), size)
    assert held == whole.quarantine
    assert held[7] == held[9] == held[902] == ["expect_column_values_to_be_unique(customer_id)"]
    assert held[12] == held[602] == ["expect_column_values_to_be_between(age)"]
    assert (report.decision, report.message) == (whole.decision, whole.message)
    assert report.rows_quarantined == 5 and report.rows_received == 1000
    by_name = {o.check_name: o for o in whole.outcomes}
    for outcome in report.outcomes:
        expected = by_name[outcome.check_name]
        assert (outcome.success, outcome.unexpected_count, outcome.observed_value) == (
            expected.success, expected.unexpected_count, expected.observed_value), outcome.check_name
        assert outcome.unexpected_percent == pytest.approx(expected.unexpected_percent)
        assert outcome.sample == expected.sample, outcome.check_name


def test_a_whole_file_check_with_no_running_total_is_refused():
    median = Check(gxe.ExpectColumnMedianToBeBetween(column="age", min_value=1), True, "Median")
    with pytest.raises(TypeError, match="cannot be added up over chunks"):
        validate_chunks([_file()], [median], _suite(), SuiteContext(Thresholds()), source="f.csv",
                        on_quarantine=lambda chunk, rows: None)


def test_the_reader_is_told_which_keys_to_count():
    assert unique_columns(CHECKS) == ["customer_id"]
