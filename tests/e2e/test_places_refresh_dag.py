"""Real Airflow runs of places_refresh (dag.test): a real headless Chromium scrapes fixture
copies of both sites on loopback, and the results reach core.places on the local emulator."""

from __future__ import annotations

import datetime as dt
import json

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


def _owner_files(landing) -> dict[str, list[list[str]]]:
    """A month's files as the owners send them: KT's list exported from Korean Excel (CP949,
    columns in another order, a remarks column, one store twice, a name that exists only in
    CP949, two stores sharing a name in two districts, one without an address), and the
    programme's venue list under its own headers (UTF-8 with a byte order mark)."""
    import csv

    from retention.places.bundled import BUNDLED_FILES

    def rows(source: str) -> list[list[str]]:
        return list(csv.reader(BUNDLED_FILES[source].open(encoding="utf-8", newline="")))[1:]

    kt = [[phone, address, "", name, kind] for kind, name, address, phone in rows("kt_store_finder")]
    kt.insert(200, list(kt[10]))  # file line 202 repeats line 12
    kt += [
        ["02-990-0001", "서울특별시 도봉구 도봉로 500 (쌍문동)", "신규", "KT 플라자 똠방점", "[플라자]"],
        ["02-2000-0002", "서울특별시 중구 을지로 100 (을지로2가)", "", "KT 중앙점", "[대리점]"],
        ["02-2600-0003", "서울특별시 강서구 공항대로 200 (마곡동)", "", "KT 중앙점", "[대리점]"],
        ["02-900-0004", "", "주소 확인 중", "KT 주소없음점", "[대리점]"],
    ]
    venues = [[url, address, name] for name, address, url in rows("digital_learning_centers")]
    files = {"kt_stores_2026-12.csv": (["전화번호", "주소", "비고", "장소", "장소타입"], kt, "cp949"),
             "learning_centers_2026-12.csv": (["상세페이지", "교육장 주소", "교육장명"], venues, "utf-8-sig")}
    for name, (header, lines, encoding) in files.items():
        with (landing / name).open("w", encoding=encoding, newline="") as handle:
            csv.writer(handle, lineterminator="\r\n").writerows([header, *lines])
    return {"kt_store_finder": kt, "digital_learning_centers": venues}


def test_a_month_from_the_owners_files_is_landed_as_received_and_published_once(
    places_refresh, warehouse, tmp_path, monkeypatch
):
    landing = tmp_path / "landing"
    landing.mkdir()
    sent = _owner_files(landing)
    for setting in ("RETENTION_KT_STORE_FINDER_URL", "RETENTION_LEARNING_CENTERS_URL"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("RETENTION_KT_STORES_SOURCE", str(landing))
    monkeypatch.setenv("RETENTION_LEARNING_CENTERS_SOURCE", str(landing))

    run = places_refresh.test(logical_date=DECEMBER)
    assert str(run.state) == "success", _states(run)
    first = {source: _places(warehouse, source) for source in sent}

    counts = warehouse.rows(
        "SELECT raw.source, raw.crawl_id, COUNT(*) AS raw_lines, MIN(raw.source_row) AS first_line, "
        "MAX(raw.source_row) AS last_line, ANY_VALUE(raw.file_encoding) AS encoding, "
        "(SELECT COUNT(*) FROM `{{ ops }}.quarantine` AS q WHERE q.load_id = raw.crawl_id) AS quarantined, "
        "(SELECT COUNT(*) FROM `{{ core }}.places` AS p WHERE p.crawl_id = raw.crawl_id) AS published "
        "FROM `{{ raw }}.place_crawls` AS raw WHERE raw.origin = 'owner_file' GROUP BY 1, 2 ORDER BY 1"
    )
    # Every line of each file is in raw with its line number; the KT store without an address
    # is held back; KT's 4 stores outside Seoul and 1 repeat, and the 9 repeated venues, are not
    # published; both stores named KT 중앙점 are.
    assert [{k: v for k, v in row.items() if k != "crawl_id"} for row in counts] == [
        {"source": "digital_learning_centers", "raw_lines": 141, "first_line": 2, "last_line": 142,
         "encoding": "utf-8-sig", "quarantined": 0, "published": 132},
        {"source": "kt_store_finder", "raw_lines": 480, "first_line": 2, "last_line": 481,
         "encoding": "cp949", "quarantined": 1, "published": 474},
    ]
    current = current_places(warehouse)
    assert current.groupby("source").size().to_dict() == {"digital_learning_centers": 132, "kt_store_finder": 474}
    assert set(current["origin"]) == {"owner_file"}
    assert set(current["source_uri"]) == {str(landing / "kt_stores_2026-12.csv"),
                                          str(landing / "learning_centers_2026-12.csv")}
    assert "비고" not in current.columns and not current["name"].str.contains("주소 확인 중").any()

    # The repeated store: published once, reported with both lines.
    kt_crawl = counts[1]["crawl_id"]
    report = warehouse.rows(
        "SELECT check_name, success, observed_value FROM `{{ ops }}.validation_results` "
        "WHERE load_id = @c AND check_name IN ('each_place_listed_once', 'file_is_plain_utf8', "
        "'file_has_no_unknown_columns') ORDER BY check_name", {"c": kt_crawl})
    repeated = sent["kt_store_finder"][10][3]
    assert report == [
        {"check_name": "each_place_listed_once", "success": False,
         "observed_value": f"1 repeated: line 202 repeats line 12 ({repeated})"},
        {"check_name": "file_has_no_unknown_columns", "success": False, "observed_value": "비고"},
        {"check_name": "file_is_plain_utf8", "success": False, "observed_value": "cp949"},
    ]
    assert len(current[current["name"] == repeated]) == 1
    assert sorted(current.loc[current["name"] == "KT 중앙점", "place_id"]) == ["kt:KT 중앙점 (강서구)", "kt:KT 중앙점 (중구)"]

    # Hangul byte for byte: raw holds each field exactly as the file had it, and every published
    # name and address is the file's text (spaces collapsed), CP949-only 똠 included.
    raw = warehouse.rows("SELECT source, source_row, name, address, extra_columns FROM `{{ raw }}.place_crawls` "
                         "WHERE origin = 'owner_file' ORDER BY source, source_row")
    fields = {"kt_store_finder": (3, 1), "digital_learning_centers": (2, 1)}
    for row in raw:
        line = sent[row["source"]][row["source_row"] - 2]
        name_at, address_at = fields[row["source"]]
        assert (row["name"], row["address"] or "") == (line[name_at], line[address_at])
    assert {json.loads(row["extra_columns"])["비고"] for row in raw if row["extra_columns"]} >= {"신규", "주소 확인 중"}
    in_files = {(" ".join(line[n].split()), " ".join(line[a].split()))
                for source, (n, a) in fields.items() for line in sent[source]}
    assert set(zip(current["name"], current["address"], strict=True)) <= in_files
    assert "KT 플라자 똠방점".encode() in {name.encode() for name in current["name"]}

    # The same month again: the same files, the same tables.
    run = places_refresh.test(logical_date=DECEMBER)
    assert str(run.state) == "success", _states(run)
    assert {source: _places(warehouse, source) for source in sent} == first
    assert warehouse.count_rows(warehouse.table_id("raw", "place_crawls"), "origin = 'owner_file'") == 621
