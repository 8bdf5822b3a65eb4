"""Which failures a retry can fix. Bad data and wrong settings cannot: such tasks fail at once,
without retries (Airflow's AirflowFailException), and raise their one alert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retention.quality.gates import DataQualityError
from retention.sources.csv_files import SourceFileError, SourceFileMissing


class PermanentError(Exception):
    """A failure that only a person can fix, raised by `include/` code (which does not import
    Airflow): settings that contradict each other, a refused configuration. Its message says
    what, where and what to do. Every `fail_fast_on_bad_data` block fails the task at once on it."""


@contextmanager
def fail_fast_on_bad_data(*also: type[Exception]) -> Iterator[None]:
    """Turn bad-data errors, permanent errors (`PermanentError`), and the other errors named in
    `also` (for example a scraped site whose layout changed), into AirflowFailException (no
    retry); a missing file still retries."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except SourceFileMissing:
        raise
    except (SourceFileError, DataQualityError, PermanentError, *also) as error:
        raise AirflowFailException(str(error)) from error
