"""Shared test set-up: a throw-away Airflow home, one local BigQuery per session, per-test datasets.

Airflow reads its configuration when first imported, so the environment is set here, at
import time, before any test module imports Airflow. Nothing here reaches the network: the
emulator listens on loopback and the Google connection is anonymous.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from retention.local_airflow import airflow_environment

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="retention-test-airflow-"))
os.environ.update(airflow_environment(_AIRFLOW_HOME))
os.environ.update(
    {
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "RETENTION_RETRY_DELAY_SECONDS": "0",
        # dag.test() cannot run a DAG with deadline alerts in Airflow 3.3.2 (operations/deadlines.py).
        "RETENTION_DEADLINE_ALERTS": "off",
        # Until the emulator fixture runs, point BigQuery at a closed port, never at Google.
        "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9",
        "RETENTION_BQ_PROJECT": "local-project",
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": '{"conn_type": "google_cloud_platform", "extra": {"is_anonymous": true}}',
    }
)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    from retention.emulator import LocalBigQuery

    with LocalBigQuery(work_dir=tmp_path_factory.mktemp("bigquery")) as bq:
        os.environ.update(bq.environment())
        yield bq


_prefixes = itertools.count()


@pytest.fixture
def warehouse(emulator, monkeypatch):
    """A Warehouse on the session's emulator whose datasets are this test's alone."""
    from retention.config import Settings
    from retention.warehouse import Warehouse

    monkeypatch.setenv("RETENTION_DATASET_PREFIX", f"t{next(_prefixes)}_")
    wh = Warehouse.connect(Settings.from_env())
    wh.ensure_datasets()
    return wh


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the temporary home), migrated once."""
    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return _AIRFLOW_HOME


@pytest.fixture
def snapshot_file(tmp_path):
    """Write a small snapshot CSV (header + rows given as lists) and return its folder and path."""
    import csv

    def write(header: list[str], rows: list[list[str]], *, date: str = "2026-11-23", encoding: str = "utf-8") -> Path:
        path = tmp_path / f"telco_customers_{date}.csv"
        with path.open("w", newline="", encoding=encoding) as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write
