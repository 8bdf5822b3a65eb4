"""marts.campaign_results on the emulator: a small campaign worked out by hand, read back
exactly as Looker Studio would read it (message group against holdout, per cohort week and
pooled)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from google.cloud import bigquery

pytestmark = pytest.mark.emulator

CAMPAIGN = "senior-digital-literacy"
OTHER_CAMPAIGN = "winter-check-in"
FIRST, SECOND, LATEST = dt.date(2026, 11, 2), dt.date(2026, 11, 16), dt.date(2026, 11, 30)
DECIDED_AT = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)

# (campaign, week, customer, group or None, excluded reason or None)
AUDIENCE = [
    (CAMPAIGN, FIRST, "m1", "message", None),
    (CAMPAIGN, FIRST, "m2", "message", None),
    (CAMPAIGN, FIRST, "m3", "message", None),
    (CAMPAIGN, FIRST, "m4", "message", None),
    (CAMPAIGN, FIRST, "h1", "holdout", None),
    (CAMPAIGN, FIRST, "h2", "holdout", None),
    (CAMPAIGN, FIRST, "h3", "holdout", None),
    (CAMPAIGN, FIRST, "x1", None, "cool_down"),
    (CAMPAIGN, FIRST, "x2", None, "no_sms_consent"),
    # m1 again: it belongs to the first cohort, once.
    (CAMPAIGN, SECOND, "m1", "message", None),
    (CAMPAIGN, SECOND, "m5", "message", None),
    (CAMPAIGN, SECOND, "m6", "message", None),
    (CAMPAIGN, SECOND, "m8", "message", None),
    (CAMPAIGN, SECOND, "h4", "holdout", None),
    # Excluded in the first week, held out in the second: second cohort.
    (CAMPAIGN, SECOND, "x1", "holdout", None),
    (CAMPAIGN, SECOND, "h6", "holdout", None),
    (CAMPAIGN, SECOND, "x2", None, "opted_out"),
    (CAMPAIGN, LATEST, "m7", "message", None),
    (CAMPAIGN, LATEST, "h7", "holdout", None),
    # Another campaign: m1 counts again there, and its holdout is empty.
    (OTHER_CAMPAIGN, SECOND, "m1", "message", None),
    (OTHER_CAMPAIGN, SECOND, "m2", None, "already_in_campaign"),
]
OUTBOX = {
    (CAMPAIGN, "m1"): "delivered", (CAMPAIGN, "m2"): "undelivered", (CAMPAIGN, "m3"): "delivered",
    (CAMPAIGN, "m4"): "failed", (CAMPAIGN, "m5"): "sent", (CAMPAIGN, "m6"): "delivered",
    (CAMPAIGN, "m8"): "delivered", (CAMPAIGN, "m7"): "queued", (OTHER_CAMPAIGN, "m1"): "skipped",
}
EVERYONE = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "h1", "h2", "h3", "h4", "h6", "h7", "x1", "x2"]
LEFT_BY_LATEST = {"m2", "m3", "m6", "h1", "h4", "x1", "x2"}
PRESENCE = (
    [(FIRST, c) for c in EVERYONE]
    # h2 is missing one week but back by the follow-up week: not a leaver.
    + [(SECOND, c) for c in EVERYONE if c != "h2"]
    + [(LATEST, c) for c in EVERYONE if c not in LEFT_BY_LATEST]
)


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _result(campaign, cohort, weeks, messaged, delivered, messaged_left, messaged_rate,
            holdout, holdout_left, holdout_rate, difference, followed) -> dict:
    """`followed`: (messaged, held out) customers followed at least a week, or None without an outcome.
    The interval is Newcombe's (method 10) from the two Wilson intervals, computed here independently."""
    error = low = high = None
    if followed is not None:
        (n1, n2), p1, p2 = followed, messaged_rate, holdout_rate
        error = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        (l1, u1), (l2, u2) = _wilson(p1, n1), _wilson(p2, n2)
        low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {
        "campaign_id": campaign, "cohort": cohort,
        "cohort_week": None if cohort == "all weeks" else dt.date.fromisoformat(cohort),
        "weeks_followed": weeks, "messaged_customers": messaged, "messages_delivered": delivered,
        "messaged_left": messaged_left, "messaged_churn_rate": messaged_rate, "holdout_customers": holdout,
        "holdout_left": holdout_left, "holdout_churn_rate": holdout_rate, "churn_difference": difference,
        "difference_standard_error": error, "difference_ci_low": low, "difference_ci_high": high,
    }


