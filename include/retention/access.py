"""Who may read what in the warehouse: the grants by role, and the marts' authorized views.

Phone numbers live in one place, the `contact` dataset (`contact.phone_numbers`), which only
the outreach service account may read; every other table holds a number's random key. The
tasks that need numbers (telco_ingest.publish_contacts and every senior_outreach task) connect
with `RETENTION_OUTREACH_GCP_CONN_ID` (the outreach service account; by default the same
connection as the rest, as on the local emulator); the rest with `RETENTION_GCP_CONN_ID`.
Marketers and Looker Studio read the `marts` dataset only: its views read core, ml and outreach
as *authorized views* (`python -m retention.access authorize-views`), never contact.

`GRANTS` is the table the README's "Deployment" section shows (a test keeps the two equal).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

OUTREACH_CONN_ENV = "RETENTION_OUTREACH_GCP_CONN_ID"
PHONE_COLUMN = re.compile(r"phone|e164|msisdn|mobile", re.IGNORECASE)
"""A column name that says it may hold a phone number..."""
NOT_A_NUMBER = frozenset({"phone_key", "phone_service"})
"""...except these: a number's random key, and the IBM file's Yes/No for a phone service."""
PHONE_TABLES = {("contact", "phone_numbers"), ("raw", "contacts"), ("raw", "contacts_typed")}
"""The only tables (and view) with a phone column: the one place, and the files as received
(raw.contacts expires; raw.contacts_typed is a view over it)."""
AUTHORIZED_SOURCES = ("core", "ml", "outreach")
"""The datasets the marts' views read, which authorize them; `contact` is never one."""


@dataclass(frozen=True)
class Grant:
    role: str
    dataset: str
    grant: str
    why: str


PIPELINE = "Pipeline service account (`RETENTION_GCP_CONN_ID`)"
OUTREACH = "Outreach service account (`RETENTION_OUTREACH_GCP_CONN_ID`)"
MARKETERS = "Marketers, Looker Studio (viewers or its service account)"
ENGINEERS = "Data engineers (people)"

GRANTS = (
    Grant(PIPELINE, "project", "`roles/bigquery.jobUser`", "runs the queries, loads and copies"),
    Grant(PIPELINE, "raw, core, ml, ops, marts", "`roles/bigquery.dataEditor`",
          "lands, validates, publishes, scores, refreshes the marts"),
    Grant(PIPELINE, "outreach", "`roles/bigquery.dataViewer`",
          "marts.campaign_results reads the audience and the outbox (keys, no numbers)"),
    Grant(PIPELINE, "contact", "none", "phone numbers: the outreach only"),
    Grant(PIPELINE, "artifact bucket", "`roles/storage.objectAdmin`", "model artifacts (signed, see 'Churn model')"),
    Grant(OUTREACH, "project", "`roles/bigquery.jobUser`", "runs the outreach's queries"),
    Grant(OUTREACH, "contact", "`roles/bigquery.dataEditor`",
          "the only reader and writer of phone numbers (publish_contacts adds them; the sender reads them)"),
    Grant(OUTREACH, "outreach", "`roles/bigquery.dataEditor`", "audience, outbox, opt-outs"),
    Grant(OUTREACH, "core", "`roles/bigquery.dataEditor`",
          "publish_contacts writes core.contacts (keys only); the audience reads customers, contacts, presence"),
    Grant(OUTREACH, "raw, ops, ml", "`roles/bigquery.dataViewer`",
          "publish_contacts reads the typed file and its quarantine; the audience reads ml.churn_scores"),
    Grant(MARKETERS, "project", "`roles/bigquery.jobUser`", "Looker Studio runs its queries in the project"),
    Grant(MARKETERS, "marts", "`roles/bigquery.dataViewer`", "the marts: no phone column (a test reads their schemas)"),
    Grant(MARKETERS, "raw, core, ml, outreach, ops, contact", "none",
          "the marts' views read core, ml and outreach as authorized views"),
    Grant("The views of marts", "core, ml, outreach", "authorized view (`python -m retention.access authorize-views`)",
          "a marketer reads a mart without any grant on what it reads"),
    Grant(ENGINEERS, "raw, core, ml, outreach, ops, marts", "`roles/bigquery.dataViewer`",
          "operate and debug the DAGs (ops also through the Airflow UI)"),
    Grant(ENGINEERS, "contact", "none", "phone numbers are seen by the outreach service account only"),
)


