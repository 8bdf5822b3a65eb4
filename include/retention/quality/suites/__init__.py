"""Data quality suites, one module each: a module `name.py` defines `SUITE` named `name`.
Adding a suite is adding a file here."""

from __future__ import annotations

import importlib

from retention.quality.gates import Suite


def get_suite(name: str) -> Suite:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        raise KeyError(f"no data quality suite {name!r}: expected include/retention/quality/suites/{name}.py") from error
    suite = module.SUITE
    if suite.name != name:
        raise KeyError(f"suites/{name}.py defines a suite named {suite.name!r}")
    return suite
