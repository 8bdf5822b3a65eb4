"""The README's main command, as a user runs it: several weeks through every DAG, then again."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.airflow]


def _demo(tmp_path, port: int) -> str:
    env = {
        **os.environ,
        "RETENTION_LOCAL_DIR": str(tmp_path / "local"),
        "RETENTION_EMULATOR_PORT": str(port),
        "RETENTION_DATASET_PREFIX": "",
    }
    for name in ("BIGQUERY_EMULATOR_HOST", "AIRFLOW_HOME", "RETENTION_TELCO_SNAPSHOT_SOURCE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "retention.local", "demo", "--weeks", "2", "--last-week", "2026-11-23"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_two_weeks_run_in_order_and_a_rerun_changes_nothing(tmp_path):
    from retention.emulator import free_port

    port = free_port()
    first = _demo(tmp_path, port)
    assert first.index("telco_ingest       2026-11-16  ... ok") < first.index("telco_ingest       2026-11-23  ... ok")
    summary = first[first.index("What the weekly cycle wrote"):]
    for table in ("raw.telco_customer_snapshots", "core.customers", "core.contacts", "ops.validation_runs"):
        weeks = re.findall(rf"{re.escape(table)}\s+(2026-11-\d\d)\s+([\d,]+)", summary)
        assert [week for week, _ in weeks] == ["2026-11-16", "2026-11-23"], table
    assert re.search(r"core\.customers\s+2026-11-23\s+7,8\d\d", summary)
    # churn_weekly scored both weeks: the first is the baseline, the second counts who is newly at risk.
    scores = dict(re.findall(r"^  (2026-11-\d\d)\s+[\d,]+\s+[\d,]+\s+(\S+)\s+churn-", summary, re.MULTILINE))
    assert scores["2026-11-16"] == "baseline" and int(scores["2026-11-23"].replace(",", "")) > 0, scores
    assert re.search(r"model churn-20251229-\w+: champion", summary)
    # places_refresh ran once for November: the bundled crawl (4 KT agencies are outside Seoul), and its map.
    assert first.index("places_refresh     2026-11-01  ... ok") < first.index("telco_ingest       2026-11-16  ... ok")
    places = dict(re.findall(r"^  (kt_\w+|digital_learning_center)\s+([\d,]+)\s", summary, re.MULTILINE))
    assert places == {"digital_learning_center": "132", "kt_agency": "393", "kt_experience_plaza": "22",
                      "kt_plaza": "56"}, summary
    assert (tmp_path / "local" / "artifacts" / "places" / "places_map_latest.png").read_bytes()[:4] == b"\x89PNG"
    # senior_outreach ran each week after churn_weekly: nobody in the baseline week, then the
    # newly at-risk seniors of the second week, each messaged once (local sink), holdout never.
    assert first.index("churn_weekly       2026-11-23  ... ok") < first.index("senior_outreach    2026-11-23  ... ok")
    outreach = re.search(r"^  2026-11-23\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)  (.*)$", summary, re.MULTILINE)
    seniors, excluded, holdout, message = (int(n) for n in outreach.groups()[:4])
    assert seniors == excluded + holdout + message and message > 0, outreach.group(0)
    assert outreach.group(5) == f"{message} delivered"
    sink = [json.loads(line) for line in (tmp_path / "local" / "outbox" / "sms.jsonl").read_text().splitlines()]
    assert len(sink) == len({record["idempotency_key"] for record in sink}) == message
    assert all(r["body"].startswith("(광고)[KT] ") and r["body"].endswith("무료수신거부 080-000-0000") for r in sink)
    assert "marts.campaign_results, all weeks" in summary
    report = tmp_path / "local" / "report" / "churn_report.html"
    assert report.is_file() and "Senior watch list" in report.read_text(encoding="utf-8")

    again = _demo(tmp_path, port)
    assert again[again.index("What the weekly cycle wrote"):] == summary
    assert len((tmp_path / "local" / "outbox" / "sms.jsonl").read_text().splitlines()) == message  # none twice
    with pytest.raises(ConnectionRefusedError):  # the demo stopped its emulator: nothing listens
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