def grants_markdown() -> str:
    lines = ["| Role | Dataset | Grant | Why |", "|---|---|---|---|"]
    lines += [f"| {g.role} | {g.dataset} | {g.grant} | {g.why} |" for g in GRANTS]
    return "\n".join(lines)


def is_phone_column(name: str) -> bool:
    return bool(PHONE_COLUMN.search(name)) and name.lower() not in NOT_A_NUMBER


def gcp_conn_id(default: str, role: str) -> str:
    """The Google connection of a task: the outreach's own for `role="outreach"` when configured."""
    if role == "outreach":
        return os.environ.get(OUTREACH_CONN_ENV, "").strip() or default
    if role != "pipeline":
        raise ValueError(f"unknown warehouse role {role!r}: pipeline or outreach")
    return default


def phone_columns(warehouse: Warehouse, layers: tuple[str, ...]) -> dict[str, list[str]]:
    """Every table and view of `layers` with a column whose name says phone: {layer.table: columns}."""
    found = {}
    for layer in layers:
        for item in warehouse.client.list_tables(warehouse.dataset_id(layer)):
            if item.table_id.startswith("_staging_"):
                continue
            columns = [f.name for f in warehouse.client.get_table(item.reference).schema if is_phone_column(f.name)]
            if columns:
                found[f"{layer}.{item.table_id}"] = columns
    return found


def authorize_mart_views(warehouse: Warehouse) -> dict[str, int]:
    """Make every view of marts an authorized view of core, ml and outreach (never contact), so
    that a marketer with dataViewer on marts alone can read it. Idempotent; returns how many
    views each dataset authorizes now."""
    from google.cloud import bigquery

    views = [item.reference for item in warehouse.client.list_tables(warehouse.dataset_id("marts"))
             if item.table_type == "VIEW"]
    counts = {}
    for layer in AUTHORIZED_SOURCES:
        dataset = warehouse.client.get_dataset(warehouse.dataset_id(layer))
        entries = list(dataset.access_entries)
        present = {(e.entity_type, str(e.entity_id)) for e in entries}
        for view in views:
            entry = bigquery.AccessEntry(None, "view", {"projectId": view.project, "datasetId": view.dataset_id,
                                                        "tableId": view.table_id})
            if (entry.entity_type, str(entry.entity_id)) not in present:
                entries.append(entry)
        dataset.access_entries = entries
        warehouse.client.update_dataset(dataset, ["access_entries"])
        counts[layer] = sum(e.entity_type == "view" for e in entries)
        log.info("%s authorizes %d view(s) of marts", dataset.dataset_id, counts[layer])
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.access", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("grants", help="print the grants by role (Markdown)")
    commands.add_parser("authorize-views", help="authorize the views of marts on core, ml and outreach")
    commands.add_parser("check-phones", help="list every table with a phone column; fails outside the allowed ones")
    args = parser.parse_args(argv)
    if args.command == "grants":
        print(grants_markdown())
        return 0
    from retention.config import LAYERS
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect()
    if args.command == "authorize-views":
        print(authorize_mart_views(warehouse))
        return 0
    found = phone_columns(warehouse, LAYERS)
    stray = {name: columns for name, columns in found.items() if tuple(name.split(".")) not in PHONE_TABLES}
    for name, columns in sorted(found.items()):
        print(f"{name}: {', '.join(columns)}{'' if name not in stray else '  <- not allowed'}")
    return 1 if stray else 0


if __name__ == "__main__":
    raise SystemExit(main())
