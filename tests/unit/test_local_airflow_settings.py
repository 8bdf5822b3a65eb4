"""Where `make airflow-ui` listens, from its settings: loopback unless widened on purpose, and
Airflow's log servers only on ports the operator names (never fixed ones)."""

from __future__ import annotations

import pytest

from retention.local_airflow import Listening

SETTINGS = ("RETENTION_AIRFLOW_HOST", "RETENTION_AIRFLOW_PORT", "RETENTION_AIRFLOW_WORKER_LOG_PORT",
            "RETENTION_AIRFLOW_TRIGGERER_LOG_PORT")


@pytest.fixture
def unset(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_by_default_the_ui_listens_on_loopback_and_no_log_server_starts(unset):
    listening = Listening.from_env()
    env = listening.environment()
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"], env["AIRFLOW__API__BASE_URL"]) == (
        "127.0.0.1", "8080", "http://127.0.0.1:8080")
    assert not any("LOG_SERVER_PORT" in name for name in env)
    components = listening.components()
    assert components["scheduler"] == ["scheduler", "--skip-serve-logs"]
    assert components["triggerer"] == ["triggerer", "--skip-serve-logs"]
    assert listening.ports() == [("RETENTION_AIRFLOW_PORT", 8080)]


def test_settings_widen_the_ui_and_give_the_log_servers_their_ports(unset):
    unset.setenv("RETENTION_AIRFLOW_HOST", "0.0.0.0")
    unset.setenv("RETENTION_AIRFLOW_PORT", "8181")
    unset.setenv("RETENTION_AIRFLOW_WORKER_LOG_PORT", "18793")
    unset.setenv("RETENTION_AIRFLOW_TRIGGERER_LOG_PORT", "18794")
    listening = Listening.from_env()
    env = listening.environment()
    # Airflow's own processes still reach the API server on this machine.
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__BASE_URL"]) == ("0.0.0.0", "http://127.0.0.1:8181")
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == (
        "18793", "18794")
    assert listening.components()["scheduler"] == ["scheduler"] and listening.components()["triggerer"] == ["triggerer"]
    assert [port for _, port in listening.ports()] == [8181, 18793, 18794]


def test_a_port_that_is_not_a_number_is_refused_with_what_to_set(unset):
    unset.setenv("RETENTION_AIRFLOW_WORKER_LOG_PORT", "eighty")
    with pytest.raises(SystemExit, match="RETENTION_AIRFLOW_WORKER_LOG_PORT='eighty' is not a port number"):
        Listening.from_env()
