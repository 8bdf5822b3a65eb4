"""Which failures a retry can fix. Bad data cannot: such tasks fail at once, without retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retention.quality.gates import DataQualityError
from retention.sources.csv_files import SourceFileError, SourceFileMissing


@contextmanager
def fail_fast_on_bad_data(*also: type[Exception]) -> Iterator[None]:
    """Turn bad-data errors, and the other errors named in `also` (for example a scraped site
    whose layout changed), into AirflowFailException (no retry); a missing file still retries."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except SourceFileMissing:
        raise
    except (SourceFileError, DataQualityError, *also) as error:
        raise AirflowFailException(str(error)) from error
