"""Write synthetic weekly input files: `telco_customers_<week>.csv` and `contacts_<week>.csv`.

    python -m retention.synthetic --out DIR [--weeks 4] [--last-week YYYY-MM-DD] [--seed 42]

The same seed gives byte-identical files. Every row is marked synthetic; phone numbers
reach no one (see retention/synthetic/contacts.py). The folder can serve as a landing
folder: RETENTION_TELCO_SNAPSHOT_SOURCE=DIR RETENTION_CONTACTS_SOURCE=DIR.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from pathlib import Path

from retention.config import BUNDLED_TELCO_SNAPSHOT
from retention.synthetic.contacts import contacts_file
from retention.synthetic.history import SEED, weekly_snapshots


def write_history(out: Path, weeks: list[dt.date], seed: int) -> list[Path]:
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for week, text in weekly_snapshots(rows[0], rows[1:], weeks, seed).items():
        snapshot = out / f"telco_customers_{week}.csv"
        snapshot.write_text(text, encoding="utf-8", newline="")
        customer_ids = [row[0] for row in csv.reader(text.splitlines()[1:])]
        contacts = out / f"contacts_{week}.csv"
        contacts.write_text(contacts_file(customer_ids, seed, week), encoding="utf-8", newline="")
        written += [snapshot, contacts]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--last-week", type=dt.date.fromisoformat, default=None, help="a Monday (default: this week's)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    today = dt.date.today()
    last = args.last_week or today - dt.timedelta(days=today.weekday())
    weeks = [last - dt.timedelta(weeks=i) for i in reversed(range(args.weeks))]
    for path in write_history(args.out, weeks, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