EXPECTED = [
    # 4 messaged (2 left, 2 delivered: delivery does not matter), 3 held out (1 left); 4 weeks.
    _result(CAMPAIGN, "2026-11-02", 4, 4, 2, 2, 1 / 2, 3, 1, 1 / 3, 1 / 2 - 1 / 3,
            (4, 3)),
    # Followed to the latest published week only: 2 weeks.
    _result(CAMPAIGN, "2026-11-16", 2, 3, 2, 1, 1 / 3, 3, 2, 2 / 3, 1 / 3 - 2 / 3,
            (3, 3)),
    # The latest week: no outcome yet.
    _result(CAMPAIGN, "2026-11-30", 0, 1, 0, 0, None, 1, 0, None, None, None),
    # Pooled four-week churn: every customer counted, but left and rates only from the cohort
    # followed the full four weeks (4 messaged, 2 left; 3 held out, 1 left).
    _result(CAMPAIGN, "all weeks", None, 8, 4, 2, 1 / 2, 7, 1, 1 / 3, 1 / 2 - 1 / 3, (4, 3)),
    _result(OTHER_CAMPAIGN, "2026-11-16", 2, 1, 0, 0, 0.0, 0, 0, None, None, None),
    _result(OTHER_CAMPAIGN, "all weeks", None, 1, 0, 0, None, 0, 0, None, None, None),  # not four weeks yet
]


def _message(campaign: str, customer: str, state: str) -> dict:
    week = next(w for c, w, who, group, _ in AUDIENCE if (c, who, group) == (campaign, customer, "message"))
    return {
        "campaign_id": campaign, "customer_id": customer, "snapshot_date": week, "state": state,
        "phone_key": "key", "night_consent": False, "body": "hello", "encoding": "GSM-7",
        "segments": 1, "venue_place_id": "venue", "venue_distance_km": 1.0, "venue_geocode_precision": "dong",
        "plaza_place_id": "plaza", "plaza_distance_km": 1.0, "plaza_geocode_precision": "dong",
        "not_before": DECIDED_AT, "attempts": 1, "queued_at": DECIDED_AT, "queued_by_run": "test",
        "updated_at": DECIDED_AT,
    }


@pytest.fixture
def campaign_results(warehouse):
    warehouse.run_file("outreach/campaign_audience/create.sql")
    warehouse.run_file("outreach/messages/create.sql")
    audience_id = warehouse.table_id("outreach", "campaign_audience")
    messages_id = warehouse.table_id("outreach", "messages")
    warehouse.load_json_rows(audience_id, [
        {"campaign_id": campaign, "snapshot_date": week, "customer_id": customer, "churn_probability": 0.6,
         "excluded_reason": reason, "campaign_group": group, "decided_at": DECIDED_AT}
        for campaign, week, customer, group, reason in AUDIENCE
    ], warehouse.client.get_table(audience_id).schema)
    warehouse.load_json_rows(
        messages_id, [_message(campaign, customer, state) for (campaign, customer), state in OUTBOX.items()],
        warehouse.client.get_table(messages_id).schema,
    )
    # The mart only reads core.customer_presence: a table stands in for the view.
    warehouse.load_json_rows(
        warehouse.table_id("core", "customer_presence"),
        [{"snapshot_date": week, "customer_id": customer} for week, customer in PRESENCE],
        [bigquery.SchemaField("snapshot_date", "DATE"), bigquery.SchemaField("customer_id", "STRING")],
    )
    from retention.marts.build import refresh_small

    for _ in range(2):  # a re-run replaces the table with the same rows
        refresh_small(warehouse, "campaign_results", {"latest_published_week": max(week for week, _ in PRESENCE)})
    # A table keeps no row order: read it in the mart's own order.
    return warehouse.rows("SELECT * FROM `{{ marts }}.campaign_results` "
                          "ORDER BY campaign_id, cohort_week IS NULL, cohort_week")


def test_the_campaign_is_compared_with_its_holdout_per_cohort_and_pooled(campaign_results):
    assert [(row["campaign_id"], row["cohort"]) for row in campaign_results] == [
        (row["campaign_id"], row["cohort"]) for row in EXPECTED
    ]
    for row, expected in zip(campaign_results, EXPECTED, strict=True):
        assert row == pytest.approx(expected, abs=1e-9), row["cohort"]


def test_every_column_of_the_view_is_described_in_order(warehouse, campaign_results):
    from retention.marts.build import column_descriptions

    columns = warehouse.column_names(warehouse.table_id("marts", "campaign_results"))
    assert columns == list(column_descriptions("campaign_results"))
    assert columns == list(EXPECTED[0])
