"""One file's checks run over its rows chunk by chunk, with the same outcomes and decision as
if the whole file had been one frame.

- Checks on single rows (GX column map and column pair map expectations) run on every chunk
  through Great Expectations; their counts, samples and offending lines add up across chunks,
  and each chunk's rows to quarantine are handed to `on_quarantine` and then forgotten.
- Uniqueness across the whole file cannot be seen from one chunk: the reader gives each row
  the number of rows in the file that share its key (`<column>__copies`, counted in the
  warehouse), and the check becomes "at most one copy" on that column, still run by GX and
  still reported as `expect_column_values_to_be_unique(<column>)`.
- The file's columns (`expect_table_columns_to_match_set`) are the same in every chunk: the
  first chunk's outcome stands.
- Row count and column mean are running totals, compared with the expectation's own bounds.
Any other whole-file expectation is refused here with a clear error rather than judged
from a part of the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retention.quality.expectations import ExpectationRunner, check_name
from retention.quality.gates import ROW_ID, Check, Outcome, Report, Suite, SuiteContext, decide, held_rows

if TYPE_CHECKING:
    import pandas as pd

COPIES = "{column}__copies"
"""Column the reader adds for each unique check: how many rows of the file share this row's key."""

SAMPLE_ROWS = 5


def unique_columns(checks: list[Check]) -> list[str]:
    """The columns whose uniqueness is checked, for the reader to count copies of."""
    import great_expectations.expectations as gxe

    return [c.expectation.column for c in checks if isinstance(c.expectation, gxe.ExpectColumnValuesToBeUnique)]


@dataclass
class _Tally:
    """One check's outcome so far, over the chunks seen."""

    check: Check
    kind: str
    """`row`, `columns`, `row_count` or `mean`."""
    outcome: Outcome | None = None
    elements: int = 0
    missing: int = 0
    total: float = 0.0
    count: int = 0
    missing_column: str | None = None
    samples: list[dict] = field(default_factory=list)


def validate_chunks(
    chunks: Iterable[pd.DataFrame],
    checks: list[Check],
    suite: Suite,
    context: SuiteContext,
    *,
    source: str,
    on_quarantine: Callable[[pd.DataFrame, dict[int, list[str]]], None],
) -> Report:
    """`chunks`: the file's typed rows in pieces (at least one, possibly empty), each with the
    `<column>__copies` columns of `unique_columns(checks)`. `suite.prepare` runs on each chunk,
    so it must judge rows one by one."""
    tallies = [_Tally(check, _kind(check)) for check in checks]
    runner: ExpectationRunner | None = None
    per_chunk: list[int] = []
    rows = quarantined = 0
    for chunk in chunks:
        prepared = suite.prepare(chunk, context)
        if runner is None:
            per_chunk = [i for i, t in enumerate(tallies) if t.kind in ("row", "columns")]
            runner = ExpectationRunner([checks[i] for i in per_chunk], _copies_instead(checks, per_chunk, prepared))
        outcomes = runner.outcomes(prepared)
        for position, (index, outcome) in enumerate(zip(per_chunk, outcomes, strict=True)):
            if runner.substituted(position):
                # Rows without a key are GX's "missing" for uniqueness, not rows without copies.
                column = checks[index].expectation.column
                outcome.missing_count = int(prepared[column].isna().sum())
                outcome.sample = _key_sample(checks[index], outcome.sample, prepared)
            _add(tallies[index], outcome)
        for tally in tallies:
            if tally.kind == "mean":
                _add_mean(tally, prepared)
        held = held_rows(outcomes)
        if held:
            on_quarantine(chunk, held)
        rows += len(prepared)
        quarantined += len(held)
    if runner is None:
        raise ValueError("validate_chunks needs at least one chunk (an empty frame for a file without rows)")
    outcomes = [
        Outcome(f.name, f.description, blocking=f.blocking, row_level=False, success=f.success, observed_value=f.observed)
        for f in suite.findings(context)
    ]
    outcomes += [_finish(tally, rows) for tally in tallies]
    decision, message = decide(outcomes, quarantined, rows, context.thresholds, source)
    return Report(suite.name, rows, outcomes, {}, decision, message, quarantined=quarantined)


