"""Write synthetic weekly input files: `telco_customers_<week>.csv` and `contacts_<week>.csv`.

    python -m retention.synthetic --out DIR [--weeks 4] [--last-week YYYY-MM-DD] [--seed 42] [--customers 7043]

The same seed (and size) gives byte-identical files. Every row is marked synthetic; phone
numbers reach no one (see retention/synthetic/contacts.py). `--customers` sets how many
customers the history starts with (default the IBM file's 7,043; a million take seconds a
week, written a block of rows at a time). The folder can serve as a landing folder:
RETENTION_TELCO_SNAPSHOT_SOURCE=DIR RETENTION_CONTACTS_SOURCE=DIR.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from retention.synthetic.contacts import write_contacts
from retention.synthetic.history import IBM_CUSTOMERS, SEED, customer_ids, each_week, ibm_file, write_snapshot


def write_history(out: Path, weeks: list[dt.date], seed: int, customers: int = IBM_CUSTOMERS) -> list[Path]:
    header, rows = ibm_file()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for week, population, templates in each_week(header, rows, weeks, seed, customers):
        snapshot = out / f"telco_customers_{week}.csv"
        with snapshot.open("w", encoding="utf-8", newline="") as handle:
            write_snapshot(population, templates, week, handle)
        contacts = out / f"contacts_{week}.csv"
        with contacts.open("w", encoding="utf-8", newline="") as handle:
            write_contacts(customer_ids(population, templates), seed, week, handle)
        written += [snapshot, contacts]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--last-week", type=dt.date.fromisoformat, default=None, help="a Monday (default: this week's)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--customers", type=int, default=IBM_CUSTOMERS,
                        help=f"customers on the first week (default {IBM_CUSTOMERS:,}, the IBM file's)")
    args = parser.parse_args(argv)
    today = dt.date.today()
    last = args.last_week or today - dt.timedelta(days=today.weekday())
    weeks = [last - dt.timedelta(weeks=i) for i in reversed(range(args.weeks))]
    for path in write_history(args.out, weeks, args.seed, args.customers):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
