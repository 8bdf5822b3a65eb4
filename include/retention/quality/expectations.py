"""Great Expectations 1.x, run on data frames: one ephemeral context, the checks as one suite,
every result turned into an `Outcome` that names the failing file lines."""

from __future__ import annotations

import json
import logging
import math
import os
from typing import TYPE_CHECKING, Any

from retention.quality.gates import ROW_ID, Check, Outcome

if TYPE_CHECKING:
    import pandas as pd


def _gx_context():
    # GX would otherwise send usage analytics over the network; this platform never does.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


class ExpectationRunner:
    """The checks as one GX suite, validated against any number of frames (chunks of one file)
    with the same context and batch definition. `substitutes` replaces a check's expectation by
    another for the run (the outcome keeps the check's own name)."""

    def __init__(self, checks: list[Check], substitutes: dict[int, Any] | None = None) -> None:
        gx, context = _gx_context()
        self.checks = checks
        self.batches = (
            context.data_sources.add_pandas("rows").add_dataframe_asset(name="rows")
            .add_batch_definition_whole_dataframe("all")
        )
        self.suite = gx.ExpectationSuite(name="checks")
        self._substituted = set(substitutes or {})
        for index, check in enumerate(checks):
            expectation = (substitutes or {}).get(index, check.expectation)
            expectation.meta = {**(expectation.meta or {}), "check_index": index}
            self.suite.add_expectation(expectation)

    def substituted(self, index: int) -> bool:
        return index in self._substituted

    def outcomes(self, frame: pd.DataFrame) -> list[Outcome]:
        result = self.batches.get_batch(batch_parameters={"dataframe": frame}).validate(
            self.suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]}
        )
        outcomes: list[Outcome | None] = [None] * len(self.checks)
        for item in result.results:
            index = item.expectation_config.meta["check_index"]
            outcomes[index] = _outcome(self.checks[index], item)
        return [o for o in outcomes if o is not None]


def _check_name(config) -> str:
    kwargs = config.kwargs
    subject = kwargs.get("column") or ", ".join(
        str(kwargs[k]) for k in ("column_A", "column_B") if kwargs.get(k)
    )
    return f"{config.type}({subject})" if subject else config.type


def check_name(check: Check) -> str:
    return _check_name(check.expectation.configuration)


def _outcome(check: Check, item) -> Outcome:
    result = item.result or {}
    raised = _raised(item.exception_info or {})
    row_level = "unexpected_index_list" in result
    offending = sorted({int(entry[ROW_ID]) for entry in result.get("unexpected_index_list") or []})
    sample = [
        {key: plain(value) for key, value in entry.items()} for entry in (result.get("unexpected_index_list") or [])[:5]
    ]
    observed = result.get("observed_value")
    if raised:
        observed = f"could not be checked: {raised}"
    elif observed is None and row_level:
        observed = f"{result.get('unexpected_count', 0)} rows outside"
    elif isinstance(result.get("details"), dict) and result["details"].get("mismatched"):
        missing = result["details"]["mismatched"].get("missing") or []
        observed = f"missing: {', '.join(missing)}" if missing else "all present"
    return Outcome(
        check_name=check_name(check),
        description=check.description,
        blocking=check.blocking,
        # A check that could not run says nothing about single rows: it counts for the whole file.
        row_level=row_level and not raised,
        success=bool(item.success),
        observed_value=None if observed is None else _text(observed),
        unexpected_count=result.get("unexpected_count"),
        unexpected_percent=result.get("unexpected_percent"),
        offending_rows=offending,
        sample=sample,
        element_count=result.get("element_count"),
        missing_count=result.get("missing_count"),
    )


def _raised(info: dict) -> str | None:
    """GX reports an expectation that could not run (a missing column) either flat or per metric."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error").splitlines()[0][:200]
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "error").splitlines()[0][:200]
    return None


def plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(plain(value) if not isinstance(value, list | dict) else value, default=str)
    except TypeError:
        return str(value)
