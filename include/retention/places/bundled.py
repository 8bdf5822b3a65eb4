"""The 2023 crawl shipped with the project: what `core.places` holds until a live scrape of a
source has been validated and published.

Crawled in November 2023 from the KT store finder (Seoul, 475 stores) and the 디지털 배움터
venue list (141 rows); provenance in include/data/README.md. Rows are returned as the scrapers
return theirs, so the bundled crawl goes through the same normalising, geocoding, validation
and publishing as a live one.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from retention.config import BUNDLED_DATA_DIR
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER, ScrapedPlace

BUNDLED_CRAWL_DATE = dt.date(2023, 11, 1)
"""The month of the bundled crawl; its rows are published with this crawl date."""

BUNDLED_FILES = {
    KT_STORE_FINDER: BUNDLED_DATA_DIR / "places" / "kt_stores_seoul_2023.csv",
    DIGITAL_LEARNING_CENTERS: BUNDLED_DATA_DIR / "places" / "digital_learning_centers_seoul_2023.csv",
}
LEARNING_CENTER_LABEL = "디지털 배움터"


def bundled_places(source: str) -> list[ScrapedPlace]:
    """Every row of the bundled crawl of `source`, in file order."""
    path = BUNDLED_FILES[source]
    return [_place(source, row, index) for index, row in enumerate(_read(path), start=1)]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _place(source: str, row: dict[str, str], position: int) -> ScrapedPlace:
    def text(column: str) -> str | None:
        value = " ".join((row.get(column) or "").split())
        return value or None

    if source == KT_STORE_FINDER:
        return ScrapedPlace(source, text("장소타입") or "", text("장소") or "", text("주소") or "", text("전화번호"),
                            None, page=0, position=position)
    return ScrapedPlace(source, LEARNING_CENTER_LABEL, text("장소명") or "", text("주소명") or "", None,
                        text("상세페이지"), page=0, position=position)
