"""Write-audit-publish gates with Great Expectations 1.x: checks, decision, results, quarantine.

A suite (one file in `retention/quality/suites/`) lists `Check`s: a GX expectation plus
whether a failure is blocking. A check that judges single rows (GX returns the offending
rows) sends those rows to quarantine when it is blocking; a check on the whole file stops
publishing when it is blocking. Warnings are recorded and logged, nothing more. Then:

- any blocking check on the whole file failed          -> `block`
- quarantined rows above the allowed share (default 1%) -> `block`
- rows quarantined, or a warning failed                 -> `publish_with_warnings`
- otherwise                                            -> `publish`
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ROW_ID = "source_row"
"""Every validated frame carries the file line of each row, so failures point at lines."""


class DataQualityError(RuntimeError):
    """A blocking check failed: the file is not published. Re-running will not help; fix the file."""


@dataclass(frozen=True)
class Thresholds:
    max_quarantined_share: float = 0.01
    volume_min_ratio: float = 0.5
    volume_max_ratio: float = 2.0
    churn_rate_min: float = 0.05
    churn_rate_max: float = 0.60
    weekly_attrition_max: float = 0.20

    @classmethod
    def from_env(cls) -> Thresholds:
        def number(name: str, default: float) -> float:
            return float(os.environ.get(f"RETENTION_QUALITY_{name}", default))

        return cls(
            max_quarantined_share=number("MAX_QUARANTINED_SHARE", cls.max_quarantined_share),
            volume_min_ratio=number("VOLUME_MIN_RATIO", cls.volume_min_ratio),
            volume_max_ratio=number("VOLUME_MAX_RATIO", cls.volume_max_ratio),
            churn_rate_min=number("CHURN_RATE_MIN", cls.churn_rate_min),
            churn_rate_max=number("CHURN_RATE_MAX", cls.churn_rate_max),
            weekly_attrition_max=number("WEEKLY_ATTRITION_MAX", cls.weekly_attrition_max),
        )


@dataclass(frozen=True)
class SuiteContext:
    """What a suite may need beyond the rows: the week, the last good load, the file's own findings."""

    thresholds: Thresholds
    snapshot_date: dt.date | None = None
    previous_row_count: int | None = None
    """Rows of the last published week before this one (None: nothing published before)."""
    previous_gone_share: float | None = None
    """Share of the last published week's keys that this file no longer has."""
    missing_columns: tuple[str, ...] = ()
    unexpected_columns: tuple[str, ...] = ()
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Check:
    expectation: Any
    """A `great_expectations.expectations` instance."""
    blocking: bool
    description: str


@dataclass(frozen=True)
class Finding:
    """A check made outside Great Expectations: by the reader (encoding, unknown columns) or
    against earlier weeks in the warehouse. A blocking finding blocks like a file check."""

    name: str
    description: str
    success: bool
    observed: str
    blocking: bool = False


@dataclass(frozen=True)
class Suite:
    name: str
    checks: Callable[[SuiteContext, pd.DataFrame], list[Check]]
    """Builds the checks for one file (bounds may depend on the previous week or on the rows)."""
    findings: Callable[[SuiteContext], list[Finding]] = lambda context: []
    prepare: Callable[[pd.DataFrame, SuiteContext], pd.DataFrame] = lambda frame, context: frame
    """Shapes the typed rows before checking (for example, drops columns the file lacked)."""
    personal_columns: tuple[str, ...] = ()
    """Personal data (phone numbers): never copied into ops tables, messages or logs."""


@dataclass
class Outcome:
    check_name: str
    description: str
    blocking: bool
    row_level: bool
    success: bool
    observed_value: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    offending_rows: list[int] = field(default_factory=list)
    sample: list[dict] = field(default_factory=list)
    element_count: int | None = None
    missing_count: int | None = None


@dataclass
class Report:
    suite: str
    rows_received: int
    outcomes: list[Outcome]
    quarantine: dict[int, list[str]]
    """File line -> the failed blocking row checks (empty when validated in chunks: the
    quarantined rows went to the warehouse chunk by chunk)."""
    decision: str
    message: str
    quarantined: int | None = None
    """How many rows were quarantined, when `quarantine` does not hold them."""

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine) if self.quarantined is None else self.quarantined

    @property
    def quarantined_share(self) -> float:
        return self.rows_quarantined / self.rows_received if self.rows_received else 0.0


