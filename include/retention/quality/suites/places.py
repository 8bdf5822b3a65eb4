"""Checks on a crawl of places (KT stores or 디지털 배움터 venues) before it replaces the
published ones: a place the outreach SMS could send a senior to must have a name, an address
and a position inside Seoul, once.

The rows checked are the crawl's Seoul places, each once: a place a site listed twice (same
name and address) is kept in `raw.places_prepared` with `duplicate_of_row` and counted, not
checked twice; one whose address names another city (`out_of_area`) is kept and counted,
never published. A crawl whose size moved far from the published one is refused whole: a
half-loaded result list or a site that changed what it lists should not silently replace
the places seniors are sent to.

A crawl from the owner's file (`retention.places.files`) is also checked as a file: the
required columns present, plain UTF-8, no columns the platform does not read (kept in raw),
every line as long as the header; and, for every crawl, the places listed twice named with
both rows (file lines), and a crawl mostly outside Seoul refused whole.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import great_expectations.expectations as gxe

from retention.quality.gates import Check, Finding, Suite, SuiteContext

if TYPE_CHECKING:
    from retention.places.files import PlaceFile

KNOWN_TYPES = ["kt_agency", "kt_plaza", "kt_experience_plaza", "digital_learning_center"]

DONG_PRECISION_GOAL = 0.95

# More than this share of a crawl's rows naming another city or province: the wrong list
# (a national export, another region's), refused whole. The 2023 KT crawl has 4 of 475 (0.8%).
MAX_OUT_OF_AREA_SHARE = 0.10


def volume_band() -> tuple[float, float]:
    """Allowed ratio of a crawl's places to the published ones, read when a crawl is checked.
    Tighter than the weekly files' 0.5x-2x: a store list moves by a few percent a month."""
    return (float(os.environ.get("RETENTION_PLACES_VOLUME_MIN_RATIO", "0.8")),
            float(os.environ.get("RETENTION_PLACES_VOLUME_MAX_RATIO", "1.25")))


def prepare(frame, context: SuiteContext):
    return frame[frame["duplicate_of_row"].isna() & ~frame["out_of_area"].astype(bool)].reset_index(drop=True)


def checks(context: SuiteContext, frame) -> list[Check]:
    result = [
        Check(gxe.ExpectTableRowCountToBeBetween(min_value=1), True, "The crawl has places"),
        Check(gxe.ExpectColumnValuesToBeNull(column="file_error"), True,
              "Each line of the file has as many fields as the header (not cut or shifted)"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="name"), True, "Every place has a name"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="address"), True, "Every place has an address"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="place_type", value_set=KNOWN_TYPES), True,
              "The place type is one the platform knows ([대리점], [플라자], [체험형 플라자], 디지털 배움터)"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="place_type"), True, "The place type is shown"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="latitude"), True,
              "The place was located (at least its district is known)"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="inside_seoul", value_set=[True]), True,
              "The position is inside Seoul (bundled district polygons)"),
        Check(gxe.ExpectColumnValuesToBeUnique(column="place_id"), True,
              "One place per name (two different addresses under one name are held back)"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="geocode_precision", value_set=["address", "dong"],
                                              mostly=DONG_PRECISION_GOAL), False,
              f"At least {DONG_PRECISION_GOAL:.0%} of places are located at legal-dong precision or better"),
    ]
    if frame["detail_url"].notna().any():
        result.append(Check(gxe.ExpectColumnValuesToBeUnique(column="detail_url"), False,
                            "Each venue has its own detail page"))
    if context.previous_row_count:
        low, high = volume_band()
        result.append(Check(
            gxe.ExpectTableRowCountToBeBetween(
                min_value=int(context.previous_row_count * low),
                max_value=int(context.previous_row_count * high) + 1,
            ),
            True,
            f"Place count is within {low}x-{high}x of the published places "
            f"({context.previous_row_count})",
        ))
    return result


SUITE = Suite(name="places", checks=checks, prepare=prepare)


def suite_for(frame, place_file: PlaceFile | None) -> Suite:
    """The suite for one crawl: the checks above, and findings on the rows it does not check
    (repeats, places outside Seoul) and on the file it came from."""
    return dataclasses.replace(SUITE, findings=lambda context: crawl_findings(frame, place_file))


def crawl_findings(frame, place_file: PlaceFile | None) -> list[Finding]:
    unit = "line" if place_file else "row"
    result = []
    if place_file is not None:
        missing = place_file.missing_columns
        result += [
            Finding("file_has_required_columns", "The file has a column for each of name, address (and type for "
                    "KT stores), under a header the platform accepts", not missing,
                    "; ".join(f"no column {c} (headers accepted: {place_file.accepted_headers(c)}; the file has: "
                              f"{', '.join(place_file.header)})" for c in missing) or "all present", blocking=True),
            Finding("file_is_plain_utf8", "The file is UTF-8 without a byte order mark (others are read, with this "
                    "warning)", place_file.encoding == "utf-8", place_file.encoding),
            Finding("file_has_no_unknown_columns", "Every column is one the platform reads (others are kept in "
                    "raw.place_crawls.extra_columns, not published)", not place_file.extra_columns,
                    ", ".join(place_file.extra_columns) or "none"),
        ]
    repeats = frame[frame["duplicate_of_row"].notna()]
    result.append(Finding(
        "each_place_listed_once", "Each place is listed once (a repeat is kept in raw, published once)",
        repeats.empty,
        f"{len(repeats)} repeated: " + "; ".join(
            f"{unit} {int(r.source_row)} repeats {unit} {int(r.duplicate_of_row)} ({r.name})"
            for r in repeats.head(10).itertuples()) + ("; ..." if len(repeats) > 10 else "") if len(repeats) else "none"))
    outside = frame[frame["out_of_area"].astype(bool)]
    share = len(outside) / len(frame) if len(frame) else 0.0
    lines = ", ".join(str(int(row)) for row in outside["source_row"].head(10))
    result.append(Finding(
        "mostly_in_seoul", f"At most {MAX_OUT_OF_AREA_SHARE:.0%} of the places name a city or province other "
        "than Seoul (is this the Seoul list?)", share <= MAX_OUT_OF_AREA_SHARE,
        f"{len(outside)} of {len(frame)} ({share:.1%})" + (f", {unit}s {lines}" if lines else ""), blocking=True))
    return result
