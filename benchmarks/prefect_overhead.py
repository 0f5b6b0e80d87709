"""Prefect's fixed cost in a bisection: per bisection and per probe, beyond the build itself.

Usage: .venv/bin/python benchmarks/prefect_overhead.py [--sizes 8 64] [--repeats 2]
                                                      [--parallel 1] [--profile]
                                                      [--prefect-postgres]

Each history is the sample service broken by one commit; its build command is `true` and its
test command a shell one-liner that fails from the culprit on (a few milliseconds), so nearly
all of a probe's time is build-monitor's own. For each size the script runs, on a fresh
history database:
- `git bisect run` with the same two commands (the baseline: builds and wall time);
- `build-monitor bisect --json` from the command line (Python and Prefect start-up included);
- the bisect flow called in this process, with every task and flow timed (call time against
  body time) and every log record kept.
The fixed cost comes from fitting `flow wall = per bisection + per probe x probes` over the
sizes. The breakdown shows where the time goes; `--profile` adds a cProfile of one in-process
run. It finally checks that no task logged Prefect's "worker thread" timeout warning.
Targets (issue 10): under 2 s per bisection and under 0.3 s per probe beyond the build.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import logging
import pstats
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _real_repos import cli, ensure_prefect_api

from build_monitor.sample.service import SampleRepo, create_sample_service

# Fails from the culprit on: the sample's test_failure scenario makes predictions off by one.
PROBE_SCRIPT = "#!/bin/sh\n! grep -q 'input \\* 2 + 1' src/main.rs\n"
BUILD = "true"
TIMEOUT_WARNING = "worker thread"
TARGET_PER_BISECTION_S, TARGET_PER_PROBE_S = 2.0, 0.3


@dataclass
class Timings:
    """Wall time of every task and flow call (`call`) and of its body (`body`), by name."""

    call: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    body: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, name: str, seconds: float) -> None:
        with self.lock:
            getattr(self, kind)[name].append(seconds)

    def clear(self) -> None:
        self.call.clear()
        self.body.clear()


TIMINGS = Timings()


def _timed(kind: str, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMINGS.add(kind, name, time.perf_counter() - started)

    return wrapper


def instrument() -> None:
    """Time every task and flow: the call through Prefect's engine, and the body alone."""
    import importlib
    import pkgutil

    from prefect import Flow, Task

    import flows
    import tasks

    for package in (tasks, flows):
        for module_info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module_info.name}")
    seen: set[int] = set()
    import sys

    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(("tasks.", "flows.")):
            continue
        for value in vars(module).values():
            # Flow bodies stay unwrapped: their parameter annotations resolve in their module.
            if isinstance(value, Task) and id(value) not in seen:
                seen.add(id(value))
                value.fn = _timed("body", value.name, value.fn)
    original_task_call, original_submit = Task.__call__, Task.submit
    original_flow_call = Flow.__call__

    def task_call(self: Task, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_task_call(self, *args, **kwargs)
        finally:
            TIMINGS.add("call", self.name, time.perf_counter() - started)

    def task_submit(self: Task, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        future = original_submit(self, *args, **kwargs)
        TIMINGS.add("call", f"{self.name} (submit)", time.perf_counter() - started)
        return future

    def flow_call(self: Flow, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_flow_call(self, *args, **kwargs)
        finally:
            TIMINGS.add("call", f"flow {self.name}", time.perf_counter() - started)

    for owner, attribute, label in _spans():
        _patch(owner, attribute, label)
    _time_http_requests()
    Task.__call__ = task_call  # type: ignore[method-assign]
    Task.submit = task_submit  # type: ignore[method-assign]
    Flow.__call__ = flow_call  # type: ignore[method-assign]


def _spans() -> list[tuple[Any, str, str]]:
    """Functions (and context managers) timed as `span <label>` wherever they are looked up."""
    import prefect.flow_engine
    import prefect.flows
    import prefect.task_engine
    import prefect.tasks
    import prefect.utilities.engine

    import build_monitor.history.db
    import flows.bisect
    import flows.bisect_round
    import tasks.artifacts

    return [
        (prefect.flow_engine.FlowRunEngine, "create_flow_run", "subflow: create_flow_run"),
        (prefect.flow_engine.FlowRunEngine, "begin_run", "subflow: begin_run"),
        (prefect.flows.Flow, "validate_parameters", "flow: validate_parameters"),
        (prefect.flows.Flow, "serialize_parameters", "flow: serialize_parameters"),
        (prefect.tasks.Task, "create_run", "task: create_run (async)"),
        (prefect.utilities.engine, "collect_task_run_inputs_sync", "collect task inputs"),
        (prefect.task_engine, "collect_task_run_inputs_sync", "collect task inputs"),
        (prefect.tasks, "_infer_parent_task_runs", "infer parent runs (create_run)"),
        (prefect.flow_engine, "_send_heartbeats", "heartbeat context (cm)"),
        (flows.bisect_round, "temporary_settings", "temporary_settings (cm)"),
        (flows.bisect, "temporary_settings", "temporary_settings (cm)"),
        (flows.bisect_round, "load_config", "load_config per round"),
        (flows.bisect, "load_config", "load_config"),
        (tasks.artifacts, "_best_effort", "artifacts: _best_effort"),
        (build_monitor.history.db, "get_engine", "db: get_engine"),
    ]


def _request_label(request: Any) -> str:
    parts = [p for p in request.url.path.split("/") if p and p != "api"]
    # ids (uuids) and names collapse so requests group by route
    kept = [p if len(p) < 32 and not p[0].isdigit() else "{id}" for p in parts[:3]]
    return f"http {request.method} /{'/'.join(kept)}"


def _time_http_requests() -> None:
    import httpx

    original_sync, original_async = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            return original_sync(self, request, **kwargs)
        finally:
            TIMINGS.add("call", _request_label(request), time.perf_counter() - started)

    async def send_async(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            return await original_async(self, request, **kwargs)
        finally:
            TIMINGS.add("call", _request_label(request), time.perf_counter() - started)

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = send_async  # type: ignore[method-assign]


def _patch(owner: Any, attribute: str, label: str) -> None:
    import inspect
    from contextlib import AbstractContextManager

    original = getattr(owner, attribute, None)
    if original is None:
        return
    name = f"span {label}"
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                TIMINGS.add("call", name, time.perf_counter() - started)

        setattr(owner, attribute, timed_async)
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = original(*args, **kwargs)
        if isinstance(result, AbstractContextManager):
            return _TimedContext(result, name, started)
        TIMINGS.add("call", name, time.perf_counter() - started)
        return result

    setattr(owner, attribute, timed)


class _TimedContext:
    """Times a context manager's enter and exit (not the block inside)."""

    def __init__(self, inner: Any, name: str, started: float) -> None:
        self.inner, self.name, self.started = inner, name, started

    def __enter__(self) -> Any:
        try:
            return self.inner.__enter__()
        finally:
            TIMINGS.add("call", self.name, time.perf_counter() - self.started)

    def __exit__(self, *exc: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.__exit__(*exc)
        finally:
            TIMINGS.add("call", self.name + " exit", time.perf_counter() - started)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextmanager
def captured_logs() -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(), logging.getLogger("prefect")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@dataclass(frozen=True)
class Case:
    repo: SampleRepo
    workdir: Path
    probe: Path


def make_case(root: Path, size: int, rng: random.Random, label: str) -> Case:
    workdir = root / label
    workdir.mkdir(parents=True)
    culprit_index = rng.randrange(1, size)
    repo = create_sample_service(
        workdir / "repo",
        scenario="test_failure",
        good_commits=culprit_index,
        commits_after_break=size - culprit_index - 1,
    )
    probe = workdir / "probe.sh"
    probe.write_text(PROBE_SCRIPT)
    probe.chmod(0o755)
    return Case(repo, workdir, probe)


def write_config(case: Case, run: str, parallel: int) -> Path:
    path = case.workdir / f"{run}.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{case.workdir / (run + ".db")}"\n'
        f'cache_dir = "{case.workdir / (run + "-cache")}"\n\n'
        f'[[services]]\nname = "ovh"\nrepo = "{case.repo.path}"\nbranch = "{case.repo.branch}"\n'
        f'builder = "local"\n\n[services.local]\nbuild_command = "{BUILD}"\n'
        f'test_command = "sh {case.probe}"\n\n[services.bisect]\nparallel = {parallel}\n'
    )
    return path


def git_bisect(case: Case) -> tuple[int, float, float]:
    """Builds, wall seconds, and seconds of the probe commands alone."""
    clone = case.workdir / "git-bisect"
    subprocess.run(["git", "clone", "-q", str(case.repo.path), str(clone)], check=True)
    counter = case.workdir / "git-builds"
    script = case.workdir / "git-probe.sh"
    script.write_text(
        f"#!/bin/sh\nstart=$(date +%s.%N)\n{BUILD} && sh {case.probe}\nstatus=$?\n"
        f'echo "$start $(date +%s.%N)" >> {counter}\nexit $status\n'
    )
    script.chmod(0o755)
    git = ["git", "-C", str(clone)]
    good, bad = case.repo.commits[0], case.repo.commits[-1]
    started = time.perf_counter()
    subprocess.run([*git, "bisect", "start", bad, good], check=True, capture_output=True)
    subprocess.run([*git, "bisect", "run", str(script)], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    spans = [tuple(map(float, line.split())) for line in counter.read_text().splitlines()]
    return len(spans), seconds, sum(end - start for start, end in spans)


def cli_bisect(case: Case, parallel: int) -> tuple[int, float]:
    import json

    config = write_config(case, "cli", parallel)
    good, bad = case.repo.commits[0], case.repo.commits[-1]
    started = time.perf_counter()
    completed = subprocess.run(
        [cli(), "bisect", "ovh", "--config", str(config), "--good", good, "--bad", bad, "--json"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    report = json.loads(completed.stdout)
    assert report["culprit"] == case.repo.culprit, report["reason"]
    return int(report["builds"]), seconds


def flow_bisect(case: Case, parallel: int, run: str) -> tuple[int, float, float, list[str]]:
    """Builds, flow wall seconds, seconds inside the build commands, log lines."""
    from flows.bisect import bisect

    config = write_config(case, run, parallel)
    good, bad = case.repo.commits[0], case.repo.commits[-1]
    TIMINGS.clear()
    with captured_logs() as logs:
        started = time.perf_counter()
        report = bisect(service="ovh", good=good, bad=bad, config_path=str(config))
        seconds = time.perf_counter() - started
    assert report["culprit"] == case.repo.culprit, report["reason"]
    in_builds = sum(TIMINGS.body.get("build_in_worktree", []))
    return int(report["builds"]), seconds, in_builds, logs.messages


def breakdown(flow_seconds: float, builds: int) -> None:
    names = sorted(
        set(TIMINGS.call) | set(TIMINGS.body), key=lambda n: -sum(TIMINGS.call.get(n, [0]))
    )
    print(f"    {'task or flow':<34} {'calls':>5} {'call s':>7} {'body s':>7} {'engine s':>8}")
    for name in names:
        calls, bodies = TIMINGS.call.get(name, []), TIMINGS.body.get(name, [])
        call_s, body_s = sum(calls), sum(bodies)
        engine = f"{call_s - body_s:>8.2f}" if calls and bodies else f"{'':>8}"
        count = len(calls) or len(bodies)
        print(f"    {name:<34} {count:>5} {call_s:>7.2f} {body_s:>7.2f} {engine}")
    print(f"    flow wall {flow_seconds:.2f}s for {builds} builds")


PROFILE_PATH = Path(tempfile.gettempdir()) / "bm-prefect-overhead.prof"
# Where the bisect flow's own thread spends its time (probes run on worker threads and show
# in the table above instead): (label, file suffix, function name).
PROFILE_SPANS = (
    ("whole bisect flow", "flows/bisect.py", "bisect"),
    ("a subflow run: engine start (create run, states)", "prefect/flow_engine.py", "start"),
    ("  ... of which create_flow_run", "prefect/flow_engine.py", "create_flow_run"),
    ("a flow's parameters validated", "prefect/flows.py", "validate_parameters"),
    ("temporary_settings (a settings copy)", "prefect/settings/context.py", "temporary_settings"),
    ("load_config", "build_monitor/config.py", "load_config"),
    ("task engine: run_task_sync", "prefect/task_engine.py", "run_task_sync"),
    ("waiting for probe futures", "prefect/futures.py", "result"),
    ("Prefect API requests (sync client)", "httpx/_client.py", "send"),
    ("run_coro_as_sync (API calls from the engine)", "asyncutils/__init__.py", "run_coro_as_sync"),
    ("artifacts, best effort", "tasks/artifacts.py", "_best_effort"),
    ("session_scope (DB sessions)", "build_monitor/history/db.py", "session_scope"),
    ("DB engine creation", "sqlalchemy/engine/create.py", "create_engine"),
    ("notifications", "flows/notifying.py", "wait"),
    ("heartbeat thread join", "threading.py", "join"),
    ("flow run logger / log records", "prefect/logging/handlers.py", "emit"),
)


def print_profile(stats: pstats.Stats) -> None:
    print("\nprofile of the flow's own thread (cumulative seconds, calls):")
    table = stats.stats  # type: ignore[attr-defined]
    for label, suffix, function in PROFILE_SPANS:
        calls, seconds = 0, 0.0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in table.items():
            if name == function and filename.endswith(suffix):
                calls, seconds = calls + nc, seconds + ct
        print(f"    {label:<52} {seconds:>7.2f}s {calls:>5}")
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(15)
    print(out.getvalue())


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares `seconds = a + b * builds`."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
    return mean_y - slope * mean_x, slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process run")
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line runs")
    parser.add_argument(
        "--prefect-postgres",
        action="store_true",
        help="run against a throwaway Prefect server on PostgreSQL (needs the postgresql package)",
    )
    args = parser.parse_args()
    if any(size < 4 or size > 1024 for size in args.sizes) or not 1 <= args.repeats <= 20:
        parser.error("sizes 4..1024, repeats 1..20")
    from build_monitor.prefect_runtime import using_prefect_api

    with contextlib.ExitStack() as stack:
        api_url = stack.enter_context(postgres_prefect()) if args.prefect_postgres else None
        with using_prefect_api(api_url or ensure_prefect_api()):
            instrument()
            run(args)


@contextmanager
def postgres_prefect() -> Iterator[str]:
    """A Prefect server on a throwaway PostgreSQL: on SQLite, Prefect's server answers some
    task-run creations with 503 (database is locked) and its client backs off 2 s."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.prefect_cluster import create_database, postgres_server, prefect_cluster

    with postgres_server() as admin_url, tempfile.TemporaryDirectory(prefix="bm-pg-") as root:
        database_url = create_database(admin_url, "prefect")
        with prefect_cluster(Path(root), database_url, pool="overhead") as cluster:
            yield cluster.api_url


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    flow_points: list[tuple[int, float]] = []
    cli_points: list[tuple[int, float]] = []
    git_points: list[tuple[int, float]] = []
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bm-overhead-") as scratch:
        # One untimed bisection first: imports, the server's first queries, cargo-less warm-up.
        warm = make_case(Path(scratch), 8, rng, "warm-up")
        flow_bisect(warm, args.parallel, "warm")
        print(
            f"{'commits':>7} {'run':>3} | {'git builds':>10} {'git wall':>8} | "
            f"{'bm builds':>9} {'flow wall':>9} {'in builds':>9} {'cli wall':>8} | "
            f"{'bm-git per build':>16}"
        )
        for size in args.sizes:
            for repeat in range(args.repeats):
                case = make_case(Path(scratch), size, rng, f"{size}-{repeat}")
                git_builds, git_s, _git_probe_s = git_bisect(case)
                builds, flow_s, in_builds, logs = flow_bisect(case, args.parallel, "flow")
                warnings += [line for line in logs if TIMEOUT_WARNING in line]
                retries = [line for line in logs if "retry" in line.lower()]
                if retries:
                    print(f"    {len(retries)} retry log lines, first: {retries[0][:200]}")
                cli_cell = "-"
                if not args.no_cli:
                    cli_builds, cli_s = cli_bisect(case, args.parallel)
                    cli_points.append((cli_builds, cli_s))
                    cli_cell = f"{cli_s:.2f}s"
                flow_points.append((builds, flow_s))
                git_points.append((git_builds, git_s))
                per_build = (flow_s - git_s) / builds
                print(
                    f"{size:>7} {repeat + 1:>3} | {git_builds:>10} {git_s:>7.2f}s | "
                    f"{builds:>9} {flow_s:>8.2f}s {in_builds:>8.2f}s {cli_cell:>8} | "
                    f"{per_build:>15.3f}s",
                    flush=True,
                )
        print("\nwhere the time of the last run went (seconds summed over calls):")
        breakdown(flow_s, builds)
        if args.profile:
            case = make_case(Path(scratch), args.sizes[-1], rng, "profile")
            profiler = cProfile.Profile()
            profiler.enable()
            flow_bisect(case, args.parallel, "profile")
            profiler.disable()
            profiler.dump_stats(str(PROFILE_PATH))
            print_profile(pstats.Stats(str(PROFILE_PATH)))
    flow_fixed, flow_per = fit(flow_points)
    git_fixed, git_per = fit(git_points)
    print("\nfit: wall = per bisection + per build x builds")
    print(f"  git bisect run        {git_fixed:>6.2f}s + {git_per:.3f}s/build")
    print(f"  bisect flow           {flow_fixed:>6.2f}s + {flow_per:.3f}s/build")
    if cli_points:
        cli_fixed, cli_per = fit(cli_points)
        print(f"  build-monitor bisect  {cli_fixed:>6.2f}s + {cli_per:.3f}s/build (command line)")
    per_bisection = flow_fixed - git_fixed
    per_probe = flow_per - git_per
    print(
        f"Prefect fixed cost: {per_bisection:.2f}s per bisection "
        f"(target < {TARGET_PER_BISECTION_S}s), {per_probe:.3f}s per probe beyond the build "
        f"(target < {TARGET_PER_PROBE_S}s)"
    )
    print(
        f"worker-thread timeout warnings logged: {len(warnings)}"
        + (f" (first: {warnings[0][:160]})" if warnings else "")
    )


if __name__ == "__main__":
    main()
