"""What a scraper returns: one place as the site showed it, nothing interpreted yet."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Sources, as recorded in raw.place_crawls and core.places.
KT_STORE_FINDER = "kt_store_finder"
DIGITAL_LEARNING_CENTERS = "digital_learning_centers"


@dataclass(frozen=True)
class ScrapedPlace:
    """One result of a store or venue list, as shown on the page (text stripped of whitespace)."""

    source: str
    """`KT_STORE_FINDER` or `DIGITAL_LEARNING_CENTERS`."""
    type_label: str
    """The type as the site shows it: `[대리점]`, `[플라자]`, `[체험형 플라자]` for KT;
    `디지털 배움터` for every venue of the learning-centre list."""
    name: str
    address: str
    phone: str | None
    """None when the site shows none (KT: a few stores have no number)."""
    detail_url: str | None
    """Absolute link to the place's detail page, when the list has one."""
    page: int
    """Result page (1-based) the place was read from, for error messages and audits."""
    position: int
    """Position on that page (1-based)."""

    def as_dict(self) -> dict:
        return asdict(self)
