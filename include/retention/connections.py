"""Optional Airflow connections: a feature that needs credentials is on when its connection
exists and off (said once in the log) when it does not."""

from __future__ import annotations

from typing import Any


def optional_connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None when no secrets backend has it.

    Airflow 3 task code reads connections with `airflow.sdk.BaseHook.get_connection`, which
    raises `AirflowNotFoundException` when no backend (environment `AIRFLOW_CONN_*`, the
    metadata database through the task supervisor, a secrets manager) has it. Never log the
    returned object: its repr includes the password.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
