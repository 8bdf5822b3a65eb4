"""The whole weekly cycle at N customers, stage by stage, through the local emulator.

    python -m retention.scale.benchmark [--sizes 100000 1000000] [--repeats 1] [--out docs/scale_benchmark.md]

For each size, in a fresh temporary folder and a fresh emulator with its data on disk:

1. the synthetic history (`retention.synthetic`, `--customers N`) writes two weeks of files,
   the customers' snapshot and the contacts;
2. setup, not measured: the first week goes through the stages below up to its published
   scores (`SETUP`), so the measured week has a week before it;
3. the measured week runs every stage of `retention.scale.stages.STAGES` in cycle order,
   each in a child process of its own (the worker, as an Airflow task runs), calling the
   functions the DAG tasks call. Scoring is the DAG's: `plan_scoring_shards` and then one
   worker process per shard, one after the other (the shard count is the DAG's setting).

Measured per stage: wall seconds; CPU seconds of the worker and of the emulator (on a
shared machine CPU seconds are the steadier measure of the work: wall time includes the
wait for a core); peak resident memory of each (sampled every 0.1 s); the machine's 1-minute
load average while it ran. The labels are one week ahead (`RETENTION_LABEL_HORIZON_WEEKS=1`)
and training reads one labelled week (`RETENTION_TRAINING_WEEKS=1`), so two weeks of history
suffice: the weekly cycle's own cost at N, not the history's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from retention.config import PROJECT_ROOT
from retention.scale.stages import STAGES

DOC = PROJECT_ROOT / "docs" / "scale_benchmark.md"
MEASURED_WEEK = dt.date(2026, 1, 19)
"""The third generated week (the history starts 2026-01-05): little to simulate before it."""
PRIOR_WEEK = MEASURED_WEEK - dt.timedelta(weeks=1)
SETUP = ("ingest", "validate", "publish_core", "features", "train", "score", "publish_scores")
"""The week before the measured one, through the same stages (its customers only, no contacts):
published, featured and scored, so the measured week has a week to compare with (volume and
attrition checks, labels, and `newly_at_risk`, without which the audience would be empty). Its
training has no labelled week yet and learns from the IBM export (the DAG's cold start)."""
SETUP_BANDS = {"RETENTION_WATCH_THRESHOLD": "0.3", "RETENTION_AT_RISK_THRESHOLD": "0.5"}
"""The cold-start model predicts IBM's quarterly label: it is banded with the DAG's defaults."""

SETTINGS = {
    "RETENTION_LABEL_HORIZON_WEEKS": "1",
    "RETENTION_TRAINING_WEEKS": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "RETENTION_DEADLINE_ALERTS": "off",
    # A one-week horizon makes about 1.6% of the week leavers (the synthetic hazard), so the
    # demo's bands (0.3 / 0.5, for IBM's quarter) would hold nobody: no reasons computed, no
    # audience. These put a comparable share of the week in the bands the reasons and the
    # outreach work on (the doc's table shows how many were at risk).
    "RETENTION_WATCH_THRESHOLD": "0.02",
    "RETENTION_AT_RISK_THRESHOLD": "0.05",
    # The audience is decided at 10:00 KST on the measured Monday (a simulated time: local sink only).
    "RETENTION_OUTREACH_SIMULATED_NOW": f"{MEASURED_WEEK.isoformat()}T10:00:00+09:00",
}


class Sampler:
    """Peak resident memory of some processes and the machine's load, sampled in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peaks = dict.fromkeys(pids, 0)
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        ticks = 0
        while not self._stop.is_set():
            for name, process in self.processes.items():
                try:
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
                except Exception:  # the worker has exited: its peak is already taken
                    pass
            if ticks % 10 == 0:
                self.loads.append(os.getloadavg()[0])
            ticks += 1
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_step(step: str, folder: Path, emulator_pid: int, week: dt.date, *, shard: int | None = None,
                 contacts: bool = True, env: dict[str, str] | None = None) -> dict:
    """One step in a worker process: its wall time, its and the emulator's CPU and peak memory."""
    import psutil

    emulator = psutil.Process(emulator_pid)
    emulator_cpu = sum(emulator.cpu_times()[:2])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "retention.scale.benchmark", "--step", step, "--week", str(week),
               "--folder", str(folder)]
    command += ["--shard", str(shard)] if shard is not None else []
    command += [] if contacts else ["--no-contacts"]
    log = folder / f"{step}-{week}{'' if shard is None else f'-{shard}'}.log"
    started = time.perf_counter()
    with log.open("w") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                 env={**os.environ, **(env or {})})
        try:
            with Sampler({"worker": child.pid, "emulator": emulator_pid}) as sampled:
                output, _ = child.communicate()
        except BaseException:  # stopped (SIGTERM, Ctrl-C): the worker stops too
            child.kill()
            child.wait()
            raise
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"step {step} of {week} failed (exit {child.returncode}); its log {log} ends:\n{tail}")
    return {
        "seconds": seconds,
        "worker_cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "emulator_cpu": sum(emulator.cpu_times()[:2]) - emulator_cpu,
        "worker_mb": sampled.peaks["worker"] / 1e6, "emulator_mb": sampled.peaks["emulator"] / 1e6,
        "loads": sampled.loads, "result": json.loads(output.strip().splitlines()[-1]),
    }


