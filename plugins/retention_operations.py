"""Registers the platform's custom deadline reference (Airflow loads custom deadline references
only from plugins): the weekly SMS before noon KST (include/retention/operations/deadlines.py)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from retention.operations.deadlines import SmsBeforeNoonSeoul


class RetentionOperationsPlugin(AirflowPlugin):
    name = "retention_operations"
    deadline_references = [SmsBeforeNoonSeoul]
