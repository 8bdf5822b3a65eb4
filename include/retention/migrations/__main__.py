"""`python -m retention.migrations status|apply`: the warehouse's schema migrations, by hand or
from a deployment pipeline (the DAGs apply them too, before they write). Uses the same settings
as the DAGs (README, "Pointing it at a real BigQuery project"); exit code 1 with the reason when
the warehouse and the files disagree."""

from __future__ import annotations

import argparse
import logging
import sys

from retention.migrations import MigrationError, migrate, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.migrations", description=__doc__)
    parser.add_argument("command", choices=("status", "apply"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect()
    try:
        if args.command == "apply":
            names = migrate(warehouse, applied_by="python -m retention.migrations apply")
            print(f"applied {len(names)} migration(s): {', '.join(names)}" if names else "nothing to apply")
        done, pending = status(warehouse, create=False)
    except MigrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{warehouse.table_id('ops', 'schema_migrations')}: {len(done)} applied, {len(pending)} pending")
    for migration in pending:
        print(f"  pending  {migration.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
