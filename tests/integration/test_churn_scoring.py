"""Weekly scoring on the emulator: the champion scores two synthetic weeks, the weeks are
published, compared and read through the marts, as churn_weekly does it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pandas as pd
import pytest

pytestmark = pytest.mark.emulator

WEEKS = [dt.date(2026, 11, 16), dt.date(2026, 11, 23)]


@pytest.fixture(scope="module")
def scored(emulator, tmp_path_factory):
    """Two published weeks (customers and contacts), a champion, both weeks scored to staging."""
    from retention.config import Settings
    from retention.ingest.contacts import land_contacts, publish_contacts, validate_contacts
    from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
    from retention.modeling.features import build_features
    from retention.modeling.weekly import promote_or_keep, train_challenger
    from retention.scoring.score import score_week
    from retention.warehouse import Warehouse

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path_factory.mktemp("artifacts")))
        patch.setenv("RETENTION_TRAINING_FOLDS", "3")
        warehouse = Warehouse.connect(dataclasses.replace(Settings.from_env(), dataset_prefix="scoring_"))
        ensure_tables(warehouse)
        for week in WEEKS:
            landed = land_snapshot(warehouse, week, source="synthetic")
            validate_snapshot(warehouse, landed)
            publish_customers(warehouse, week, landed.load_id)
            contacts = land_contacts(warehouse, week)
            validate_contacts(warehouse, contacts)
            publish_contacts(warehouse, week, contacts.load_id)
            build_features(warehouse, week)
        trained = train_challenger(warehouse, WEEKS[0])
        promoted = promote_or_keep(warehouse, trained)
        staged = [score_week(warehouse, week, chunk_rows=3000) for week in WEEKS]
        yield {"warehouse": warehouse, "trained": trained, "promoted": promoted, "staged": staged}


def _scores(warehouse, week) -> pd.DataFrame:
    return warehouse.dataframe(
        "SELECT * FROM `{{ ml }}.churn_scores` WHERE snapshot_date = @w ORDER BY customer_id", {"w": week}
    )


def _fresh_scores_table(warehouse) -> None:
    warehouse.drop_table(warehouse.table_id("ml", "churn_scores"))


def test_the_cold_start_champion_learns_from_the_labelled_ibm_export_and_a_retrain_is_skipped(scored):
    from retention.modeling.weekly import promote_or_keep, train_challenger

    warehouse = scored["warehouse"]
    assert scored["trained"]["training"]["source"] == "ibm_export"
    assert scored["trained"]["training"]["leavers"] == 1869
    assert scored["promoted"]["status"] == "champion"
    again = train_challenger(warehouse, WEEKS[1])
    assert "was trained on exactly these rows and settings" in again["skipped"]
    assert promote_or_keep(warehouse, again)["status"] == "kept"
    assert warehouse.count_rows(warehouse.table_id("ml", "model_registry")) == 1


def test_scores_are_chunked_and_carry_reasons_segments_and_value(scored):
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    staged = scored["staged"][0]
    assert staged["rows"] > 7_000 and staged["chunks"] == -(-staged["rows"] // 3000), "3,000 rows at a time"
    publish_scores(warehouse, WEEKS[0])
    scores = _scores(warehouse, WEEKS[0])
    assert len(scores) == staged["rows"] and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert sorted(scores["risk_rank"])[:2] == [1, 2] and scores["risk_percentile"].between(0, 100).all()
    assert (scores["at_risk"] == (scores["churn_probability"] >= 0.5)).all()
    explained = scores["risk_band"] != "low"
    assert scores.loc[explained, "reason_1"].notna().all()
    assert scores.loc[~explained, ["reason_1", "reason_2", "reason_3"]].isna().all().all()
    texts = pd.concat([scores.loc[explained, c] for c in ("reason_1", "reason_2", "reason_3")]).dropna()
    odd = texts[~texts.str.match(r"^(Age \d+|[A-Z][^:]*: .+|Pays by .+)$")]
    assert odd.empty, odd.unique()[:10]
    assert scores["segment"].between(1, 5).all() and scores["segment_name"].str.len().gt(10).all()
    assert scores["predicted_cltv"].gt(0).all()
    expected = scores["churn_probability"] * scores["monthly_charges"]
    assert (scores["monthly_revenue_at_risk"] - expected).abs().max() < 1e-9


def test_the_first_week_is_a_baseline_and_the_next_counts_who_is_newly_at_risk(scored):
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    first = publish_scores(warehouse, WEEKS[0])
    assert first["newly_at_risk"] == 0 and first["previous_scored_week"].startswith("none")
    assert _scores(warehouse, WEEKS[0])[["newly_at_risk", "previous_scored_week"]].isna().all().all()

    publish_scores(warehouse, WEEKS[1])
    before, now = _scores(warehouse, WEEKS[0]), _scores(warehouse, WEEKS[1])
    was_at_risk = set(before.loc[before["at_risk"], "customer_id"])
    expected = now["at_risk"] & ~now["customer_id"].isin(was_at_risk)
    assert (now["newly_at_risk"] == expected).all()
    assert 0 < expected.sum() < now["at_risk"].sum()
    assert (now["previous_scored_week"] == WEEKS[0]).all()

    publish_scores(warehouse, WEEKS[1])  # a re-run replaces the week with the same rows
    columns = [c for c in now.columns if c != "scored_at"]
    pd.testing.assert_frame_equal(_scores(warehouse, WEEKS[1])[columns], now[columns])


def test_backfilling_an_earlier_week_updates_the_comparison_of_the_week_after(scored):
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    publish_scores(warehouse, WEEKS[1])
    assert _scores(warehouse, WEEKS[1])["newly_at_risk"].isna().all(), "alone, the later week is the baseline"
    published = publish_scores(warehouse, WEEKS[0])
    assert published["refreshed_next_week"] == str(WEEKS[1])
    later = _scores(warehouse, WEEKS[1])
    assert (later["previous_scored_week"] == WEEKS[0]).all() and later["newly_at_risk"].notna().all()


def test_the_marts_answer_a_marketers_questions_with_described_columns(scored):
    from retention.marts.build import MARTS, column_descriptions, refresh_marts
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    for week in WEEKS:
        publish_scores(warehouse, week)
    assert refresh_marts(warehouse) == {name: len(column_descriptions(name)) for name in MARTS}
    for name in MARTS:
        table = warehouse.client.get_table(warehouse.table_id("marts", name))
        assert {f.name: f.description for f in table.schema} == column_descriptions(name)

    seniors_by_district = warehouse.rows(
        "SELECT district, COUNT(*) AS at_risk, SUM(monthly_revenue_at_risk) AS revenue "
        "FROM `{{ marts }}.customer_risk` WHERE age_band = '65+' AND at_risk AND contract = 'Month-to-month' "
        "AND internet_service = 'Fiber optic' AND payment_method IS NOT NULL AND senior "
        "GROUP BY district ORDER BY at_risk DESC LIMIT 3"
    )
    assert seniors_by_district and all(re.fullmatch(r".+구", row["district"]) for row in seniors_by_district)
    latest = warehouse.rows("SELECT DISTINCT week FROM `{{ marts }}.customer_risk`")
    assert latest == [{"week": WEEKS[1]}]

    trend = warehouse.dataframe("SELECT * FROM `{{ marts }}.risk_by_segment_week`")
    assert set(trend["week"]) == set(WEEKS)
    first_week = trend[trend["week"] == WEEKS[0]]
    assert first_week["left_by_next_week"].notna().all(), "the next week is published: churn is observed"
    assert trend.loc[trend["week"] == WEEKS[1], "left_by_next_week"].isna().all()
    assert 0 < first_week["left_by_next_week"].sum() / first_week["customers"].sum() < 0.05

    segments = warehouse.dataframe("SELECT * FROM `{{ marts }}.revenue_at_risk_by_segment`")
    scores = _scores(warehouse, WEEKS[1])
    assert segments["customers"].sum() == len(scores)
    assert abs(segments["monthly_revenue_at_risk"].sum() - scores["monthly_revenue_at_risk"].sum()) < 1e-6

    performance = warehouse.dataframe("SELECT * FROM `{{ marts }}.model_performance` ORDER BY week")
    assert list(performance["week"]) == WEEKS
    assert (performance["model_status"] == "champion").all() and performance["cross_validated_roc_auc"].gt(0.8).all()
    assert performance["observed_roc_auc"].isna().all(), "four weeks later is not published yet"

    watch = warehouse.dataframe("SELECT * FROM `{{ marts }}.senior_watch_list`")
    assert len(watch) > 50 and watch["age"].ge(65).all() and set(watch["risk_band"]) == {"high", "medium"}


def test_the_static_report_is_one_self_contained_page(scored, tmp_path):
    from retention.marts.build import refresh_marts
    from retention.marts.report import write_report
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    for week in WEEKS:
        publish_scores(warehouse, week)
    refresh_marts(warehouse)
    page = write_report(warehouse, tmp_path / "report.html").read_text(encoding="utf-8")
    for section in ("Risk distribution", "Churn by age band", "Top reasons", "Revenue at risk by segment",
                    "Model quality by version", "Senior watch list"):
        assert section in page
    assert page.count("<img") >= 6 and page.count("src='data:image/png;base64,") == page.count("<img")
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page), "nothing may be fetched from the network"


def _shard_rows(warehouse, week) -> pd.DataFrame:
    from retention.scoring.shards import shard_staging_table

    return warehouse.dataframe(
        f"SELECT * FROM `{warehouse.table_id('ml', shard_staging_table(week))}` ORDER BY customer_id"
    )


def _score_in_shards(warehouse, week, shards: int) -> list[dict]:
    from retention.scoring.shards import ShardSizing, plan_shards, score_shard

    plan = plan_shards(warehouse, [week], ShardSizing(rows_per_shard=-(-8000 // shards), max_shards=shards))
    assert [item["shard"] for item in plan] == list(range(shards))
    return [score_shard(warehouse, week, item["shard"], item["shards"], model_version=item["model_version"],
                        chunk_rows=1000) for item in plan]


def test_three_shards_publish_the_same_scores_as_one(scored):
    from retention.scoring.score import publish_scores

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    publish_scores(warehouse, WEEKS[0], shards=scored["staged"][0]["shards"])
    whole = _scores(warehouse, WEEKS[0])
    results = _score_in_shards(warehouse, WEEKS[0], 3)
    assert all(r["read_path"] == "storage" for r in results), "the emulator serves the Storage Read API"
    assert sum(r["rows"] for r in results) == len(whole) and min(r["rows"] for r in results) > 2000
    assert publish_scores(warehouse, WEEKS[0], shards=results)["shards"] == 3
    columns = [c for c in whole.columns if c != "scored_at"]
    pd.testing.assert_frame_equal(_scores(warehouse, WEEKS[0])[columns], whole[columns])


def test_rerunning_one_shard_replaces_its_rows_and_leaves_the_others_untouched(scored):
    from retention.scoring.score import publish_scores
    from retention.scoring.shards import PartialScoresError, score_shard

    warehouse = scored["warehouse"]
    results = _score_in_shards(warehouse, WEEKS[1], 3)
    before = _shard_rows(warehouse, WEEKS[1])
    again = score_shard(warehouse, WEEKS[1], 1, 3, chunk_rows=1000)
    after = _shard_rows(warehouse, WEEKS[1])
    others = before["shard"] != 1
    pd.testing.assert_frame_equal(after[after["shard"] != 1].reset_index(drop=True),
                                  before[others].reset_index(drop=True))
    assert set(after.loc[after["shard"] == 1, "attempt_id"]) == {again["attempt_id"]} != {results[1]["attempt_id"]}
    columns = [c for c in before.columns if c != "attempt_id"]
    pd.testing.assert_frame_equal(after[columns], before[columns])  # same customers, same scores
    # publish reads what the tasks reported: the first attempt of shard 1 is no longer staged
    with pytest.raises(PartialScoresError, match=r"the rows of shard\(s\) \[1\] are not the ones"):
        publish_scores(warehouse, WEEKS[1], shards=results)
    assert publish_scores(warehouse, WEEKS[1], shards=[results[0], again, results[2]])["customers"] == len(after)


def test_publish_refuses_a_partial_set_of_shards_and_names_the_missing_ones(scored):
    from retention.scoring.score import publish_scores
    from retention.scoring.shards import PartialScoresError

    warehouse = scored["warehouse"]
    _fresh_scores_table(warehouse)
    results = _score_in_shards(warehouse, WEEKS[0], 4)
    with pytest.raises(PartialScoresError, match=r"shard\(s\) \[1, 3\] of 4 have not been scored"):
        publish_scores(warehouse, WEEKS[0], shards=[results[0], results[2]])
    warehouse.run(f"DELETE FROM `{results[2]['staging_table']}` WHERE shard = 2")  # staged rows lost
    with pytest.raises(PartialScoresError, match=r"shard\(s\) \[2\]"):
        publish_scores(warehouse, WEEKS[0], shards=results)
    assert not warehouse.table_exists(warehouse.table_id("ml", "churn_scores")) or _scores(warehouse, WEEKS[0]).empty
