"""Refresh the marts (tables Looker Studio reads) and give every column its description.

Each mart is a folder `sql/marts/<name>/` with `query.sql` (a GoogleSQL SELECT), `metadata.yaml`
(its description and how it is kept) and `columns.yaml` (one plain-language description per
column). The marts are tables, not views, so a dashboard refresh reads a prepared table instead
of re-running a query over the whole history (issue 22):
- `table: partitioned`: one partition per scored week (`partition_by`), written by
  `Warehouse.publish_partition` from the query for that week (`@snapshot_date`). Each refresh
  rewrites only the weeks it is given and the earlier weeks whose outcome they complete (the
  week before, for next-week churn; four weeks before, for the model's observed quality).
- `table: small`: one scored week or one row per group, replaced whole (`CREATE OR REPLACE
  TABLE ... AS`), from the partitioned marts or from filtered reads.
The descriptions are set on the table's schema through the API after each refresh (BigQuery and
the emulator both keep them), shown in Looker Studio's field list, and make up
docs/data_dictionary.md. A mart whose columns differ from its `columns.yaml` is refused, so the
two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from retention.config import SQL_DIR

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

# In dependency order: customer_risk, risk_by_segment_week and senior_watch_list read
# customer_risk_by_week (directly or through customer_risk). campaign_results reads the
# outreach tables (outreach.campaign_audience, outreach.messages) and core.customer_presence;
# consent_notices reads outreach.consent_notices and outreach.messages.
MARTS = ("customer_risk_by_week", "customer_risk", "risk_by_segment_week", "revenue_at_risk_by_segment",
         "model_performance", "senior_watch_list", "campaign_results", "consent_notices")
# Weeks back whose figures a newly published week completes: next-week churn, four-week outcome.
_COMPLETES = (dt.timedelta(days=7), dt.timedelta(days=28))


class MartError(RuntimeError):
    """A mart's table and its column descriptions disagree."""


def _yaml(name: str, file: str) -> dict:
    import yaml

    return yaml.safe_load((SQL_DIR / "marts" / name / file).read_text(encoding="utf-8"))


def metadata(name: str) -> dict:
    return _yaml(name, "metadata.yaml")


def column_descriptions(name: str) -> dict[str, str]:
    """`columns.yaml` of the mart, or of the mart its `_same_as` names (a table of the same columns)."""
    columns = _yaml(name, "columns.yaml")
    if "_same_as" in columns:
        return column_descriptions(columns["_same_as"])
    return {str(column): str(text) for column, text in columns.items()}


def view_description(name: str) -> str:
    """The mart's description (kept under this name for the report and the Looker guide)."""
    return str(metadata(name)["description"])


def refresh_marts(warehouse: Warehouse, weeks: Iterable[dt.date | str] | None = None) -> dict[str, int]:
    """Refresh every mart for the scored `weeks` (and the earlier weeks they complete); all scored
    weeks when None (a rebuild). Returns the columns per mart."""
    from retention.outreach.campaign import ensure_tables

    warehouse.ensure_datasets(["marts"])
    warehouse.run_file("core/customer_presence/view.sql")
    # campaign_results reads the outreach tables, which senior_outreach fills after the first scores.
    ensure_tables(warehouse, phone_numbers=False)
    scored = warehouse.partition_dates(warehouse.table_id("ml", "churn_scores"))
    published = set(warehouse.partition_dates(warehouse.table_id("core", "customers")))
    to_refresh = weeks_to_refresh(scored, weeks)
    latest = {"latest_week": scored[-1] if scored else dt.date(1, 1, 1),
              "latest_published_week": max(published) if published else dt.date(1, 1, 1),
              "today": _seoul_today()}
    described = {}
    for name in MARTS:
        kind = metadata(name)["table"]
        if kind == "partitioned":
            for week in to_refresh:
                refresh_week(warehouse, name, week, {
                    "next_week_known": week + dt.timedelta(days=7) in published,
                    "outcome_known": week + dt.timedelta(days=28) in published,
                })
            if not warehouse.table_exists(warehouse.table_id("marts", name)):
                _create_partitioned(warehouse, name)
        else:
            refresh_small(warehouse, name, latest)
        described[name] = describe(warehouse, name)
    log.info("refreshed the marts for weeks %s", [str(week) for week in to_refresh])
    return described


def weeks_to_refresh(scored: list[dt.date], weeks: Iterable[dt.date | str] | None) -> list[dt.date]:
    """The scored weeks whose partitions change when `weeks` are published: those weeks, and
    the weeks one and four weeks before them (their next-week churn and four-week outcome
    become known); every scored week when `weeks` is None."""
    if weeks is None:
        return list(scored)
    given = {dt.date.fromisoformat(str(week)) for week in weeks}
    wanted = given | {week - back for week in given for back in _COMPLETES}
    return [week for week in scored if week in wanted]


def _query(name: str) -> str:
    return (SQL_DIR / "marts" / name / "query.sql").read_text(encoding="utf-8")