def combine(stage: str, steps: list[dict]) -> dict:
    """A stage made of several worker processes (scoring: the plan, then each shard)."""
    result = {k: v for s in steps for k, v in s["result"].items()}
    result["rows"] = steps[-1]["result"]["rows"] if stage != "score" else sum(s["result"]["rows"] for s in steps[1:])
    if stage == "score":
        result["shards"] = len(steps) - 1
    return {
        "stage": stage, **{k: sum(s[k] for s in steps) for k in ("seconds", "worker_cpu", "emulator_cpu")},
        **{k: max(s[k] for s in steps) for k in ("worker_mb", "emulator_mb")},
        "load": statistics.mean(x for s in steps for x in s["loads"]) if any(s["loads"] for s in steps) else os.getloadavg()[0],
        "result": result,
    }


def run_stage(stage: str, folder: Path, emulator_pid: int, week: dt.date, bar, *, contacts: bool = True,
              env: dict[str, str] | None = None) -> list[dict]:
    """A stage's worker processes: one, or for scoring the plan and then one per shard, as mapped."""
    if stage != "score":
        return [measure_step(stage, folder, emulator_pid, week, contacts=contacts, env=env)]
    steps = [measure_step("plan", folder, emulator_pid, week, env=env)]
    for shard in range(steps[0]["result"]["shards"]):
        bar.set_postfix_str(f"{week}: score shard {shard + 1}/{steps[0]['result']['shards']}")
        steps.append(measure_step("score_shard", folder, emulator_pid, week, shard=shard, env=env))
    return steps


def run_size(customers: int, work: Path, bar, on_stage) -> dict:
    """One size: files, a fresh emulator, the setup week, then the measured week's stages."""
    from retention.emulator import LocalBigQuery
    from retention.synthetic.__main__ import write_history
    from retention.synthetic.history import SEED

    folder = work / f"cycle-{customers}"
    folder.mkdir()
    bar.set_postfix_str(f"{customers:,}: writing the synthetic files")
    started = time.perf_counter()
    write_history(folder, [PRIOR_WEEK, MEASURED_WEEK], SEED, customers)
    generated = time.perf_counter() - started
    os.environ.update({
        **SETTINGS, "RETENTION_TELCO_SNAPSHOT_SOURCE": str(folder), "RETENTION_CONTACTS_SOURCE": str(folder),
        "RETENTION_ARTIFACT_STORE": str(folder / "artifacts"),
        "RETENTION_SMS_SINK_PATH": str(folder / "sms.jsonl"),
    })
    from retention.outreach.message import DEMO_OPT_OUT_NUMBER

    os.environ.setdefault("RETENTION_SMS_OPT_OUT_NUMBER", DEMO_OPT_OUT_NUMBER)
    stages: list[dict] = []
    measured = {"size": customers, "generate_seconds": generated, "setup_seconds": None, "stages": stages}
    with LocalBigQuery(data_dir=folder / "bigquery", work_dir=folder) as bq:
        os.environ.update(bq.environment())
        started = time.perf_counter()
        for stage in SETUP:
            bar.set_postfix_str(f"{customers:,}: setup week {PRIOR_WEEK}, {stage}")
            run_stage(stage, folder, bq.pid, PRIOR_WEEK, bar, contacts=False, env=SETUP_BANDS)
        measured["setup_seconds"] = time.perf_counter() - started
        for stage in STAGES:
            bar.set_postfix_str(f"{customers:,}: {stage}")
            steps = run_stage(stage, folder, bq.pid, MEASURED_WEEK, bar)
            stages.append({"size": customers, **combine(stage, steps)})
            on_stage(measured)
            bar.update(1)
    for file in folder.glob("*.csv"):
        file.unlink()
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.scale.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=1, help="runs of the smallest size (medians are quoted)")
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("--min-leavers", type=int, help="RETENTION_MIN_TRAINING_LEAVERS (tiny sizes: tests)")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="write --out from the measurements of earlier runs (their .json beside their doc)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--week", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-contacts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        from retention.scale.stages import run

        print(json.dumps(run(args.step, args.week, args.folder, args.shard, not args.no_contacts), default=str))
        return 0
    import signal

    from tqdm import tqdm

    from retention.scale.report import report

    # Stopped with SIGTERM (a timeout, `kill`): unwind, so the emulator stops and the work folder goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if args.merge:
        saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.merge]
        merged = [run for one in saved for run in one["results"]]
        command = " && ".join(one["command"] for one in saved) + "` (measured), rendered by `" + (
            "python -m retention.scale.benchmark --merge " + " ".join(str(p) for p in args.merge))
        started = min(dt.datetime.fromisoformat(one["started_at"]) for one in saved)
        args.out.write_text(report(merged, command, started), encoding="utf-8")
        print(args.out.read_text(encoding="utf-8"))
        return 0
    if args.min_leavers is not None:
        os.environ["RETENTION_MIN_TRAINING_LEAVERS"] = str(args.min_leavers)
    sizes = sorted(args.sizes)
    runs_of = [sizes[0]] * args.repeats + sizes[1:]
    command = "python -m retention.scale.benchmark " + " ".join(sys.argv[1:] if argv is None else argv)
    started_at = dt.datetime.now(dt.UTC)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="retention-scale-benchmark-") as work, \
            tqdm(total=len(runs_of) * len(STAGES), unit="stage", file=sys.stderr, dynamic_ncols=True) as bar:
        for number, customers in enumerate(runs_of):
            (Path(work) / str(number)).mkdir()

            def written(partial: dict, done: list[dict] = list(results)) -> None:
                # After every stage: a long run stopped early keeps what it measured.
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(report([*done, partial], command, started_at), encoding="utf-8")
                # The measurements too, so that runs made apart can be reported together (--merge).
                args.out.with_suffix(".json").write_text(json.dumps(
                    {"command": command, "started_at": started_at.isoformat(), "results": [*done, partial]},
                    default=str, indent=1), encoding="utf-8")

            results.append(run_size(customers, Path(work) / str(number), bar, written))
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
