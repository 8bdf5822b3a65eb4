"""The README's Airflow UI, as a user meets it: `python -m retention.local airflow-ui`, a real
browser, every DAG listed, a telco_ingest run triggered by hand and watched until it succeeds,
`make backfill` accepted by its scheduler, nothing of it listening beyond 127.0.0.1, then
Ctrl-C stops everything the command started.

The command runs with a local directory and ports of its own, so it never touches `.local/`
or a `make airflow-ui` left running. Its DAGs are unpaused, so the scheduler also starts the
latest scheduled runs on its own (telco_ingest's week, places_refresh's month, ...): the test
looks only at the run it triggered, found by the run id it typed into the trigger form.

`RETENTION_UPDATE_DOCS=1` also copies the screenshot of the successful run to
`docs/airflow_ui_telco_ingest.png` (off by default, so a test run never changes the repository).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from retention.config import PROJECT_ROOT

pytestmark = [pytest.mark.airflow]

DAG_IDS = sorted(path.stem for path in (PROJECT_ROOT / "dags").glob("*.py") if not path.name.startswith("_"))
TRIGGERED_DAG = "telco_ingest"
DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "airflow_ui_telco_ingest.png"

# Generous for a 2-core machine: a fresh metadata database, four Airflow components and the
# scheduled runs of every unpaused DAG all start at once.
STARTUP_SECONDS = 480
RUN_SECONDS = 300
STOP_SECONDS = 90


class AirflowUI:
    """`python -m retention.local airflow-ui` as a child process group, stopped like Ctrl-C."""

    def __init__(self, local_dir: Path, emulator_port: int, airflow_port: int):
        self.local_dir = local_dir
        self.emulator_port = emulator_port
        self.port = airflow_port
        self.url = f"http://127.0.0.1:{airflow_port}"
        self.log_path = local_dir.parent / "airflow-ui.log"
        self.process: subprocess.Popen | None = None
        # Every process of the tree seen so far: `airflow standalone` runs in a session of its
        # own, so stopping the command's group alone would not reach it if the command died.
        self._seen: dict[int, float] = {}
        self.stopped_by: signal.Signals | None = None
        self.left_behind: list[tuple[int, str]] = []

    @property
    def password_file(self) -> Path:
        return self.local_dir / "airflow" / "simple_auth_manager_passwords.json.generated"

    @property
    def environment(self) -> dict[str, str]:
        """The command's environment, as a user's shell would have it (no test settings)."""
        env = {
            **os.environ,
            "RETENTION_LOCAL_DIR": str(self.local_dir),
            "RETENTION_EMULATOR_PORT": str(self.emulator_port),
            "RETENTION_AIRFLOW_PORT": str(self.port),
            "RETENTION_DATASET_PREFIX": "",
            # As a user runs it: the scheduler's DAGs carry their deadline alerts (the plugin's
            # custom reference must load for senior_outreach to be listed at all).
            "RETENTION_DEADLINE_ALERTS": "on",
        }
        for name in ("BIGQUERY_EMULATOR_HOST", "AIRFLOW_HOME", "RETENTION_TELCO_SNAPSHOT_SOURCE",
                     "RETENTION_AIRFLOW_HOST", "RETENTION_AIRFLOW_WORKER_LOG_PORT",
                     "RETENTION_AIRFLOW_TRIGGERER_LOG_PORT"):
            env.pop(name, None)
        return env

    def start(self) -> None:
        env = self.environment
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "retention.local", "airflow-ui"], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self.remember_tree()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def remember_tree(self) -> None:
        try:
            root = psutil.Process(self.process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                self._seen.setdefault(process.pid, process.create_time())
            except psutil.NoSuchProcess:
                pass

    def survivors(self) -> list[psutil.Process]:
        alive = []
        for pid, created in self._seen.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        return alive

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the UI command exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
                if all(health[part]["status"] == "healthy" for part in ("metadatabase", "scheduler")) \
                        and self.password_file.is_file():
                    self.remember_tree()
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, ValueError):
                pass
            time.sleep(2)
        pytest.fail(f"Airflow did not answer healthy on {self.url} within {STARTUP_SECONDS}s:\n{self.log_tail()}")

    def password(self) -> str:
        return json.loads(self.password_file.read_text())["admin"]

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; then SIGTERM and SIGKILL for anything still there.

        Records what the Ctrl-C alone did: `stopped_by` (the signal the command obeyed) and
        `left_behind` (processes of the tree still running once it exited)."""
        if self.process is None or self.stopped_by is not None:
            return
        self.remember_tree()
        for sig, grace in ((signal.SIGINT, STOP_SECONDS), (signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=grace)
                self.stopped_by = sig
                break
            except subprocess.TimeoutExpired:
                continue
        still_running = psutil.wait_procs(self.survivors(), timeout=5)[1]
        self.left_behind = [(process.pid, _command_line(process)) for process in still_running]
        # Whatever the command left behind (it should leave nothing): first politely, then not.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = self.survivors()
            for process in left:
                try:
                    process.send_signal(sig)
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(left, timeout=10)


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return "(ended)"


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def _listening_sockets(ui: AirflowUI) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket a process of the command's tree listens on."""
    found = set()
    for process in ui.survivors():
        try:
            sockets = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        found |= {(s.laddr.ip, s.laddr.port) for s in sockets if s.status == psutil.CONN_LISTEN}
    return found


def _free_ports(count: int) -> list[int]:
    from retention.emulator import free_port

    ports: list[int] = []
    while len(ports) < count:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


@pytest.fixture
def airflow_ui(tmp_path):
    emulator_port, airflow_port = _free_ports(2)
    ui = AirflowUI(tmp_path / "local", emulator_port, airflow_port)
    ui.start()
    try:
        yield ui
    finally:
        ui.stop()  # again, if the test stopped before its own stop: never leave Airflow running


@pytest.fixture
def browser(airflow_ui):
    from retention.places.browser import headless_chromium
    from retention.places.scrapers import ScrapeSettings

    with headless_chromium(ScrapeSettings(base_url=airflow_ui.url, timeout_seconds=60)) as driver:
        yield driver


def _api(ui: AirflowUI, path: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{ui.url}{path}", data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _log_in(driver, ui: AirflowUI) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{ui.url}/dags")
    WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.NAME, "username")))
    # The project's Chromium asks for Korean pages (the place scrapers want them), and the UI
    # follows the browser's language: the test reads English state names.
    driver.execute_script("window.localStorage.setItem('i18nextLng', 'en')")
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(ui.password())
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=nav-sidebar]")))


