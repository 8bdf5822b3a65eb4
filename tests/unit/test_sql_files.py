"""SQL files are GoogleSQL that real BigQuery accepts, not only the emulator."""

from __future__ import annotations

import re

import pytest

from retention.config import SQL_DIR

SQL_FILES = sorted(SQL_DIR.rglob("*.sql"))


@pytest.mark.parametrize("path", SQL_FILES, ids=[str(p.relative_to(SQL_DIR)) for p in SQL_FILES])
def test_no_doubled_quote_escapes_inside_string_literals(path):
    # GoogleSQL reads 'run''s' as two adjacent literals and rejects it; the emulator accepts it.
    assert not re.search(r"[A-Za-z]''[A-Za-z]", path.read_text(encoding="utf-8")), "use \\' or a double-quoted string"


@pytest.mark.parametrize("path", SQL_FILES, ids=[str(p.relative_to(SQL_DIR)) for p in SQL_FILES])
def test_every_table_is_named_through_a_dataset_token(path):
    text = path.read_text(encoding="utf-8")
    for reference in re.findall(r"`([^`]+)`", text):
        assert reference.startswith("{{"), f"{reference!r} must start with a {{{{ layer }}}} token"
