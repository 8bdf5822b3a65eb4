"""How precisely places are located: the share at legal-dong precision (or better) per source,
and each row short of it with the reason its address gave (`python -m retention.places
precision` writes this report for the bundled places).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from retention.places.addresses import TWO_DONGS_SEPARATOR, ParsedAddress
from retention.places.geocode import AT_LEAST_DONG, Geocode

REASON_OUTSIDE_SEOUL = "outside Seoul"
REASON_NO_DISTRICT = "no Seoul district after the city"
REASON_DONG_NOT_IN_DISTRICT = "dong not in district polygons"
REASON_TWO_DONGS = "two different dongs named"
REASON_TRUNCATED = "truncated"
REASON_NO_DONG = "no dong in address"


@dataclass(frozen=True)
class ShortOfDong:
    """One row not placed at dong precision, and why."""

    source: str
    address: str
    precision: str
    reason: str
    detail: str
    """The dong-like name the address gave, or where the truncation cut."""


@dataclass(frozen=True)
class PrecisionReport:
    """How many rows reached dong precision (or better), per source, and the rest listed."""

    totals: dict[str, int]
    at_dong: dict[str, int]
    short_of_dong: list[ShortOfDong]

    def share(self, source: str | None = None) -> float:
        """Share at dong precision or better for one source, or overall (0.0 when empty)."""
        total = self.totals.get(source, 0) if source else sum(self.totals.values())
        done = self.at_dong.get(source, 0) if source else sum(self.at_dong.values())
        return done / total if total else 0.0

    def reasons(self) -> Counter[str]:
        return Counter(row.reason for row in self.short_of_dong)

    def lines(self) -> list[str]:
        """A plain-text summary, one line per source, overall, then each reason's count."""
        lines = [
            f"{source}: {self.at_dong[source]}/{total} at dong precision ({self.share(source):.1%})"
            for source, total in self.totals.items()
        ]
        lines.append(
            f"overall: {sum(self.at_dong.values())}/{sum(self.totals.values())} at dong precision "
            f"({self.share():.1%})"
        )
        lines += [f"  {count} {reason}" for reason, count in self.reasons().most_common()]
        return lines

    def rows(self) -> list[dict[str, str]]:
        """The rows short of dong precision, as dicts (for a CSV or a table)."""
        return [dataclasses.asdict(row) for row in self.short_of_dong]


def precision_report(parsed_and_geocoded: Iterable[tuple[str, ParsedAddress, Geocode]]) -> PrecisionReport:
    """Tally (source, parsed address, geocode) rows: the share at dong precision or better,
    and each row short of it with the reason the address gave."""
    totals: Counter[str] = Counter()
    at_dong: Counter[str] = Counter()
    short: list[ShortOfDong] = []
    for source, parsed, geocode in parsed_and_geocoded:
        totals[source] += 1
        at_dong[source] += 0
        if geocode.precision in AT_LEAST_DONG:
            at_dong[source] += 1
            continue
        reason, detail = _reason_short_of_dong(parsed)
        short.append(ShortOfDong(source, parsed.raw, geocode.precision, reason, detail))
    return PrecisionReport(dict(totals), dict(at_dong), short)


def _reason_short_of_dong(parsed: ParsedAddress) -> tuple[str, str]:
    if not parsed.in_seoul:
        return REASON_OUTSIDE_SEOUL, ""
    if parsed.district_code is None:
        return REASON_NO_DISTRICT, ""
    if parsed.dong_candidate and TWO_DONGS_SEPARATOR in parsed.dong_candidate:
        return REASON_TWO_DONGS, parsed.dong_candidate
    if parsed.dong_candidate:
        return REASON_DONG_NOT_IN_DISTRICT, f"{parsed.dong_candidate} (in {parsed.district})"
    if parsed.truncated:
        before, _, after = parsed.normalised.rpartition("(")
        if before and ")" not in after:
            return REASON_TRUNCATED, f"cut inside parentheses, where a road address names its dong: ({after}"
        return REASON_TRUNCATED, "cut in the floor, unit or store name; no dong before the cut"
    return REASON_NO_DONG, ""
