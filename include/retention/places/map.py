"""A map of the published places a marketer can open anywhere: one PNG, nothing fetched.

Seoul's district outlines from the bundled polygons, every current place as a point coloured
by type, a legend with counts, and which crawl each source comes from. Written by
`places_refresh.draw_places_map` to the artifact store (`RETENTION_ARTIFACT_STORE`, a folder or
`gs://`), as `places/places_map_<YYYY-MM>.png` and `places/places_map_latest.png`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from functools import cache

from retention.config import BUNDLED_DATA_DIR

log = logging.getLogger(__name__)

DISTRICTS_FILE = BUNDLED_DATA_DIR / "geo" / "seoul_municipalities_geo_simple.json"

# Drawn in this order (the many agencies underneath), with these colours and labels.
STYLES = {
    "kt_agency": ("#7f9cc9", 14, "KT agency (대리점)"),
    "kt_plaza": ("#f28e2b", 36, "KT plaza (플라자)"),
    "kt_experience_plaza": ("#d62728", 60, "KT experience plaza (체험형 플라자)"),
    "digital_learning_center": ("#2ca02c", 36, "Digital learning venue (디지털 배움터)"),
}
SOURCE_NAMES = {"kt_store_finder": "KT store finder", "digital_learning_centers": "디지털 배움터 venue list"}


@cache
def korean_font() -> str | None:
    """A font with Hangul (Noto CJK, installed by the project's set-up), or None: labels then
    fall back to matplotlib's default and Hangul shows as boxes, which is logged."""
    from matplotlib import font_manager

    def find() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        preferred = ["Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Noto Sans CJK JP"]
        return next((name for name in preferred if name in names), None) or next(
            (name for name in sorted(names) if "CJK" in name), None)

    if found := find():
        return found
    # matplotlib caches the system's font list once per user: a font installed after that
    # (the set-up installs fonts-noto-cjk) is missing from it until it is added.
    for path in font_manager.findSystemFonts():
        if "CJK" in path or "Nanum" in path:
            font_manager.fontManager.addfont(path)
    if found := find():
        return found
    log.warning("no font with Hangul found (install fonts-noto-cjk): Korean labels on the map will not render")
    return None


def _district_outlines() -> list[tuple[str, list]]:
    from shapely.geometry import shape

    collection = json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))
    outlines = []
    for feature in collection["features"]:
        geometry = shape(feature["geometry"])
        polygons = list(geometry.geoms) if geometry.geom_type == "MultiPolygon" else [geometry]
        name = feature["properties"].get("SIG_KOR_NM", "")
        outlines.append((name, polygons))
    return outlines


def render_places_map(places, month: dt.date) -> bytes:
    """The map of `places` (rows of core.places: place_type, latitude, longitude, source,
    crawl_date, origin, geocode_precision) published for `month`, as PNG bytes. The same
    places give the same bytes (nothing on it depends on when it was drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = korean_font()
    if font:
        plt.rcParams["font.family"] = [font, "DejaVu Sans"]
    figure, axes = plt.subplots(figsize=(12.5, 9), dpi=110)
    try:
        for name, polygons in _district_outlines():
            for polygon in polygons:
                xs, ys = polygon.exterior.xy
                axes.fill(xs, ys, facecolor="#f3f3f0", edgecolor="#8a8a8a", linewidth=0.8, zorder=1)
            label_at = max(polygons, key=lambda p: p.area).representative_point()
            # Below the point: the district's centroid is where its coarse places are drawn.
            axes.annotate(name, (label_at.x, label_at.y), xytext=(0, -10), textcoords="offset points",
                          ha="center", va="center", fontsize=7, color="#666666", zorder=2)
        # A place located only at its district's centroid is drawn hollow: several such places
        # of one district share that point, and the map must not suggest they stand there.
        coarse = places["geocode_precision"] == "district"
        for place_type, (colour, size, label) in STYLES.items():
            chosen = places["place_type"] == place_type
            axes.scatter(places.loc[chosen & ~coarse, "longitude"], places.loc[chosen & ~coarse, "latitude"], s=size,
                         c=colour, edgecolors="white", linewidths=0.5, label=f"{label}: {chosen.sum()}", zorder=3)
            axes.scatter(places.loc[chosen & coarse, "longitude"], places.loc[chosen & coarse, "latitude"],
                         s=size * 1.6, facecolors="none", edgecolors=colour, linewidths=1.2, zorder=4)
        axes.scatter([], [], s=40, facecolors="none", edgecolors="#555555", linewidths=1.2,
                     label=f"hollow: district centroid only ({coarse.sum()}; the address names no dong)")
        axes.set_aspect(1 / 0.79)  # degrees of longitude are ~0.79 of a degree of latitude at 37.5°N
        axes.set_axis_off()
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=True,
                    title=f"{len(places)} places")
        axes.set_title("Where seniors can go: 디지털 배움터 venues and KT stores in Seoul", fontsize=13)
        figure.text(0.01, 0.01, _provenance(places, month), fontsize=8, color="#444444")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)


_ORIGIN_NAMES = {"bundled_crawl": "bundled 2023 crawl", "owner_file": "the owner's file", "live_scrape": "live scrape"}


def _provenance(places, month: dt.date) -> str:
    lines = []
    for source, group in places.groupby("source"):
        crawl = group["crawl_date"].max()
        # One source's places of a month come from one crawl, so from one origin.
        origin = _ORIGIN_NAMES.get(group["origin"].iloc[0], group["origin"].iloc[0])
        lines.append(f"{SOURCE_NAMES.get(source, source)}: crawl of {crawl:%Y-%m} ({origin}), {len(group)} places")
    precision = places["geocode_precision"].value_counts()
    located = ", ".join(f"{count} at {level} precision" for level, count in precision.items())
    lines.append(f"Positions: {located} (dong/district: centroid of the legal dong or district). "
                 f"Places published for {month:%Y-%m}.")
    return "\n".join(lines)


def write_places_map(places, month: dt.date, *, is_latest: bool) -> list[str]:
    """Write the map of the places published for `month`, and as the latest map when `month` is
    the latest crawl month (a backfilled month leaves the latest map alone); returns the URIs."""
    from retention.modeling.registry import artifact_store, write_bytes

    if places.empty:
        raise ValueError(f"no places were published for {month:%Y-%m}: run places_refresh's seed_bundled_places first")
    image = render_places_map(places, month)
    folder = artifact_store().rstrip("/") + "/places"
    written = [f"{folder}/places_map_{month:%Y-%m}.png"] + ([f"{folder}/places_map_latest.png"] if is_latest else [])
    for uri in written:
        write_bytes(uri, image)
    log.info("places map (%s places) written to %s", len(places), " and ".join(written))
    return written