def _listed_dags(driver, ui: AirflowUI) -> set[str]:
    """The DAG ids on the DAGs page, reloaded until every project DAG is there (the DAG
    processor parses the files after the API server is up)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + 120
    listed: set[str] = set()
    while time.monotonic() < deadline:
        driver.get(f"{ui.url}/dags")
        for _ in range(10):
            listed = {link.text for link in driver.find_elements(By.CSS_SELECTOR, "a[data-testid=dag-id]")}
            if set(DAG_IDS) <= listed:
                return listed
            time.sleep(1)
    return listed


def _trigger_from_dag_page(driver, ui: AirflowUI, run_id: str) -> None:
    """The Trigger button of the DAG's page, a single run at the default logical date (now),
    with our own run id typed in under Advanced Options, conf left as offered."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(f"{ui.url}/dags/{TRIGGERED_DAG}")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[data-testid=trigger-dag-button]"))).click()
    submit = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[role=dialog] [data-testid=trigger-dag-submit]")))
    dialog = driver.find_elements(By.CSS_SELECTOR, "[role=dialog]")[-1]
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=config-form] button").click()  # Advanced Options
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "[role=dialog] input[name=dagRunId]"))).send_keys(
        run_id
    )
    submit.click()
    # The UI opens the new run's page; go there ourselves if a later version does not.
    try:
        WebDriverWait(driver, 30).until(ec.url_contains(f"/runs/{run_id}"))
    except TimeoutException:
        driver.get(f"{ui.url}/dags/{TRIGGERED_DAG}/runs/{run_id}")


