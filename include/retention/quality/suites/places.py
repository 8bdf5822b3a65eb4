"""Checks on a crawl of places (KT stores or 디지털 배움터 venues) before it replaces the
published ones: a place the outreach SMS could send a senior to must have a name, an address
and a position inside Seoul, once.

The rows checked are the crawl's Seoul places, each once: a place a site listed twice (same
name and address) is kept in `raw.places_prepared` with `duplicate_of_row` and counted, not
checked twice; one whose address names another city (`out_of_area`) is kept and counted,
never published. A crawl whose size moved far from the published one is refused whole: a
half-loaded result list or a site that changed what it lists should not silently replace
the places seniors are sent to.
"""

from __future__ import annotations

import os

import great_expectations.expectations as gxe

from retention.quality.gates import Check, Suite, SuiteContext

KNOWN_TYPES = ["kt_agency", "kt_plaza", "kt_experience_plaza", "digital_learning_center"]

DONG_PRECISION_GOAL = 0.95


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