def _params_for(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters the query names, so each job's parameters in the job history are its own."""
    return {key: value for key, value in params.items() if f"@{key}" in sql}


def _without_view(warehouse: Warehouse, table_id: str) -> None:
    """Earlier releases made the marts views: a view of that name is dropped (it holds no data)."""
    from google.api_core.exceptions import NotFound

    try:
        existing = warehouse.client.get_table(table_id)
    except NotFound:
        return
    if existing.table_type == "VIEW":
        log.info("%s is a view of an earlier release: replacing it by a table", table_id)
        warehouse.drop_table(table_id)


def _create_partitioned(warehouse: Warehouse, name: str) -> None:
    """The mart's table, its columns typed from the query (no row read: `WHERE FALSE`)."""
    meta = metadata(name)
    table_id = warehouse.table_id("marts", name)
    _without_view(warehouse, table_id)
    query = _query(name)
    sample = {"snapshot_date": dt.date(2000, 1, 3), "next_week_known": False, "outcome_known": False}
    cluster = f"CLUSTER BY {', '.join(meta['cluster_by'])} " if meta.get("cluster_by") else ""
    warehouse.run(
        f"CREATE TABLE IF NOT EXISTS `{table_id}` PARTITION BY {meta['partition_by']} {cluster}"
        f"AS SELECT * FROM (\n{query}\n) WHERE FALSE",
        _params_for(query, sample), source=f"sql/marts/{name}/query.sql (create)",
    )


def refresh_week(warehouse: Warehouse, name: str, week: dt.date, known: dict[str, bool]) -> None:
    """Replace one week's partition of a partitioned mart."""
    table_id = warehouse.table_id("marts", name)
    if not warehouse.table_exists(table_id) or warehouse.client.get_table(table_id).table_type == "VIEW":
        _create_partitioned(warehouse, name)
    query = _query(name)
    warehouse.publish_partition(table_id, metadata(name)["partition_by"], week, query,
                                _params_for(query, {"snapshot_date": week, **known}),
                                source=f"sql/marts/{name}/query.sql")


def refresh_campaign_results(warehouse: Warehouse) -> dict:
    """marts.campaign_results alone, after senior_outreach changed the audience or the outbox
    (refresh_marts runs before senior_outreach, so it would show last week's campaign)."""
    if not warehouse.table_exists(warehouse.table_id("core", "customer_presence")):
        return {"skipped": "core.customer_presence is not there yet: churn_weekly.refresh_marts creates it"}
    warehouse.ensure_datasets(["marts"])
    latest = warehouse.latest_partition(warehouse.table_id("core", "customers"))
    refresh_small(warehouse, "campaign_results", {"latest_published_week": latest or dt.date(1, 1, 1)})
    return {"campaign_results": describe(warehouse, "campaign_results")}


def _seoul_today() -> dt.date:
    from retention.outreach.quiet_hours import SEOUL
    from retention.outreach.transports import utc_now

    return utc_now().astimezone(SEOUL).date()


def refresh_consent_notices(warehouse: Warehouse, today: dt.date) -> dict:
    """marts.consent_notices alone, as of `today` (Seoul), by the consent_notices DAG each day
    (refresh_marts runs weekly, and the mart's days left and alerts change daily)."""
    warehouse.ensure_datasets(["marts"])
    refresh_small(warehouse, "consent_notices", {"today": today})
    return {"consent_notices": describe(warehouse, "consent_notices")}


def refresh_small(warehouse: Warehouse, name: str, params: dict[str, Any]) -> None:
    """Replace a small mart whole, in one statement."""
    table_id = warehouse.table_id("marts", name)
    _without_view(warehouse, table_id)
    query = _query(name)
    warehouse.run(f"CREATE OR REPLACE TABLE `{table_id}` AS\n{query}", _params_for(query, params),
                  source=f"sql/marts/{name}/query.sql")


def describe(warehouse: Warehouse, name: str) -> int:
    """Set the mart's column and table descriptions; refuse columns that `columns.yaml` does not describe."""
    from google.cloud import bigquery

    table = warehouse.client.get_table(warehouse.table_id("marts", name))
    descriptions = column_descriptions(name)
    columns = [field.name for field in table.schema]
    if columns != list(descriptions):
        raise MartError(
            f"marts.{name}: the table's columns {columns} differ from sql/marts/{name}/columns.yaml "
            f"{list(descriptions)}; describe every column, in the query's order (a partitioned mart made by "
            f"an earlier release: drop marts.{name} and run `python -m retention.marts refresh` to rebuild it)"
        )
    table.schema = [
        bigquery.SchemaField(field.name, field.field_type, mode=field.mode, description=descriptions[field.name])
        for field in table.schema
    ]
    table.description = view_description(name)
    warehouse.client.update_table(table, ["schema", "description"])
    return len(columns)


def data_dictionary() -> str:
    """docs/data_dictionary.md, from the marts' own files."""
    lines = [
        "# Data dictionary: the marts",
        "",
        "Generated by `python -m retention.marts dictionary` from `sql/marts/*/metadata.yaml` and "
        "`columns.yaml`; the same descriptions are set on the BigQuery tables, so Looker Studio shows them in "
        "its field list. All marts are tables in the `marts` dataset (prefixed by `RETENTION_DATASET_PREFIX`), "
        "refreshed by the `refresh_marts` task of `churn_weekly` after each scored week: a partitioned mart "
        "has one partition per scored week (filter it on `week` and Looker Studio reads only those weeks); a "
        "small one holds the latest scored week, or one row per group.",
        "",
    ]
    for name in MARTS:
        meta = metadata(name)
        kind = (f"Table partitioned by `{meta['partition_by']}` (one partition per scored week)."
                if meta["table"] == "partitioned" else "Small table, replaced whole at each refresh.")
        lines += [f"## marts.{name}", "", view_description(name), "", kind, ""]
        same_as = _yaml(name, "columns.yaml").get("_same_as")
        if same_as:
            lines += [f"The same columns as `marts.{same_as}`.", ""]
            continue
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| `{column}` | {text.replace('|', '/')} |" for column, text in column_descriptions(name).items()]
        lines.append("")
    return "\n".join(lines)
