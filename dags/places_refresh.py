"""
### places_refresh: 디지털 배움터 venues and KT stores, from the owner's files or scraped, geocoded, validated, published

**Runs** monthly (1st, 03:00 KST); the month is the run's crawl date. Two sources, each on its
own branch so one failing never holds back the other: the KT store finder (`kt_stores`) and
the 디지털 배움터 venue list (`learning_centers`).

**Steps**
1. `seed_bundled_places`: a source that has never been published gets the bundled 2023 crawl
   (`include/data/places/`), through the same checks; so outreach always has places.
2. `land_<source>`: when a file source is configured (`RETENTION_KT_STORES_SOURCE` /
   `RETENTION_LEARNING_CENTERS_SOURCE`: a landing folder or `gs://` prefix), the month's file
   `kt_stores_<YYYY-MM>.csv` / `learning_centers_<YYYY-MM>.csv` is landed as received in
   `raw.place_crawls` (every line with its line number; `origin = owner_file`). Otherwise a
   real headless Chromium walks every result page of the site named by
   `RETENTION_KT_STORE_FINDER_URL` / `RETENTION_LEARNING_CENTERS_URL` (politely: delay between
   pages, timeouts, retries with backoff, a clear user agent) and lands what it shows.
   *Skipped* when neither is set (the default locally): the bundled crawl stays published.
3. `validate_<source>`: address normalised, district and legal dong extracted, position from
   the bundled polygons (an online geocoder only when a key is configured, through
   `core.geocode_cache`) into `raw.places_prepared`; Great Expectations suite `places`
   (count within 0.8x-1.25x of the published places, names and addresses present, positions
   inside Seoul, one place per name and district, at most 10% outside Seoul; for a file also its
   required columns and every line as long as the header); results and held-back rows in `ops`.
4. `publish_<source>`: one MERGE makes the crawl the source's current places in `core.places`;
   the previous version is kept with its `valid_to`. Then the Asset `core.places`.
5. `draw_places_map`: a PNG map of the places published for the month in the artifact store
   (`places/places_map_<YYYY-MM>.png`, and `places_map_latest.png` unless the month is a
   backfill), drawn even when a branch failed; `fail_if_a_branch_failed` then fails the run.

**Re-running** a month gives the same tables. A site shows today's places, so only the
current month is scraped: a re-run or backfill of a past month re-uses the crawl landed for
it then (or is skipped if there was none); it never rewrites a month with today's list. A
month from a file reads that month's file again: the same bytes are the same crawl, not landed
twice; a corrected file is a new crawl of the month, kept beside the first in raw.

**When it fails** (`core.places` always keeps the last published places):
- `land_*`, *no ... file for YYYY-MM at ...*: this month's file has not arrived; retried. Drop it
  there (or unset the file setting to scrape), then *Clear*. A past month without a file (a
  backfill from before the files) is skipped; one whose file was removed re-uses what it landed.
- `land_*` or `validate_*` naming a file and line (empty, not UTF-8/CP949 text, a missing
  column, a cut line): fix or re-export the file, put it in place under the same name, *Clear*
  `land_*`. Not retried. The rows of a file that was read are kept in `raw.place_crawls`.
- `land_*` (scraping), *LayoutChangedError: expected ... not found on page N of URL*: the site changed;
  fails at once, without retries. Update the scraper module the message names, then *Clear*.
- `land_*` (scraping), *ScrapeError* (timeouts, server errors after the scraper's own retries, a page
  that showed nothing, or fewer/more places read than the site announces): retried; if it
  persists, the month keeps the previous places. *Clear* later. A listing with a blank name or
  address does not fail the scrape: `validate_*` holds it back in `ops.quarantine`, counted.
- `land_*` (scraping), *Chromium not found*: install `chromium chromium-driver` (README, set-up).
- `validate_*`, *was not published*: the crawl failed a blocking check (a far smaller list,
  places outside Seoul...); the log has the table of checks, `ops.validation_results` and
  `ops.quarantine` the details (suite `places`, `load_id` = the crawl id). If the site really
  changed that much, lower `RETENTION_PLACES_VOLUME_MIN_RATIO` (or raise `..._MAX_RATIO`) in
  the workers' environment, *Clear* `validate_*`, then set it back.
- `publish_*`: BigQuery's message; *Clear* the task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from retention.assets import CORE_PLACES
from retention.operations import task_defaults

# Task name -> source; both branches run the same code.
BRANCHES = {"kt_stores": "kt_store_finder", "learning_centers": "digital_learning_centers"}


@dag(
    schedule="0 3 1 * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=task_defaults(owner="data-engineering"),
    tags=["places", "scraping", "monthly"],
)
def places_refresh():
    @task
    def seed_bundled_places() -> list[dict]:
        from retention.places.refresh import ensure_tables, seed_bundled_places
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        warehouse = Warehouse.connect()
        ensure_tables(warehouse)
        with fail_fast_on_bad_data():
            return seed_bundled_places(warehouse, get_current_context()["run_id"])

    def branch(name: str, source: str):
        @task(task_id=f"land_{name}", pool="places_scraping")
        def land() -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from retention.places.files import land_places
            from retention.places.refresh import NoCrawl
            from retention.places.scrapers import LayoutChangedError
            from retention.schedule import run_crawl_month
            from retention.task_errors import fail_fast_on_bad_data
            from retention.warehouse import Warehouse

            try:
                with fail_fast_on_bad_data(LayoutChangedError):
                    return land_places(Warehouse.connect(), source, run_crawl_month(get_current_context()))
            except NoCrawl as nothing:
                raise AirflowSkipException(str(nothing)) from nothing

        @task(task_id=f"validate_{name}")
        def validate(landed: dict) -> dict:
            import datetime as dt

            from retention.places.refresh import validate_crawl
            from retention.task_errors import fail_fast_on_bad_data
            from retention.warehouse import Warehouse

            with fail_fast_on_bad_data():
                return validate_crawl(Warehouse.connect(), source, dt.date.fromisoformat(landed["crawl_date"]),
                                      landed["crawl_id"], get_current_context()["run_id"])

        @task(task_id=f"publish_{name}", outlets=[CORE_PLACES])
        def publish(landed: dict, validation: dict) -> dict:
            import datetime as dt

            from retention.places.refresh import publish_crawl
            from retention.task_errors import fail_fast_on_bad_data
            from retention.warehouse import Warehouse

            with fail_fast_on_bad_data():
                return publish_crawl(Warehouse.connect(), source, dt.date.fromisoformat(landed["crawl_date"]),
                                     landed["crawl_id"])

        landed = land()
        validated = validate(landed)
        return [landed, validated, publish(landed, validated)]

    # Whatever the branches did, the map shows what is published for the month (a failed
    # branch's source keeps its last published places); fail_if_a_branch_failed fails the run.
    @task(trigger_rule="all_done")
    def draw_places_map() -> list[str]:
        from retention.places.map import write_places_map
        from retention.places.refresh import latest_crawl_month, places_as_of
        from retention.schedule import run_crawl_month
        from retention.warehouse import Warehouse

        warehouse, month = Warehouse.connect(), run_crawl_month(get_current_context())
        latest = latest_crawl_month(warehouse)
        return write_places_map(places_as_of(warehouse, month), month, is_latest=latest is None or month >= latest)

    # The run's outcome: the map above runs whatever happened, so without this task a failed
    # scrape would leave a green run (Airflow's "watcher" pattern from its system tests). It raises
    # AirflowFailException, which is never retried.
    @task(trigger_rule="one_failed")
    def fail_if_a_branch_failed() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            "a places_refresh task failed (see the red task and its log); core.places keeps, for that source, "
            "the places published last"
        )

    seeded = seed_bundled_places()
    drawn = draw_places_map()
    watcher = fail_if_a_branch_failed()
    seeded >> drawn
    seeded >> watcher
    drawn >> watcher
    for name, source in BRANCHES.items():
        tasks = branch(name, source)
        seeded >> tasks[0]
        tasks[-1] >> drawn
        tasks >> watcher


places_refresh()