def _run_state_in_browser(driver, ui: AirflowUI, run_id: str) -> str:
    """Watch the run's page until its state badge says it finished; returns that state."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    badge = "[data-testid=header-card] [data-testid=state-badge]"
    deadline = time.monotonic() + RUN_SECONDS
    reload_at = 0.0
    state = "(no state shown)"
    while time.monotonic() < deadline:
        if time.monotonic() >= reload_at:  # the page refreshes itself; a reload now and then is a safety net
            driver.get(f"{ui.url}/dags/{TRIGGERED_DAG}/runs/{run_id}")
            reload_at = time.monotonic() + 30
        try:
            shown = driver.find_elements(By.CSS_SELECTOR, badge)
            state = shown[0].text.strip().lower() if shown else state
        except StaleElementReferenceException:
            continue
        if state in ("success", "failed"):
            return state
        time.sleep(3)
    return state


def test_the_ui_lists_every_dag_and_runs_telco_ingest_triggered_from_the_browser(airflow_ui, browser, tmp_path):
    from retention.ui_memory import sample

    started = time.monotonic()
    airflow_ui.wait_until_healthy()
    print(f"\nAirflow healthy on {airflow_ui.url} after {time.monotonic() - started:.0f} s")

    _log_in(browser, airflow_ui)
    listed = _listed_dags(browser, airflow_ui)
    assert set(DAG_IDS) <= listed, f"DAGs page lists {sorted(listed)}, expected every one of {DAG_IDS}"

    run_id = f"ui_test__{uuid.uuid4().hex[:8]}"
    _trigger_from_dag_page(browser, airflow_ui, run_id)
    triggered = time.monotonic()
    state = _run_state_in_browser(browser, airflow_ui, run_id)
    waited = time.monotonic() - triggered
    airflow_ui.remember_tree()
    shot = tmp_path / "airflow_ui_telco_ingest.png"
    browser.set_window_size(1400, 900)
    time.sleep(2)  # let the page lay itself out again at the new size
    browser.save_screenshot(str(shot))

    # The same run through the REST API, with the same credentials.
    token = _api(airflow_ui, "/auth/token", body={"username": "admin", "password": airflow_ui.password()})
    token = token["access_token"]
    runs = _api(airflow_ui, f"/api/v2/dags/{TRIGGERED_DAG}/dagRuns?limit=100", token)["dag_runs"]
    ours = [run for run in runs if run["dag_run_id"] == run_id]
    assert len(ours) == 1, f"no run {run_id} among {[run['dag_run_id'] for run in runs]}"
    instances = _api(airflow_ui, f"/api/v2/dags/{TRIGGERED_DAG}/dagRuns/{run_id}/taskInstances", token)
    states = {ti["task_id"]: ti["state"] for ti in instances["task_instances"]}

    assert state == "success", (
        f"run {run_id} of {TRIGGERED_DAG} shows {state!r} in the UI after {waited:.0f} s; tasks: {states} "
        f"(screenshot {shot}, command output {airflow_ui.log_path})"
    )
    print(f"{TRIGGERED_DAG} run {run_id}: success in the UI {waited:.0f} s after Trigger")
    assert ours[0]["state"] == "success" and ours[0]["run_type"] == "manual", ours[0]
    assert ours[0]["triggering_user_name"] == "admin", ours[0]
    assert states and set(states.values()) == {"success"}, states
    assert {"publish_customers", "publish_contacts"} <= set(states), states

    assert shot.read_bytes()[:4] == b"\x89PNG"
    if os.environ.get("RETENTION_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
        print(f"screenshot copied to {DOCS_SCREENSHOT}")

    # `make backfill` with the UI running: accepted by its scheduler (refused without one:
    # tests/e2e/test_local_airflow_commands.py).
    backfill = subprocess.run(
        [sys.executable, "-m", "retention.local", "backfill", "--dag-id", TRIGGERED_DAG,
         "--from-date", "2026-11-16", "--to-date", "2026-11-16"],
        env=airflow_ui.environment, capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    backfills = _api(airflow_ui, f"/api/v2/backfills?dag_id={TRIGGERED_DAG}", token)["backfills"]
    assert len(backfills) == 1, backfills

    # Everything the command started listens on loopback only: the UI (with the admin's
    # password) and the emulator (its REST and gRPC ports); no log server on a fixed port.
    airflow_ui.remember_tree()
    listening = _listening_sockets(airflow_ui)
    assert {address for address, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening
    assert {("127.0.0.1", airflow_ui.port), ("127.0.0.1", airflow_ui.emulator_port)} <= listening, listening
    assert not {8793, 8794} & {port for _, port in listening}, listening

    # For information only: honest memory numbers come from `python -m retention.ui_memory`.
    now = sample(psutil.Process(airflow_ui.process.pid), with_pss=False)
    print(f"process tree now: {now.processes} processes, {now.rss_bytes / 2**20:,.0f} MiB resident (sum of RSS)")

    # Ctrl-C stops Airflow and the emulator: nothing listens, nothing of the tree is left.
    airflow_ui.stop()
    assert airflow_ui.stopped_by == signal.SIGINT, f"the command needed {airflow_ui.stopped_by!r} to stop"
    assert airflow_ui.left_behind == [], "still running after Ctrl-C"
    for port in (airflow_ui.port, airflow_ui.emulator_port):
        assert not _listening(port), f"something still listens on port {port}"
    print(f"stopped cleanly; {time.monotonic() - started:.0f} s in all")
