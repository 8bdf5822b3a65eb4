"""Scoring and marts pieces that need no warehouse: reasons text, segments, risk bands,
which week an asset-triggered run handles, the Looker Studio URL, the data dictionary."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest

from retention.config import PROJECT_ROOT, SQL_DIR


def test_reasons_read_as_plain_language():
    from retention.modeling.explain import describe

    assert list(describe("contract", pd.Series(["Month-to-month", "<missing>"]))) == [
        "Contract: Month-to-month", "Contract: unknown"]
    assert list(describe("tenure_months", pd.Series([1.0, 24.0]))) == ["Months with us: 1", "Months with us: 24"]
    assert list(describe("monthly_charges", pd.Series([70.35, 1234.0]))) == [
        "Monthly charge: $70.35", "Monthly charge: $1,234"]
    assert list(describe("dependents", pd.Series([1.0, 0.0, np.nan]))) == [
        "Dependents: yes", "Dependents: no", "Dependents: unknown"]
    assert list(describe("payment_method", pd.Series(["Electronic check"]))) == ["Pays by Electronic check"]


def test_every_feature_has_a_readable_label():
    from retention.modeling.explain import LABELS
    from retention.modeling.features import FEATURES

    assert set(FEATURES) == set(LABELS)


def test_segments_are_numbered_by_tenure_and_named_in_words():
    from retention.modeling.segments import BEHAVIOUR, Segmenter

    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({column: rng.gamma(2.0, 10.0, n) for column in BEHAVIOUR})
    frame["tenure_months"] = np.concatenate([rng.integers(0, 6, n // 2), rng.integers(50, 72, n - n // 2)])
    frame["contract"] = np.where(frame["tenure_months"] < 12, "Month-to-month", "Two year")
    segmenter = Segmenter(k=3).fit(frame)
    numbers, names = segmenter.predict(frame)
    assert set(numbers) == {1, 2, 3}
    newest = frame.loc[numbers == 1, "tenure_months"].mean()
    oldest = frame.loc[numbers == 3, "tenure_months"].mean()
    assert newest < oldest
    assert segmenter.names[1].startswith("New") and "month-to-month" in segmenter.names[1]
    assert len(set(segmenter.names.values())) == 3
    again, _ = segmenter.predict(frame.iloc[::-1])
    assert (again[::-1] == numbers).all(), "a customer's segment does not depend on the other rows"


def test_risk_thresholds_must_be_ordered(monkeypatch):
    from retention.scoring.score import RiskBands

    assert RiskBands.from_env() == RiskBands(watch=0.3, at_risk=0.5)
    monkeypatch.setenv("RETENTION_WATCH_THRESHOLD", "0.6")
    with pytest.raises(ValueError, match="RETENTION_WATCH_THRESHOLD"):
        RiskBands.from_env()


def _event(week: str | None):
    return SimpleNamespace(extra={"snapshot_date": week} if week else {})


def test_an_asset_triggered_run_handles_every_week_of_its_events_or_its_conf():
    from retention.schedule import triggered_snapshot_dates

    run = SimpleNamespace(conf={}, run_after=dt.datetime(2026, 11, 25, 3, tzinfo=dt.UTC))
    events = {"core.customers": [_event("2026-11-16"), _event("2026-11-09"), _event("2026-11-16"), _event(None)]}
    context = {"dag_run": run, "triggering_asset_events": events}
    assert triggered_snapshot_dates(context) == [dt.date(2026, 11, 9), dt.date(2026, 11, 16)], "a backfill's weeks"
    run.conf = {"snapshot_date": "2026-11-02"}
    assert triggered_snapshot_dates(context) == [dt.date(2026, 11, 2)]
    run.conf = {}
    assert triggered_snapshot_dates({"dag_run": run, "logical_date": None}) == [dt.date(2026, 11, 23)]


def test_the_looker_studio_url_points_every_data_source_at_the_users_marts():
    from retention.marts.build import MARTS
    from retention.marts.looker import ALIASES, linking_url

    url = linking_url("acme-telco", "prod_marts", template_report_id="1a2b3c", billing_project="acme-billing")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "lookerstudio.google.com", "/reporting/create")
    params = dict(parse_qsl(parts.query))
    assert params["c.reportId"] == "1a2b3c"
    assert sorted(ALIASES.values()) == sorted(MARTS)
    assert {alias: params[f"ds.{alias}.tableId"] for alias in ALIASES} == ALIASES
    for i in range(len(MARTS)):
        assert params[f"ds.ds{i}.connector"] == "bigQuery" and params[f"ds.ds{i}.type"] == "TABLE"
        assert params[f"ds.ds{i}.projectId"] == "acme-telco" and params[f"ds.ds{i}.datasetId"] == "prod_marts"
        assert params[f"ds.ds{i}.billingProjectId"] == "acme-billing"
    blank = dict(parse_qsl(urlsplit(linking_url("p", "marts")).query))
    assert "c.reportId" not in blank and blank["ds.ds0.tableId"] == "customer_risk" and "ds.ds1.tableId" not in blank


def test_every_mart_is_described_and_the_data_dictionary_is_current():
    from retention.marts.build import MARTS, column_descriptions, data_dictionary, view_description

    assert {p.name for p in (SQL_DIR / "marts").iterdir()} == set(MARTS)
    for name in MARTS:
        assert view_description(name)
        assert all(len(text) > 5 for text in column_descriptions(name).values()), name
    written = (PROJECT_ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert written == data_dictionary(), "run: python -m retention.marts dictionary"


def test_a_published_week_refreshes_the_mart_weeks_whose_outcome_it_completes():
    import datetime as dt

    from retention.marts.build import weeks_to_refresh

    scored = [dt.date(2026, 10, 26) + dt.timedelta(weeks=i) for i in range(6)]  # 10-26 .. 11-30
    assert weeks_to_refresh(scored, ["2026-11-30"]) == [dt.date(2026, 11, 2), dt.date(2026, 11, 23),
                                                         dt.date(2026, 11, 30)]
    assert weeks_to_refresh(scored, None) == scored
    assert weeks_to_refresh(scored, []) == []
