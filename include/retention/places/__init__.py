"""Places the outreach SMS points seniors to: 디지털 배움터 venues and KT stores in Seoul.

Taken monthly from the owner's own files when they are delivered (`files`: KT's store list,
the programme's venue list), else scraped with a real headless Chromium (`scrapers`, one
module per site), or from the bundled 2023 crawl when neither has been published
(`bundled`); addresses normalised and geocoded offline from the bundled district and
legal-dong polygons (`addresses`, `geocode`, `geocode_cache`); validated and published to
`core.places` with history (`refresh`); drawn as a map a marketer can open without a network
(`map`).
"""