def validate(frame: pd.DataFrame, suite: Suite, context: SuiteContext, *, source: str) -> Report:
    prepared = suite.prepare(frame, context)
    checks = suite.checks(context, prepared)
    outcomes = [
        Outcome(f.name, f.description, blocking=f.blocking, row_level=False, success=f.success, observed_value=f.observed)
        for f in suite.findings(context)
    ]
    from retention.quality.expectations import ExpectationRunner

    outcomes += ExpectationRunner(checks).outcomes(prepared)
    quarantine = held_rows(outcomes)
    decision, message = decide(outcomes, len(quarantine), len(prepared), context.thresholds, source)
    return Report(suite.name, len(prepared), outcomes, quarantine, decision, message)


def held_rows(outcomes: list[Outcome]) -> dict[int, list[str]]:
    """File line -> the blocking row checks it failed, in check order: the rows to quarantine."""
    quarantine: dict[int, list[str]] = {}
    for outcome in outcomes:
        if outcome.blocking and outcome.row_level and not outcome.success:
            for row in outcome.offending_rows:
                quarantine.setdefault(row, []).append(outcome.check_name)
    return quarantine


def decide(
    outcomes: list[Outcome], quarantined: int, rows: int, thresholds: Thresholds, source: str
) -> tuple[str, str]:
    blocking_file = [o for o in outcomes if o.blocking and not o.row_level and not o.success]
    warnings = [o for o in outcomes if not o.success and not o.blocking]
    # Failed warnings often explain a blocking failure (an unknown column next to a missing one).
    hints = "".join(f" Also: {o.description.lower()}: {o.observed_value}." for o in warnings[:3])
    share = quarantined / rows if rows else 0.0
    if blocking_file:
        detail = "; ".join(
            f"{o.description} ({o.check_name}: observed {o.observed_value})" for o in blocking_file[:4]
        )
        return "block", (
            f"{source} was not published: {len(blocking_file)} blocking check(s) failed on the whole file: "
            f"{detail}.{hints} Fix the file and re-run; core keeps the last good snapshot."
        )
    if share > thresholds.max_quarantined_share:
        failed = [o for o in outcomes if o.row_level and o.blocking and not o.success]
        detail = "; ".join(
            f"{o.check_name}: {o.unexpected_count} rows, first {json.dumps(o.sample[:3], ensure_ascii=False)}"
            for o in failed[:3]
        )
        return "block", (
            f"{source} was not published: {quarantined} of {rows} rows ({share:.1%}) failed blocking row "
            f"checks, above the allowed {thresholds.max_quarantined_share:.1%}. {detail}.{hints} "
            "Rows are in ops.quarantine; fix the file and re-run; core keeps the last good snapshot."
        )
    if quarantined or warnings:
        parts = []
        if quarantined:
            parts.append(f"{quarantined} of {rows} rows quarantined ({share:.2%}), the rest published")
        if warnings:
            parts.append("warnings: " + "; ".join(f"{o.check_name}: {o.observed_value}" for o in warnings[:5]))
        return "publish_with_warnings", f"{source}: " + ". ".join(parts)
    return "publish", f"{source}: all {len(outcomes)} checks passed on {rows} rows"


def summary_table(report: Report) -> str:
    """The short table the task log shows."""
    lines = [f"{'check':<68} {'kind':<9} {'result':<7} {'bad rows':>8}  observed"]
    for o in report.outcomes:
        kind = ("block" if o.blocking else "warn") + ("/row" if o.row_level else "")
        result = "ok" if o.success else "FAILED"
        bad = "" if o.unexpected_count is None else str(o.unexpected_count)
        observed = (o.observed_value or "")[:60]
        lines.append(f"{o.check_name[:68]:<68} {kind:<9} {result:<7} {bad:>8}  {observed}")
    lines.append(f"decision: {report.decision}: {report.message}")
    return "\n".join(lines)
