"""Places the outreach SMS points seniors to: 디지털 배움터 venues and KT stores in Seoul.

Scraped monthly with a real headless Chromium (`scrapers`, one module per site), or taken
from the bundled 2023 crawl when no scrape has succeeded (`bundled`); addresses normalised
and geocoded offline from the bundled district and legal-dong polygons (`addresses`,
`geocode`); validated and published to `core.places` with history (`publish`); drawn as a
map a marketer can open without a network (`map`).
"""
