"""The dong-precision report in docs/ is current, and the places map is a PNG that depends only
on the places (the same places draw the same bytes)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retention.config import PROJECT_ROOT
from retention.places.__main__ import precision_markdown
from retention.places.map import korean_font, render_places_map


def test_the_precision_report_in_docs_is_current():
    committed = (PROJECT_ROOT / "docs" / "places_geocoding.md").read_text(encoding="utf-8")
    assert committed == precision_markdown(), (
        "docs/places_geocoding.md is stale: run `python -m retention.places precision --out docs/places_geocoding.md`"
    )


def test_the_map_draws_every_type_and_is_the_same_for_the_same_places():
    places = pd.DataFrame([
        {"source": "kt_store_finder", "place_type": "kt_experience_plaza", "latitude": 37.504, "longitude": 127.049,
         "geocode_precision": "district", "crawl_date": dt.date(2026, 12, 1), "origin": "live_scrape"},
        {"source": "kt_store_finder", "place_type": "kt_agency", "latitude": 37.57, "longitude": 126.98,
         "geocode_precision": "dong", "crawl_date": dt.date(2026, 12, 1), "origin": "live_scrape"},
        {"source": "digital_learning_centers", "place_type": "digital_learning_center", "latitude": 37.55,
         "longitude": 127.14, "geocode_precision": "dong", "crawl_date": dt.date(2023, 11, 1),
         "origin": "bundled_crawl"},
    ])
    first = render_places_map(places, dt.date(2026, 12, 1))
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and len(first) > 50_000
    assert render_places_map(places, dt.date(2026, 12, 1)) == first
    assert korean_font() is not None, "install fonts-noto-cjk: the map's Korean labels need a Hangul font"
