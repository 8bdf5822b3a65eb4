"""The write-audit-publish decision, on small frames (Great Expectations, no warehouse)."""

from __future__ import annotations

import great_expectations.expectations as gxe
import pandas as pd
import pytest

from retention.quality.gates import Check, Finding, Suite, SuiteContext, Thresholds, summary_table, validate
from retention.quality.suites import get_suite


def _suite(*checks: Check, findings=()) -> Suite:
    return Suite(name="toy", checks=lambda context, frame: list(checks), findings=lambda context: list(findings))


def _frame(ages: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"source_row": range(2, len(ages) + 2), "age": ages})


AGE = Check(gxe.ExpectColumnValuesToBeBetween(column="age", min_value=18, max_value=120), True, "Age is plausible")


def test_clean_rows_are_published():
    report = validate(_frame([30] * 200), _suite(AGE), SuiteContext(Thresholds()), source="f.csv")
    assert (report.decision, report.rows_quarantined) == ("publish", 0)


def test_a_few_bad_rows_are_quarantined_by_file_line_and_the_rest_published():
    ages = [30] * 200
    ages[5] = 150
    report = validate(_frame(ages), _suite(AGE), SuiteContext(Thresholds()), source="f.csv")
    assert report.decision == "publish_with_warnings"
    assert report.quarantine == {7: ["expect_column_values_to_be_between(age)"]}
    assert "1 of 200 rows quarantined" in report.message


def test_bad_rows_above_the_allowed_share_block_and_name_the_first_lines():
    ages = [30] * 100
    ages[0] = ages[1] = 150
    report = validate(_frame(ages), _suite(AGE), SuiteContext(Thresholds(max_quarantined_share=0.01)), source="f.csv")
    assert report.decision == "block"
    assert "f.csv was not published: 2 of 100 rows (2.0%)" in report.message
    assert '"source_row": 2' in report.message and '"age": 150' in report.message


def test_a_blocking_file_check_blocks_and_a_warning_only_warns():
    too_few = Check(gxe.ExpectTableRowCountToBeBetween(min_value=1000), True, "Enough rows")
    blocked = validate(_frame([30] * 10), _suite(too_few), SuiteContext(Thresholds()), source="f.csv")
    assert blocked.decision == "block" and "Enough rows" in blocked.message and "observed 10" in blocked.message
    soft = Check(gxe.ExpectTableRowCountToBeBetween(min_value=1000), False, "Enough rows")
    warned = validate(_frame([30] * 10), _suite(soft), SuiteContext(Thresholds()), source="f.csv")
    assert warned.decision == "publish_with_warnings" and warned.rows_quarantined == 0


def test_reader_findings_are_reported_with_the_checks():
    finding = Finding("file_is_plain_utf8", "UTF-8", False, "cp949")
    report = validate(_frame([30]), _suite(AGE, findings=[finding]), SuiteContext(Thresholds()), source="f.csv")
    assert report.decision == "publish_with_warnings" and "file_is_plain_utf8: cp949" in report.message
    table = summary_table(report)
    assert "file_is_plain_utf8" in table and "FAILED" in table and "decision: publish_with_warnings" in table


def test_thresholds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION_QUALITY_MAX_QUARANTINED_SHARE", "0.05")
    assert Thresholds.from_env().max_quarantined_share == 0.05


def test_suites_are_found_by_file_name():
    assert get_suite("telco_customers").name == "telco_customers"
    with pytest.raises(KeyError, match="expected include/retention/quality/suites/nope.py"):
        get_suite("nope")
