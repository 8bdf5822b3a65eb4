"""`python -m retention.places precision [--out FILE]`: how precisely the bundled places are
located offline, per source, with every row short of legal-dong precision and the reason
(the report in docs/places_geocoding.md is written by this command)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retention.places.bundled import bundled_places
from retention.places.refresh import SOURCES


def precision_markdown() -> str:
    from retention.places.addresses import parse_address
    from retention.places.geocode import Gazetteer, geocode_offline
    from retention.places.precision import precision_report

    gazetteer = Gazetteer.bundled()
    located, by_type = [], {}
    for source in SOURCES:
        for place in bundled_places(source):
            parsed = parse_address(place.address, gazetteer)
            geocode = geocode_offline(parsed, gazetteer)
            located.append((source, parsed, geocode))
            counts = by_type.setdefault(place.type_label, [0, 0])
            counts[0] += 1
            counts[1] += geocode.precision in ("address", "dong")
    report = precision_report(located)
    lines = [
        "# Offline geocoding of the bundled places",
        "",
        "Written by `python -m retention.places precision --out docs/places_geocoding.md` from the bundled",
        "2023 crawl (`include/data/places/`, every row as listed, duplicates included), located from the",
        "bundled district and legal-dong polygons only (no online geocoder). A place is at *dong*",
        "precision when its address names a legal dong of its district (the centroid of that dong);",
        "otherwise at *district* precision (the district's centroid), or not located (outside Seoul).",
        "",
        "| source | rows | at dong precision | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    for source, total in report.totals.items():
        lines.append(f"| {source} | {total} | {report.at_dong[source]} | {report.share(source):.1%} |")
    lines.append(f"| **all** | {sum(report.totals.values())} | {sum(report.at_dong.values())} | "
                 f"**{report.share():.1%}** |")
    lines += ["", "By type (the outreach points seniors to plazas and venues):", "",
              "| type | rows | at dong precision | share |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {label} | {total} | {done} | {done / total:.1%} |" for label, (total, done) in by_type.items()]
    lines += ["", "Goal: 95% of the bundled rows at dong precision. "
              + ("Met." if report.share() >= 0.95 else
                 "**Not met offline**: most KT addresses are road addresses that name no dong (see below)."),
              "", "## Rows short of dong precision, by reason", ""]
    lines += [f"- {count} {reason}" for reason, count in report.reasons().most_common()]
    lines += ["", "| source | address | precision | reason | detail |", "| --- | --- | --- | --- | --- |"]
    for row in report.rows():
        cells = [row["source"], row["address"], row["precision"], row["reason"], row.get("detail", "")]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.places")
    commands = parser.add_subparsers(dest="command", required=True)
    precision = commands.add_parser("precision", help="dong-precision share of the bundled places, and the misses")
    precision.add_argument("--out", type=Path, help="write the report (Markdown) here instead of printing it")
    args = parser.parse_args(argv)
    text = precision_markdown()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
