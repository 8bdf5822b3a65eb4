"""The bad-file cases whose checks judge the whole file, run again with the file validated in
chunks of 1,000 rows: a duplicate customer 7,000 lines after the first, the row count, the
share of bad rows and the column checks must come out exactly as in one piece (the same
test, the same assertions, only the chunk size differs)."""

from __future__ import annotations

import pytest
import test_bad_snapshots as bad_snapshots

from retention.config import Settings
from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
from retention.warehouse import Warehouse

pytestmark = pytest.mark.emulator

# First the volume case: its message names the last published week's row count, which must be
# the base week's 7,043, as in the corpus run (the duplicates case publishes 7,041 rows).
WHOLE_FILE_CASES = [
    "ten times smaller", "duplicate customer ids", "too many bad rows", "wrong type", "header only",
    "missing column", "truncated last line",
]


@pytest.fixture(scope="module")
def base_week_in_chunks(emulator):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETENTION_DATASET_PREFIX", "bad_files_chunked_")
        patch.setenv("RETENTION_INGEST_CHUNK_ROWS", "1000")
        warehouse = Warehouse.connect(Settings.from_env())
        ensure_tables(warehouse)
        landed = land_snapshot(warehouse, bad_snapshots.BASE_WEEK, source="bundled")
        validate_snapshot(warehouse, landed)
        publish_customers(warehouse, bad_snapshots.BASE_WEEK, landed.load_id)
        yield warehouse


@pytest.mark.parametrize("name", WHOLE_FILE_CASES)
def test_bad_snapshot_validated_in_chunks(base_week_in_chunks, tmp_path, name):
    index = [case.name for case in bad_snapshots.CASES].index(name)
    bad_snapshots.test_bad_snapshot(base_week_in_chunks, tmp_path, index)
