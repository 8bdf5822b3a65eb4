"""What every BigQuery job carries: a cap on the bytes it may bill, and labels for cost attribution.

The cap (`maximum_bytes_billed`, setting `RETENTION_MAXIMUM_BYTES_BILLED`) makes BigQuery refuse,
before it runs, a query that would scan more than that: a statement that lost its partition
filter fails loudly instead of billing a full scan every week. Its default is sized from the
largest statement the platform sends at the scale it is built for (DESIGN.md, "At a telecom's
scale": 10 million customers): a week of `core.customers` is 53 columns, about 320 bytes a
row in the bundled CSV (2.26 MB for 7,043 rows) and about 500 in BigQuery's logical bytes once
typed (8 bytes a number, 2 + length a string) with the lineage columns (`load_id`,
`source_uri`): 10 M rows make about 5 GB a week; the heaviest statements (publishing the week, labelling a week from the next one, the
scored-week marts) read two or three such weeks of two or three tables, about 15-25 GB. The
default, 50 GiB (53,687,091,200 bytes), is twice that, and caps a mistake at about 0.3 USD of
on-demand scanning. Raise it for a larger customer base (README, "Pointing it at a real
BigQuery project").

Labels (`dag_id`, `task_id`, `layer`, `command`) come from the Airflow task that runs the job
when there is one, else from the command's name, so that BigQuery's billing export and
`INFORMATION_SCHEMA.JOBS` split the cost by DAG, task and layer.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from retention.config import LAYERS

DEFAULT_MAXIMUM_BYTES_BILLED = 50 * 2**30
CAP_VARIABLE = "RETENTION_MAXIMUM_BYTES_BILLED"
_LABEL_VALUE = re.compile(r"[^a-z0-9_-]+")
_TABLE_ID = re.compile(r"`[^`.]+\.([^`.]+)\.[^`]+`")
_LAYER_TOKEN = re.compile(r"\{\{\s*(" + "|".join(LAYERS) + r")\s*\}\}")


def maximum_bytes_billed() -> int:
    """The cap from `RETENTION_MAXIMUM_BYTES_BILLED` (bytes; `0` or `off` lifts it), else the default."""
    value = os.environ.get(CAP_VARIABLE, "").strip().lower()
    if not value:
        return DEFAULT_MAXIMUM_BYTES_BILLED
    if value in ("0", "off"):
        return 0
    try:
        cap = int(value.replace("_", ""))
    except ValueError:
        raise RuntimeError(
            f"{CAP_VARIABLE}={value!r} is not a number of bytes: give an integer such as 53687091200 (50 GiB), "
            "or 'off' to run without a cap"
        ) from None
    if cap < 0:
        raise RuntimeError(f"{CAP_VARIABLE}={cap} is negative: give the number of bytes a job may bill")
    return cap


def label_value(text: str) -> str:
    """A BigQuery label value: lowercase letters, digits, `_` and `-`, at most 63 characters."""
    return _LABEL_VALUE.sub("_", text.lower()).strip("_")[:63] or "none"


def command_name() -> str:
    """The running command: `retention.dry_run` for `python -m retention.dry_run`, else the script."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name.removesuffix(".__main__")
    return os.path.basename(sys.argv[0] or "python") or "python"


def _task_context() -> tuple[str | None, str | None]:
    """The DAG and task running this code, from Airflow's task context, or the `AIRFLOW_CTX_*`
    variables Airflow sets for a task's process; (None, None) outside a task."""
    dag_id, task_id = os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_TASK_ID")
    if "airflow.sdk" in sys.modules:  # never import Airflow just to find out we are not in a task
        try:
            from airflow.sdk import get_current_context

            context = get_current_context()
            ti = context["ti"]
            dag_id, task_id = ti.dag_id, ti.task_id
        except Exception:  # noqa: BLE001 - no task is running: fall back to the variables
            pass
    return dag_id, task_id


def layer_of(sql: str, source: str, table_id: str | None = None, dataset_prefix: str = "") -> str:
    """The warehouse layer a job works on: the dataset of its table, the folder of its SQL file
    (`sql/<layer>/...`), or the first `{{ layer }}` its SQL names."""
    if table_id:
        dataset = table_id.split(".")[-2].removeprefix(dataset_prefix)
        if dataset in LAYERS:
            return dataset
    parts = source.split("/")
    if len(parts) > 2 and parts[0] == "sql" and parts[1] in LAYERS:
        return parts[1]
    match = _LAYER_TOKEN.search(sql)
    if match:
        return match.group(1)
    # Statements the warehouse module writes itself name full table ids: `project.dataset.table`.
    for dataset in _TABLE_ID.findall(sql):
        if dataset.removeprefix(dataset_prefix) in LAYERS:
            return dataset.removeprefix(dataset_prefix)
    return "none"


def job_labels(layer: str) -> dict[str, str]:
    dag_id, task_id = _task_context()
    return {
        "dag_id": label_value(dag_id or "none"),
        "task_id": label_value(task_id or "none"),
        "layer": label_value(layer),
        "command": label_value("airflow_task" if task_id else command_name()),
        "platform": "retention",
    }


def query_config(
    parameters: list, *, labels: Mapping[str, str], dry_run: bool = False, **options: Any,
):
    """A QueryJobConfig with the cap and the labels, for every query the platform sends."""
    from google.cloud import bigquery

    cap = maximum_bytes_billed()
    config = bigquery.QueryJobConfig(query_parameters=parameters, labels=dict(labels), **options)
    if cap:
        config.maximum_bytes_billed = cap
    if dry_run:
        config.dry_run = True
        config.use_query_cache = False
    return config


def over_cap_message(error: Exception, source: str) -> str | None:
    """BigQuery's refusal of a job over `maximum_bytes_billed`, said with the statement and the fix;
    None for any other error."""
    reasons = {str(item.get("reason", "")) for item in getattr(error, "errors", None) or [] if isinstance(item, dict)}
    text = str(getattr(error, "message", error))
    if "bytesBilledLimitExceeded" not in reasons and "limit for bytes billed" not in text.lower():
        return None
    needed = re.search(r"(\d+) or higher required", text)
    need = f" (BigQuery needs at least {int(needed.group(1)):,} bytes)" if needed else ""
    return (
        f"{source} would bill more than the cap of {maximum_bytes_billed():,} bytes{need} and was not run. "
        "First check that it filters its partitioned tables on their partition column with a constant or "
        f"parameter (see tests/unit/test_sql_pruning.py); if the data has simply grown, raise {CAP_VARIABLE} "
        "(bytes, in the environment of the Airflow workers) above that number. BigQuery said: " + text
    )
