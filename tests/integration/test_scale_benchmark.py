"""Smoke test of the scale benchmark at a tiny size, so that it does not rot: every stage of
the weekly cycle runs through its own emulator and the report is written. No timing is
asserted (performance belongs in the benchmark's generated doc, not in tests)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from retention.scale.stages import STAGES


@pytest.mark.emulator
def test_the_whole_cycle_runs_at_two_thousand_customers_and_writes_its_table(tmp_path):
    out = tmp_path / "scale_benchmark.md"
    # A child process: the benchmark starts its own emulator and points its environment at it.
    done = subprocess.run(
        [sys.executable, "-m", "retention.scale.benchmark", "--sizes", "2000", "--min-leavers", "5", "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "10/10" in done.stderr  # the progress bar reached the last stage
    text = out.read_text(encoding="utf-8")
    rows = {line.split("|")[2].strip(): line for line in text.splitlines() if line.startswith("| 2,000 |")}
    assert set(rows) == {*STAGES, "**whole cycle**"}
    assert "decision publish" in rows["validate"]
    assert "source weekly" in rows["train"]
    assert "shards 1" in rows["score"]
    assert list(tmp_path.glob("retention-scale-benchmark-*")) == []  # its work folder is removed
