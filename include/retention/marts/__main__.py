"""Marts commands.

    python -m retention.marts looker-url [--template-report-id ID] [--billing-project P]
    python -m retention.marts report [--out PATH]      (needs a warehouse: emulator or real)
    python -m retention.marts dictionary [--out docs/data_dictionary.md]
    python -m retention.marts refresh [--week YYYY-MM-DD ...]   (every scored week without --week)

`looker-url` reads the project and dataset prefix from RETENTION_BQ_PROJECT and
RETENTION_DATASET_PREFIX, as the DAGs do, and prints the URL; it contacts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retention.config import PROJECT_ROOT, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.marts", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    url = commands.add_parser("looker-url", help="print a Looker Studio Linking API URL for your marts")
    url.add_argument("--template-report-id", help="the report to copy (README, 'Looker Studio')")
    url.add_argument("--billing-project", help="project billed for Looker Studio's queries (default: the data's)")
    url.add_argument("--report-name", default="Telco churn and retention")
    report = commands.add_parser("report", help="write the static HTML report of the marts")
    report.add_argument("--out", type=Path, default=PROJECT_ROOT / ".local" / "report" / "churn_report.html")
    dictionary = commands.add_parser("dictionary", help="write the data dictionary of the marts")
    dictionary.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "data_dictionary.md")
    refresh = commands.add_parser("refresh", help="refresh the mart tables (a rebuild of every scored week by default)")
    refresh.add_argument("--week", action="append", type=str, help="a published week (repeatable)")
    args = parser.parse_args(argv)

    if args.command == "looker-url":
        from retention.marts.looker import linking_url

        settings = Settings.from_env()
        print(linking_url(settings.project, settings.dataset("marts"), template_report_id=args.template_report_id,
                          report_name=args.report_name, billing_project=args.billing_project))
        return 0
    if args.command == "dictionary":
        from retention.marts.build import data_dictionary

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(data_dictionary(), encoding="utf-8")
        print(f"written to {args.out}")
        return 0
    from retention.warehouse import Warehouse

    if args.command == "refresh":
        from retention.marts.build import refresh_marts

        print(refresh_marts(Warehouse.connect(), args.week))
        return 0
    from retention.marts.report import write_report

    print(f"written to {write_report(Warehouse.connect(), args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