def _kind(check: Check) -> str:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation

    expectation = check.expectation
    if isinstance(expectation, ColumnMapExpectation | ColumnPairMapExpectation):
        return "row"
    if isinstance(expectation, gxe.ExpectTableColumnsToMatchSet):
        return "columns"
    if isinstance(expectation, gxe.ExpectTableRowCountToBeBetween):
        return "row_count"
    if isinstance(expectation, gxe.ExpectColumnMeanToBeBetween):
        return "mean"
    raise TypeError(
        f"{type(expectation).__name__} judges the whole file and cannot be added up over chunks: "
        "use a row check, or teach retention/quality/chunked.py its running total"
    )


def _copies_instead(checks: list[Check], indexes: list[int], frame: pd.DataFrame) -> dict[int, Any]:
    """Unique checks become 'at most one copy in the file' where the reader counted copies;
    without the column itself (a file lacking it) GX's own check runs and says so."""
    import great_expectations.expectations as gxe

    substitutes = {}
    for position, index in enumerate(indexes):
        expectation = checks[index].expectation
        if isinstance(expectation, gxe.ExpectColumnValuesToBeUnique):
            copies = COPIES.format(column=expectation.column)
            if expectation.column in frame.columns and copies in frame.columns:
                substitutes[position] = gxe.ExpectColumnValuesToBeBetween(column=copies, max_value=1)
    return substitutes


def _add(tally: _Tally, outcome: Outcome) -> None:
    if tally.outcome is None:
        tally.outcome = outcome
    elif tally.kind == "row" and tally.outcome.row_level:
        tally.outcome.success = tally.outcome.success and outcome.success
        tally.outcome.unexpected_count = (tally.outcome.unexpected_count or 0) + (outcome.unexpected_count or 0)
        # Only the chunk's offending lines are needed now (quarantine); the count is what stays.
        tally.outcome.offending_rows = []
    tally.elements += outcome.element_count or 0
    tally.missing += outcome.missing_count or 0
    if tally.kind == "row" and len(tally.samples) < SAMPLE_ROWS:
        tally.samples += outcome.sample[: SAMPLE_ROWS - len(tally.samples)]


def _key_sample(check: Check, sample: list[dict], frame: pd.DataFrame) -> list[dict]:
    """A unique check's sample shows the repeated key, as GX's own check would, not its count."""
    from retention.quality.expectations import plain

    column = check.expectation.column
    keys = frame.set_index(ROW_ID)[column]
    return [{column: plain(keys.get(entry[ROW_ID])), ROW_ID: entry[ROW_ID]} for entry in sample]


def _add_mean(tally: _Tally, frame: pd.DataFrame) -> None:
    column = tally.check.expectation.column
    if column not in frame.columns:
        tally.missing_column = column
        return
    values = frame[column].dropna()
    tally.total += float(values.sum())
    tally.count += len(values)


def _finish(tally: _Tally, rows: int) -> Outcome:
    check = tally.check
    if tally.kind in ("row", "columns"):
        outcome = tally.outcome
        outcome.offending_rows = []
        if tally.kind == "row" and outcome.row_level:
            non_missing = tally.elements - tally.missing
            outcome.unexpected_percent = 100.0 * (outcome.unexpected_count or 0) / non_missing if non_missing else 0.0
            outcome.sample = tally.samples
            outcome.observed_value = f"{outcome.unexpected_count or 0} rows outside"
        return outcome
    expectation = check.expectation
    if tally.kind == "row_count":
        observed: float | None = rows
    elif tally.missing_column:
        return Outcome(check_name(check), check.description, check.blocking, row_level=False, success=False,
                       observed_value=f"could not be checked: column {tally.missing_column!r} is not in the file")
    else:
        observed = tally.total / tally.count if tally.count else None
    success = observed is not None and _within(observed, expectation)
    return Outcome(check_name(check), check.description, check.blocking, row_level=False, success=success,
                   observed_value=None if observed is None else _shown(observed))


def _within(value: float, expectation: Any) -> bool:
    low, high = expectation.min_value, expectation.max_value
    if low is not None and (value <= low if getattr(expectation, "strict_min", False) else value < low):
        return False
    return not (high is not None and (value >= high if getattr(expectation, "strict_max", False) else value > high))


def _shown(value: float) -> str:
    import json

    return json.dumps(value)
