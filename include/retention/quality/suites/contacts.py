"""Checks on a weekly contacts file: a contact that could reach the wrong person, or break
the law, never gets to `core.contacts`."""

from __future__ import annotations

import great_expectations.expectations as gxe

from retention.quality.gates import Check, Finding, Suite, SuiteContext
from retention.synthetic.contacts import seoul_dongs

REQUIRED = ["customer_id", "phone_e164", "sms_consent", "opted_out", "home_dong_code"]


def prepare(frame, context: SuiteContext):
    missing = set(context.missing_columns) | ({"phone_e164"} if "phone" in context.missing_columns else set())
    return frame.drop(columns=[c for c in frame.columns if c in missing])


def findings(context: SuiteContext) -> list[Finding]:
    return [
        Finding("file_is_plain_utf8", "The file is UTF-8 without a byte order mark", context.encoding == "utf-8",
                context.encoding),
        Finding("file_has_no_unknown_columns", "Columns the contract does not know are kept in raw, not published",
                not context.unexpected_columns, ", ".join(context.unexpected_columns) or "none"),
    ]


def checks(context: SuiteContext, frame) -> list[Check]:
    result = [
        Check(gxe.ExpectTableColumnsToMatchSet(column_set=REQUIRED, exact_match=False), True,
              "Every required column is in the file"),
        Check(gxe.ExpectTableRowCountToBeBetween(min_value=1), True, "The file has contacts"),
        Check(gxe.ExpectColumnValuesToBeNull(column="file_error"), True, "Each line has as many fields as the header"),
        Check(gxe.ExpectColumnValuesToBeNull(column="parse_errors"), True,
              "Phone is a Korean mobile number; consent and opt-out flags are Yes/No with their dates"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="customer_id"), True, "customer_id is present"),
        Check(gxe.ExpectColumnValuesToBeUnique(column="customer_id"), True, "A customer has one contact row"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="sms_consent"), True, "SMS consent is stated on every row"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="opted_out"), True, "Opt-out is stated on every row"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="home_dong_code"), True, "The home's legal dong is given"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="home_dong_code", value_set=[code for code, _, _ in seoul_dongs()]),
              True, "The home is a legal dong of Seoul (bundled polygons)"),
    ]
    if context.snapshot_date:
        result.append(Check(
            gxe.ExpectColumnValuesToBeBetween(column="sms_consent_date", max_value=context.snapshot_date),
            True, "Consent is not dated in the future",
        ))
    if context.previous_row_count:
        result.append(Check(
            gxe.ExpectTableRowCountToBeBetween(
                min_value=int(context.previous_row_count * context.thresholds.volume_min_ratio),
                max_value=int(context.previous_row_count * context.thresholds.volume_max_ratio) + 1,
            ),
            True, f"Row count is within the volume band of the last published week ({context.previous_row_count})",
        ))
    return result


SUITE = Suite(name="contacts", checks=checks, findings=findings, prepare=prepare, personal_columns=("phone_e164",))
