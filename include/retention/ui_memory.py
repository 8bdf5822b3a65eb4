"""How much memory `make airflow-ui` (or `make airflow-cluster`) takes: the resident memory of
its whole process tree.

    python -m retention.ui_memory [--pid PID | --port 8080] [--seconds 60] [--interval 1]

Samples, every `--interval` seconds for `--seconds`, every process of the running command:
`python -m retention.local airflow-ui`, the emulator, `airflow standalone` and its API server,
scheduler, DAG processor, triggerer, and the executor's workers and task processes (they come
and go, so each sample walks the tree again). Prints each sample, then the peak and the last.

The tree is found by `--pid` (the command's own process, or any process in it), or by the
port its API server listens on (default 8080); either way the walk starts at the topmost
ancestor that is still part of the command, so nothing it started is missed.

RSS counts pages shared between processes (forked workers, the same libraries) once per
process, so the sum overstates what the tree takes from the machine; PSS shares them out
and is printed beside it where the kernel lets us read it. The requirement (under 4 GB on a
2-core, 24 GB machine) is checked against the RSS sum, the larger of the two.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import psutil

DEFAULT_PORT = 8080
MIB = 1024 * 1024

# What each process of the tree is, from its command line (Airflow renames its processes).
COMPONENTS = (
    ("bqemulator", "emulator"),
    ("retention.local", "command"),
    ("retention.cluster", "command"),
    ("redis-server", "redis"),
    ("postgres", "postgres"),
    ("api-server", "api-server"),
    ("api_server", "api-server"),
    ("dag-processor", "dag-processor"),
    ("dagfileprocessor", "dag-processor"),
    ("serve-logs", "log server"),
    ("triggerer", "triggerer"),
    ("task supervisor", "task"),
    ("airflow supervisor", "task"),
    ("task runner", "task"),
    ("tasks run", "task"),
    ("localexecutor", "executor worker"),
    ("worker", "executor worker"),
    ("scheduler", "scheduler"),
    ("standalone", "standalone"),
)


def component(process: psutil.Process) -> str:
    """A short name for a process of the tree, for the per-component breakdown."""
    try:
        command = " ".join(process.cmdline()).lower()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    for needle, name in COMPONENTS:
        if needle in command:
            return name
    return process.name()


def _belongs_to_command(process: psutil.Process) -> bool:
    try:
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(part in command for part in ("retention.local", "retention.cluster", "airflow", "bqemulator"))


def root_of(pid: int) -> psutil.Process:
    """The topmost ancestor of `pid` that is still part of the UI command (not the shell or make)."""
    process = psutil.Process(pid)
    for parent in process.parents():
        if not _belongs_to_command(parent):
            break
        process = parent
    return process


def pid_listening_on(port: int) -> int:
    """The process listening on a TCP port of this machine; raises SystemExit if none."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return connection.pid
    raise SystemExit(
        f"Nothing listens on port {port}: start the UI first (`make airflow-ui`; RETENTION_AIRFLOW_PORT sets the "
        f"port), or name its process with --pid"
    )


@dataclass
class Sample:
    """The tree at one moment: RSS (and PSS where readable) per process, summed."""

    at: float
    rss: dict[str, int] = field(default_factory=dict)
    """Bytes resident per component, summed over its processes."""
    processes: int = 0
    pss_bytes: int | None = 0

    @property
    def rss_bytes(self) -> int:
        return sum(self.rss.values())


def sample(root: psutil.Process, *, with_pss: bool = True) -> Sample:
    """One walk of the tree under `root` (included); processes that end meanwhile are skipped."""
    result = Sample(at=time.monotonic())
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return result
    for process in processes:
        try:
            rss = process.memory_info().rss
            pss = process.memory_full_info().pss if with_pss and result.pss_bytes is not None else None
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            result.pss_bytes = None  # not ours to read: report RSS only
            continue
        name = component(process)
        result.rss[name] = result.rss.get(name, 0) + rss
        result.processes += 1
        if pss is None:
            result.pss_bytes = None
        elif result.pss_bytes is not None:
            result.pss_bytes += pss
    return result


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f} MiB"


def _describe(s: Sample) -> str:
    return f"{s.processes:>3} processes, RSS {_mib(s.rss_bytes):>10}, PSS {_mib(s.pss_bytes):>10}"


def measure(root: psutil.Process, seconds: float, interval: float, out=sys.stdout) -> tuple[Sample, Sample]:
    """Sample the tree for `seconds`; returns the peak (by RSS) and the last sample."""
    started = time.monotonic()
    peak = last = sample(root)
    while root.is_running() and time.monotonic() - started < seconds:
        print(f"  {time.monotonic() - started:6.0f} s  {_describe(last)}", file=out, flush=True)
        time.sleep(interval)
        current = sample(root)
        if current.processes == 0:
            break
        last = current
        if last.rss_bytes > peak.rss_bytes:
            peak = last
    return peak, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.ui_memory", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pid", type=int, help="a process of the running UI command (default: found by --port)")
    where.add_argument("--port", type=int, default=DEFAULT_PORT, help="its API server's port (default 8080)")
    parser.add_argument("--tree-of-pid", action="store_true",
                        help="the tree under --pid itself, not under its topmost Airflow ancestor (a cluster "
                             "started by a test, whose pytest process would otherwise be counted)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to sample (default 60)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    args = parser.parse_args(argv)
    pid = args.pid if args.pid else pid_listening_on(args.port)
    root = psutil.Process(pid) if args.tree_of_pid else root_of(pid)
    print(f"Sampling the process tree of pid {root.pid} ({' '.join(root.cmdline())[:100]}) "
          f"every {args.interval:g} s for {args.seconds:g} s")
    peak, last = measure(root, args.seconds, args.interval)
    print(f"peak:  {_describe(peak)}")
    for name, rss in sorted(peak.rss.items(), key=lambda item: -item[1]):
        print(f"         {name:<16} {_mib(rss):>10}")
    print(f"final: {_describe(last)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
