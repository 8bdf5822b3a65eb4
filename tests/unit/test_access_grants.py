"""The grants by role (issue 22, part 5): the README's table is the one the code knows, and it
keeps phone numbers (the contact dataset) to the outreach service account."""

from __future__ import annotations

import pytest
from retention.access import GRANTS, MARKETERS, OUTREACH, gcp_conn_id, grants_markdown
from retention.config import PROJECT_ROOT


def test_the_deployment_guide_shows_the_grants_the_code_knows():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    shown = "\n".join(line.strip() for line in readme.splitlines() if line.strip().startswith("|"))
    assert grants_markdown() in shown, "README 'Deployment': paste `python -m retention.access grants`"


def test_only_the_outreach_service_account_may_read_phone_numbers():
    readers = {g.role for g in GRANTS if "contact" in g.dataset.split(", ") and g.grant != "none"}
    assert readers == {OUTREACH}
    marketers = {dataset for g in GRANTS if g.role == MARKETERS and g.grant != "none"
                 for dataset in g.dataset.split(", ")}
    assert marketers == {"project", "marts"}


def test_the_outreach_connects_with_its_own_connection_when_one_is_set(monkeypatch):
    monkeypatch.delenv("RETENTION_OUTREACH_GCP_CONN_ID", raising=False)
    assert gcp_conn_id("google_cloud_default", "outreach") == "google_cloud_default"
    monkeypatch.setenv("RETENTION_OUTREACH_GCP_CONN_ID", "google_cloud_outreach")
    assert gcp_conn_id("google_cloud_default", "outreach") == "google_cloud_outreach"
    assert gcp_conn_id("google_cloud_default", "pipeline") == "google_cloud_default"
    with pytest.raises(ValueError, match="unknown warehouse role"):
        gcp_conn_id("google_cloud_default", "marketing")
