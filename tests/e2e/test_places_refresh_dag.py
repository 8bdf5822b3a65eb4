"""Real Airflow runs of places_refresh (dag.test): a real headless Chromium scrapes fixture
copies of both sites on loopback, and the results reach core.places on the local emulator."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from place_sites import serve_place_sites

from retention.config import PROJECT_ROOT
from retention.places.refresh import current_places

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]

DECEMBER = pendulum.datetime(2026, 12, 1, 3, tz="Asia/Seoul")
JANUARY = pendulum.datetime(2027, 1, 1, 3, tz="Asia/Seoul")


@pytest.fixture
def places_refresh(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    monkeypatch.setenv("RETENTION_SCRAPE_PAGE_DELAY_SECONDS", "0")
    monkeypatch.setenv("RETENTION_SCRAPE_BACKOFF_SECONDS", "0.1")
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "places_refresh.py"))
    return bag.dags["places_refresh"]


def _point_at(sites, monkeypatch) -> None:
    monkeypatch.setenv("RETENTION_KT_STORE_FINDER_URL", sites.kt_store_finder_url)
    monkeypatch.setenv("RETENTION_LEARNING_CENTERS_URL", sites.learning_centers_url)


def _states(run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}


def _places(warehouse, source: str) -> list[dict]:
    return warehouse.rows(
        "SELECT * EXCEPT (published_at) FROM `{{ core }}.places` WHERE source = @s ORDER BY crawl_date, place_id",
        {"s": source},
    )


def test_a_scraped_month_is_published_and_a_changed_layout_leaves_the_places_as_they_were(
    places_refresh, warehouse, tmp_path, monkeypatch
):
    with serve_place_sites(render_delay_ms=20) as sites:
        _point_at(sites, monkeypatch)
        run = places_refresh.test(logical_date=DECEMBER)
    assert str(run.state) == "success", _states(run)

    current = current_places(warehouse)
    assert current.groupby("source").size().to_dict() == {"digital_learning_centers": 132, "kt_store_finder": 471}
    assert set(current["origin"]) == {"live_scrape"} and set(current["crawl_date"]) == {dt.date(2026, 12, 1)}
    # The bundled crawl was published first (nothing had been), and is kept as history.
    seeded = warehouse.rows(
        "SELECT source, valid_to, COUNT(*) AS n FROM `{{ core }}.places` WHERE origin = 'bundled_crawl' "
        "GROUP BY 1, 2 ORDER BY 1"
    )
    assert seeded == [
        {"source": "digital_learning_centers", "valid_to": dt.date(2026, 12, 1), "n": 132},
        {"source": "kt_store_finder", "valid_to": dt.date(2026, 12, 1), "n": 471},
    ]
    maps = tmp_path / "artifacts" / "places"
    assert (maps / "places_map_2026-12.png").read_bytes()[:4] == b"\x89PNG"
    assert (maps / "places_map_latest.png").read_bytes() == (maps / "places_map_2026-12.png").read_bytes()

    before = {source: _places(warehouse, source) for source in ("kt_store_finder", "digital_learning_centers")}
    with serve_place_sites(render_delay_ms=20, broken_page=3) as sites:
        _point_at(sites, monkeypatch)
        run = places_refresh.test(logical_date=JANUARY)
    states = _states(run)
    assert str(run.state) == "failed", states
    for branch in ("kt_stores", "learning_centers"):
        assert states[f"land_{branch}"] == ("failed", 1), states  # a layout change is not retried
        assert states[f"publish_{branch}"][0] == "upstream_failed", states
    assert states["fail_if_a_branch_failed"][0] == "failed", states
    assert {source: _places(warehouse, source) for source in before} == before
    # January's map shows what is still published: December's crawl.
    assert states["draw_places_map"][0] == "success", states
    assert (maps / "places_map_2027-01.png").read_bytes()[:4] == b"\x89PNG"
