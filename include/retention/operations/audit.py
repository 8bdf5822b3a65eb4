"""Writing the operations tables from callbacks, where time is short: Airflow 3 gives a task's
callbacks `[core] task_success_overtime` (20 s by default) before it stops them, and a callback
must never hang on a warehouse that is down. Every call here has a deadline
(`RETENTION_OPS_WRITE_TIMEOUT_SECONDS`, 10) and no exception leaves it: a failed write is
logged and the callback goes on. Rows are streamed (`insertAll`, keyed by a row id BigQuery
uses to drop a repeated insert), not loaded and merged: one call, no DML quota."""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

TABLE_DDL = {"task_runs": "ops/task_runs/create.sql", "alerts": "ops/alerts/create.sql"}


class AuditWriter:
    def __init__(self, warehouse: Any, timeout: float) -> None:
        self.warehouse = warehouse
        self.timeout = timeout

    @classmethod
    def connect(cls) -> AuditWriter | None:
        """A writer, or None when the warehouse cannot even be configured (logged)."""
        try:
            from retention.warehouse import Warehouse

            timeout = float(os.environ.get("RETENTION_OPS_WRITE_TIMEOUT_SECONDS", "10"))
            return cls(Warehouse.connect(), timeout)
        except Exception:  # noqa: BLE001 - operations records are best effort, never the task's outcome
            log.exception("ops tables unavailable: no audit row or alert record will be written")
            return None

    def _retry(self):
        from google.api_core.retry import Retry

        return Retry(deadline=self.timeout)

    def exists(self, table: str, column: str, value: str) -> bool:
        """Whether `ops.<table>` has a row whose `column` is `value` (False when it cannot tell)."""
        from google.cloud import bigquery

        table_id = self.warehouse.table_id("ops", table)
        config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("value", "STRING", value)])
        try:
            job = self.warehouse.client.query(f"SELECT COUNT(*) AS n FROM `{table_id}` WHERE {column} = @value",
                                              job_config=config, retry=self._retry(), timeout=self.timeout)
            return next(iter(job.result(timeout=self.timeout)))["n"] > 0
        except Exception as error:  # noqa: BLE001
            log.warning("could not look up %s in %s (%s): going on as if absent", value, table_id, type(error).__name__)
            return False

    def insert(self, table: str, row: dict[str, Any], *, row_id: str) -> bool:
        """Stream one row into `ops.<table>` (created first if missing); False when it failed."""
        from google.api_core.exceptions import NotFound

        table_id = self.warehouse.table_id("ops", table)
        for attempt in (1, 2):
            try:
                errors = self.warehouse.client.insert_rows_json(
                    table_id, [row], row_ids=[row_id], retry=self._retry(), timeout=self.timeout)
                if errors:
                    log.error("BigQuery refused the row for %s: %s", table_id, errors)
                    return False
                return True
            except NotFound:
                if attempt == 2:
                    break
                try:  # the first run of any DAG before telco_ingest prepared the warehouse
                    self.warehouse.ensure_datasets(["ops"])
                    self.warehouse.run_file(TABLE_DDL[table])
                except Exception:  # noqa: BLE001
                    break
            except Exception as error:  # noqa: BLE001
                log.error("could not write to %s (%s): %s", table_id, type(error).__name__, error)
                return False
        log.error("could not write to %s: the table is missing and could not be created", table_id)
        return False
