"""Every test the compliance matrix (docs/outreach_and_the_law.md) names exists, and every duty
row names at least one: the matrix cannot point at a test that was renamed or removed."""

from __future__ import annotations

import ast
import re

from retention.config import PROJECT_ROOT

MATRIX = PROJECT_ROOT / "docs" / "outreach_and_the_law.md"
TEST_REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def _test_functions(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_compliance_matrix_names_exists():
    text = MATRIX.read_text(encoding="utf-8")
    references = TEST_REFERENCE.findall(text)
    assert len(references) >= 20
    missing = []
    for file, name in sorted(set(references)):
        path = PROJECT_ROOT / file
        if not path.exists() or name not in _test_functions(path):
            missing.append(f"{file}::{name}")
    assert missing == [], f"the compliance matrix names tests that do not exist: {missing}"


def test_every_duty_of_the_matrix_names_a_test():
    rows = [line for line in MATRIX.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| Duty") and not line.startswith("|---")]
    assert len(rows) >= 10
    for row in rows:
        assert TEST_REFERENCE.search(row.split("|")[4]), f"no test named for: {row.split('|')[1].strip()}"
    duties = " ".join(row.split("|")[2] for row in rows)
    for part in ("50①", "50②", "50③", "50④", "50⑤", "50⑥", "50⑦", "50⑧", "62-2", "62-3"):
        assert part in duties, f"the matrix has no row for art. {part}"
