"""The run calendar and how SQL files are turned into statements."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from retention.config import Settings
from retention.schedule import snapshot_date
from retention.warehouse import Warehouse, WarehouseError


@pytest.mark.parametrize(
    ("logical_date", "week"),
    [
        (pendulum.datetime(2026, 11, 23, 4, tz="Asia/Seoul"), dt.date(2026, 11, 23)),  # the scheduled Monday run
        (pendulum.datetime(2026, 11, 22, 19, tz="UTC"), dt.date(2026, 11, 23)),  # same instant, in UTC
        (pendulum.datetime(2026, 11, 29, 23, tz="Asia/Seoul"), dt.date(2026, 11, 23)),  # a backfill late in the week
    ],
)
def test_a_run_handles_the_week_of_its_logical_date_in_seoul(logical_date, week):
    assert snapshot_date(logical_date) == week


def _warehouse(prefix: str = "") -> Warehouse:
    settings = Settings(
        project="p", location="US", dataset_prefix=prefix, gcp_conn_id="x", emulator_host=None,
        telco_snapshot_source="bundled",
    )
    return Warehouse(client=None, settings=settings)


def test_dataset_tokens_carry_the_environment_prefix():
    assert _warehouse("dev_").render("SELECT * FROM `{{ core }}.customers`") == "SELECT * FROM `p.dev_core.customers`"


def test_identifiers_are_filled_and_checked():
    wh = _warehouse()
    assert wh.render("INSERT ({{ cols }})", {"cols": ["a", "b"]}) == "INSERT (a, b)"
    with pytest.raises(WarehouseError, match="not a plain identifier"):
        wh.render("SELECT {{ col }}", {"col": "a; DROP TABLE x"})
    with pytest.raises(WarehouseError, match=r"no value for \{\{ nope \}\}"):
        wh.render("SELECT {{ nope }}")


def test_whole_line_comments_are_not_sent():
    sql = "-- uses @snapshot_date\nSELECT 1 -- trailing stays\n  -- indented goes"
    assert _warehouse().render(sql) == "SELECT 1 -- trailing stays"


def test_query_parameters_are_typed_strictly():
    import numpy as np

    from retention.warehouse import _parameter

    assert _parameter("n", np.int64(3)).type_ == "INT64"
    assert _parameter("b", np.bool_(True)).type_ == "BOOL"
    assert _parameter("weeks", [dt.date(2026, 11, 16), dt.date(2026, 11, 23)]).array_type == "DATE"
    with pytest.raises(WarehouseError, match="naive datetime"):
        _parameter("at", dt.datetime(2026, 11, 23, 4))
    with pytest.raises(WarehouseError, match="is None"):
        _parameter("x", None)
    with pytest.raises(WarehouseError, match="empty list"):
        _parameter("x", [])
