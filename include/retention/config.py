"""Settings read from environment variables, once per call, never at DAG parse time.

Every knob the platform has is an environment variable with a documented default, so the
same DAGs run on the local emulator, on Docker Compose, on Cloud Composer or Astronomer by
configuration alone. Secrets are not settings: they live in Airflow connections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_ROOT / "sql"
BUNDLED_DATA_DIR = PROJECT_ROOT / "include" / "data"
BUNDLED_TELCO_SNAPSHOT = BUNDLED_DATA_DIR / "telco" / "Telco_customer_churn.csv"

# The layers of the warehouse (DESIGN.md, "Warehouse"). A prefix makes them per environment.
# `contact` holds phone numbers only, apart so that only the outreach may read it (README,
# "Deployment": the grants by role).
LAYERS = ("raw", "core", "ml", "outreach", "marts", "ops", "contact")

LOCAL_PROJECT = "local-project"


@dataclass(frozen=True)
class Settings:
    """What the platform needs to know about where it runs."""

    project: str
    """BigQuery project that holds the datasets (and is billed for the jobs)."""
    location: str
    """BigQuery location of the datasets, for example `asia-northeast3` (Seoul) or `US`."""
    dataset_prefix: str
    """Prefix for every dataset name, so several environments can share one project."""
    gcp_conn_id: str
    """Airflow connection that holds the Google credentials in production."""
    emulator_host: str | None
    """`http://127.0.0.1:PORT` of a local BigQuery emulator; when set, no Google credentials
    are used at all (anonymous client)."""
    telco_snapshot_source: str
    """Where weekly customer snapshots come from: `bundled` (the IBM file shipped with the
    project, used for every week), a local landing folder, or a `gs://bucket/prefix`."""
    storage_read: str = "auto"
    """`auto`: large table reads use the BigQuery Storage Read API where it is served (real
    BigQuery; an emulator whose gRPC address is known), REST otherwise; `off`: always REST."""
    storage_emulator_host: str | None = None
    """`127.0.0.1:PORT` of the emulator's gRPC (Storage Read API) endpoint, if any."""

    @classmethod
    def from_env(cls) -> Settings:
        emulator_host = os.environ.get("BIGQUERY_EMULATOR_HOST") or None
        project = os.environ.get("RETENTION_BQ_PROJECT") or (LOCAL_PROJECT if emulator_host else None)
        if project is None:
            raise RuntimeError(
                "RETENTION_BQ_PROJECT is not set: name the BigQuery project to use (or set BIGQUERY_EMULATOR_HOST "
                "for the local emulator); see README, 'Pointing it at a real BigQuery project'"
            )
        return cls(
            project=project,
            location=os.environ.get("RETENTION_BQ_LOCATION", "US"),
            dataset_prefix=os.environ.get("RETENTION_DATASET_PREFIX", ""),
            gcp_conn_id=os.environ.get("RETENTION_GCP_CONN_ID", "google_cloud_default"),
            emulator_host=emulator_host,
            telco_snapshot_source=os.environ.get("RETENTION_TELCO_SNAPSHOT_SOURCE", "bundled"),
            storage_read=_choice("RETENTION_STORAGE_READ", ("auto", "off")),
            storage_emulator_host=os.environ.get("BIGQUERY_STORAGE_EMULATOR_HOST") or None,
        )

    def dataset(self, layer: str) -> str:
        if layer not in LAYERS:
            raise ValueError(f"unknown warehouse layer {layer!r}; expected one of {LAYERS}")
        return f"{self.dataset_prefix}{layer}"


def _choice(variable: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(variable, choices[0]).strip().lower()
    if value not in choices:
        raise RuntimeError(f"{variable}={value!r} is not one of {choices}: set one of them, or unset it")
    return value
