"""Reading a week's snapshot file exactly as received, and naming its columns."""

from __future__ import annotations

import datetime as dt

import pytest

from retention.config import BUNDLED_TELCO_SNAPSHOT
from retention.ingest.customers import snapshot_uri
from retention.ingest.landing import RawLayout
from retention.sources.csv_files import SourceFileError, read_csv_file, snake_case
from retention.sources.csv_stream import open_csv


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("customerID", "customer_id"),
        ("SeniorCitizen", "senior_citizen"),
        ("StreamingTV", "streaming_tv"),
        ("Churn Score.1", "churn_score_1"),
        ("Avg Monthly GB Download", "avg_monthly_gb_download"),
        ("Under 30", "under_30"),
        ("CLTV", "cltv"),
        ("  tenure ", "tenure"),
    ],
)
def test_header_names_become_snake_case_columns(header, column):
    assert snake_case(header) == column


def test_bundled_file_serves_every_week_and_folders_hold_one_file_per_week():
    assert snapshot_uri("bundled", dt.date(2026, 11, 23)) == str(BUNDLED_TELCO_SNAPSHOT)
    assert snapshot_uri("/landing", dt.date(2026, 11, 23)) == "/landing/telco_customers_2026-11-23.csv"
    assert snapshot_uri("gs://bucket/weekly/", dt.date(2026, 11, 23)) == "gs://bucket/weekly/telco_customers_2026-11-23.csv"


def test_bundled_snapshot_is_read_as_text_with_every_row():
    snapshot = read_csv_file(str(BUNDLED_TELCO_SNAPSHOT))
    assert len(snapshot.rows) == 7043
    assert len(snapshot.header) == 52
    total_charges = snapshot.header.index("TotalCharges")
    # Blank charges of new customers stay as the blank text the file holds.
    assert sum(1 for row in snapshot.rows if row[total_charges] == " ") == 11


def test_the_same_bytes_get_the_same_load_id(snapshot_file):
    first = read_csv_file(str(snapshot_file(["customerID"], [["A"]])))
    again = read_csv_file(first.source_uri)
    assert first.load_id == again.load_id
    changed = read_csv_file(str(snapshot_file(["customerID"], [["B"]])))
    assert changed.load_id != first.load_id


def test_missing_file_says_where_it_was_expected_and_what_to_do(tmp_path):
    uri = snapshot_uri(str(tmp_path), dt.date(2026, 11, 23))
    with pytest.raises(SourceFileError, match=r"no file at .*telco_customers_2026-11-23\.csv: drop the week"):
        read_csv_file(uri)


def test_empty_file_is_refused_with_its_name(tmp_path):
    empty = tmp_path / "telco_customers_2026-11-23.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceFileError, match="is empty"):
        read_csv_file(str(empty))


def _raw(path, contract, chunk_rows=1000):
    stream = open_csv(str(path))
    layout = RawLayout(stream.header, contract)
    rows = []
    for chunk in stream.chunks(chunk_rows):
        columns = layout.columns(chunk, snapshot_date=dt.date(2026, 11, 23), load_id=stream.load_id,
                                 source_uri=str(path), loaded_at=dt.datetime.now(dt.UTC))
        rows += [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    return rows, layout.unexpected


def test_raw_rows_keep_line_numbers_and_unknown_columns(snapshot_file):
    path = snapshot_file(["customerID", "tenure", "Loyalty Tier"], [["A", "1", "gold"], ["B", "", ""]])
    rows, unexpected = _raw(path, ["customer_id", "tenure", "gender"])
    assert unexpected == ["Loyalty Tier"]
    assert [row["_source_row"] for row in rows] == [2, 3]
    assert rows[0]["customer_id"] == "A" and rows[0]["tenure"] == "1"
    assert rows[0]["_unexpected_columns"] == '{"Loyalty Tier": "gold"}'
    assert "gender" not in rows[0]  # absent from the file: NULL in raw, not invented


def test_rows_keep_their_real_file_line_across_blank_lines_multiline_fields_and_chunks(tmp_path):
    path = tmp_path / "telco_customers_2026-11-23.csv"
    path.write_text('customerID,Churn Reason\nA,x\n\nB,"two\nlines"\nC,y\n', encoding="utf-8")
    for chunk_rows in (1, 2, 1000):
        rows, _ = _raw(path, ["customer_id", "churn_reason"], chunk_rows)
        assert [(r["customer_id"], r["_source_row"]) for r in rows] == [("A", 2), ("B", 4), ("C", 6)]


def test_short_and_long_lines_keep_what_they_have_and_say_what_is_wrong(tmp_path):
    path = tmp_path / "telco_customers_2026-11-23.csv"
    path.write_text("customerID,tenure\nA\nB,2,extra\n", encoding="utf-8")
    rows, _ = _raw(path, ["customer_id", "tenure"])
    assert (rows[0]["customer_id"], rows[0]["tenure"]) == ("A", None)
    assert rows[0]["_file_error"] == "line 2 has 1 fields, the header has 2 (truncated or shifted line)"
    assert rows[1]["tenure"] == "2" and rows[1]["_unexpected_columns"] == '{"(beyond the header)": ["extra"]}'


def test_encoding_is_found_over_the_whole_file_not_only_its_start(tmp_path, monkeypatch):
    from retention.sources import csv_stream

    monkeypatch.setattr(csv_stream, "BLOCK_BYTES", 7)
    path = tmp_path / "telco_customers_2026-11-23.csv"
    path.write_bytes(("customerID,City\n" + "A,Seoul\n" * 20 + "B,서울\n").encode("cp949"))
    stream = open_csv(str(path))
    assert stream.encoding == "cp949"
    assert [row for chunk in stream.chunks(5) for row in chunk.rows][-1] == ["B", "서울"]
    path.write_bytes(("customerID,City\n" + "B,서울\n" * 5).encode("utf-8"))
    assert open_csv(str(path)).encoding == "utf-8"


def test_headers_that_mean_the_same_column_are_refused(tmp_path):
    path = tmp_path / "telco_customers_2026-11-23.csv"
    path.write_text("customerID,Zip Code,ZipCode\nA,1,2\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match=r"\['Zip Code', 'ZipCode'\] all mean \['zip_code'\]"):
        read_csv_file(str(path))
