"""Drive signed GitHub push deliveries at a real build-monitor API server on 127.0.0.1.

The server runs in its own process (so the load generator does not share its GIL) with a
SQLite history file and an emitter that counts what it is handed — or, with
--prefect-api-url, also forwards every batch to that Prefect server. Bounded by --count and
--seconds. Prints throughput, p50/p99 latency, and delivered vs accepted vs emitted.

    .venv/bin/python benchmarks/webhooks.py --count 3000 --seconds 30 --concurrency 4

--coalesce starts its own Prefect server, registers the
monitor deployment with its push trigger, sends a burst of pushes to one service and counts the
monitor runs the trigger created from the Prefect API:

    .venv/bin/python benchmarks/webhooks.py --coalesce --count 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_monitor.api.emitter import EventEmitter, MonitorRuns, PrefectEventsEmitter
from build_monitor.webhooks.signatures import github_signature

SECRET = "benchmark-secret"
REPO = "https://github.com/Codertocat/Hello-World.git"
PAYLOAD = Path(__file__).resolve().parent.parent / "tests/webhooks/payloads/github-push.json"


class CountingEmitter(EventEmitter):
    def __init__(self, forward_to: EventEmitter | None) -> None:
        self.event_ids: list[str] = []
        self.batches = 0
        self._forward_to = forward_to

    async def emit(self, events: Sequence[dict[str, Any]]) -> None:
        if self._forward_to is not None:
            await self._forward_to.emit(events)
        self.batches += 1
        self.event_ids.extend(str(e["id"]) for e in events)

    async def monitor_runs(
        self, services: Collection[str], *, last_emitted: Mapping[str, datetime]
    ) -> MonitorRuns | None:
        if self._forward_to is None:
            return None
        return await self._forward_to.monitor_runs(services, last_emitted=last_emitted)


def serve(
    port: int,
    workdir: str,
    prefect_api_url: str | None,
    stop: Any,
    redeliver_interval_seconds: float = 15.0,
) -> None:
    import threading

    import uvicorn

    from build_monitor.api.app import create_app
    from build_monitor.api.config import ApiConfig
    from build_monitor.api.secrets import CachingSecretResolver
    from build_monitor.config import Config, ServiceConfig, StorageConfig
    from build_monitor.webhooks.config import SecretRef, WebhooksConfig

    config = Config(
        storage=StorageConfig(database_url=f"sqlite:///{workdir}/history.db"),
        services=[ServiceConfig(name="hello", repo=REPO, branch="master")],
    )
    forward = PrefectEventsEmitter(prefect_api_url) if prefect_api_url else None
    emitter = CountingEmitter(forward)
    app = create_app(
        config,
        emitter=emitter,
        webhooks=WebhooksConfig(
            github_secret=SecretRef(env="BENCH_SECRET"),
            redeliver_interval_seconds=redeliver_interval_seconds,
        ),
        api=ApiConfig(public_read=True),
        secret_resolver=CachingSecretResolver(environ={"BENCH_SECRET": SECRET}),
        ui_url="http://127.0.0.1/",
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
    )

    def stop_when_told() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=stop_when_told, daemon=True).start()
    server.run()
    stats = {"events": len(emitter.event_ids), "unique": len(set(emitter.event_ids))}
    stats["batches"] = emitter.batches
    with contextlib.closing(sqlite3.connect(f"{workdir}/history.db")) as db:
        # Coalescing drops the events of pushes a waiting (or newer) event covers: an accepted
        # delivery is relayed when its row is marked emitted, with or without its own event.
        query = "SELECT count(*), coalesce(sum(emitted), 0) FROM webhook_deliveries"
        stats["rows"], stats["rows_relayed"] = db.execute(query).fetchone()
    Path(workdir, "emitter.json").write_text(json.dumps(stats))


def push_body(index: int) -> bytes:
    """Push number `index` (from 1): head commit `index`, previous head `index - 1`."""
    data = json.loads(PAYLOAD.read_bytes()) | {
        "after": f"{index:040x}",
        "before": f"{index - 1:040x}",
    }
    return json.dumps(data).encode()


def signed(body: bytes, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": github_signature(SECRET, body),
    }
    return body, headers


def signed_deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    return [signed(push_body(index + 1), f"bench-{index}") for index in range(count)]


async def drive(
    base_url: str,
    deliveries: list[tuple[bytes, dict[str, str]]],
    seconds: float,
    workers: int,
    accepted: list[int] | None = None,
    before_send: Callable[[int], None] = lambda _: None,
) -> tuple[list[float], dict[int, int], float]:
    """Send the deliveries; `accepted` collects the indices answered 202, `before_send(i)` runs
    before delivery i goes out (the push has happened: the branch head moved)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(deliveries) and time.monotonic() < deadline:
                index, (body, headers) = next_index, deliveries[next_index]
                next_index += 1
                before_send(index)
                started = time.perf_counter()
                response = await client.post("/api/webhooks/github", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 202 and accepted is not None:
                    accepted.append(index)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def wait_until_drained(base_url: str, timeout: float = 180.0) -> int | None:
    deadline = time.monotonic() + timeout
    pending: int | None = None
    while time.monotonic() < deadline:
        pending = httpx.get(f"{base_url}/api/health", timeout=5).json()["pending_deliveries"]
        if pending == 0:
            return 0
        time.sleep(0.2)
    return pending


def wait_until_up(base_url: str, process: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.is_alive():
        try:
            if httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the API server did not start")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --coalesce: a burst to one service, against a real Prefect server with the push trigger.

SERVICE = "hello"
_NOT_STARTED = ["SCHEDULED", "PENDING"]
_UNFINISHED = [*_NOT_STARTED, "RUNNING"]


@contextlib.contextmanager
def prefect_server(workdir: Path) -> Iterator[str]:
    """`prefect server start` on a free port with its own PREFECT_HOME (SQLite) in `workdir`."""
    from build_monitor.prefect_runtime import server_environment

    home = workdir / "prefect-home"
    home.mkdir()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with open(workdir / "prefect-server.log", "wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=server_environment(home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(api_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Prefect server did not start: {workdir}/prefect-server.log")
            time.sleep(0.5)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def register_monitor() -> str:
    """The real monitor deployment of SERVICE with its push trigger (`build-monitor start`
    registers the same), minus its poll schedule, whose runs would blur the count."""
    from prefect.events import DeploymentEventTrigger

    from build_monitor.config import ServiceConfig
    from build_monitor.webhooks.events import push_trigger
    from deployments.monitor import monitor_deployment

    service = ServiceConfig(name=SERVICE, repo=REPO, branch="master")
    deployment = monitor_deployment(service, "/nonexistent/benchmark-config.toml")
    deployment.schedules = []
    deployment.triggers = [DeploymentEventTrigger(**push_trigger(SERVICE))]
    return str(deployment.apply())


def _runs_filter(deployment_id: str, states: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"deployments": {"id": {"any_": [deployment_id]}}}
    if states is not None:
        body["flow_runs"] = {"state": {"type": {"any_": states}}}
    return body


def count_runs(api_url: str, deployment_id: str, states: list[str] | None = None) -> int:
    body = _runs_filter(deployment_id, states)
    response = httpx.post(f"{api_url}/flow_runs/count", json=body, timeout=10)
    response.raise_for_status()
    return int(response.json())


def fake_worker(
    api_url: str, deployment_id: str, head: Any, build_seconds: float, stop: Any, out: str
) -> None:
    """What a worker and the monitor flow do, minus the build: take the oldest due run (one at
    a time, the deployment's concurrency limit), build the branch head unless a run built it
    already, finish. Samples how many runs wait meanwhile. Writes what it did to `out`."""
    asyncio.run(_fake_worker(api_url, deployment_id, head, build_seconds, stop, Path(out)))


async def _fake_worker(
    api_url: str, deployment_id: str, head: Any, build_seconds: float, stop: Any, out: Path
) -> None:
    from datetime import UTC

    record: dict[str, Any] = {"runs": [], "max_queued": 0, "samples": 0}

    async with httpx.AsyncClient(base_url=api_url + "/", timeout=30) as client:

        async def waiting_runs() -> list[dict[str, Any]]:
            body = _runs_filter(deployment_id, _NOT_STARTED) | {
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": 200,
            }
            response = await client.post("flow_runs/filter", json=body)
            response.raise_for_status()
            runs: list[dict[str, Any]] = response.json()
            record["max_queued"] = max(record["max_queued"], len(runs))
            record["samples"] += 1
            return runs

        async def set_state(run_id: str, state_type: str) -> bool:
            body = {"state": {"type": state_type}, "force": False}
            response = await client.post(f"flow_runs/{run_id}/set_state", json=body)
            response.raise_for_status()
            return bool(response.json()["status"] == "ACCEPT")

        built_up_to = 0
        while not stop.is_set():
            now = datetime.now(UTC)
            due = [
                run
                for run in await waiting_runs()
                if datetime.fromisoformat(run["expected_start_time"]) <= now
            ]
            if not due:
                await asyncio.sleep(0.2)
                continue
            run_id = due[0]["id"]
            if not (await set_state(run_id, "PENDING") and await set_state(run_id, "RUNNING")):
                continue
            commit = int(head.value)  # the monitor fetches the branch and builds its head
            builds = commit > built_up_to
            finish = time.monotonic() + (build_seconds if builds else 0.1)
            while time.monotonic() < finish:
                await waiting_runs()
                await asyncio.sleep(0.2)
            built_up_to = max(built_up_to, commit)
            await set_state(run_id, "COMPLETED")
            record["runs"].append({"id": run_id, "head": commit, "built": builds})
            out.write_text(json.dumps(record))
    out.write_text(json.dumps(record))


def settle(api_url: str, deployment_id: str, quiet_seconds: float, timeout: float = 300) -> None:
    """Wait until the deployment has no unfinished run for `quiet_seconds` (the trigger creates
    runs a moment after the event)."""
    deadline, quiet_since = time.monotonic() + timeout, time.monotonic()
    while time.monotonic() < deadline:
        if count_runs(api_url, deployment_id, _UNFINISHED):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(0.25)
    raise SystemExit("monitor runs did not settle")


def send_replays(base_url: str, body: bytes, prefix: str, count: int) -> dict[int, int]:
    """The same signed body, each time with a new X-GitHub-Delivery."""
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for index in range(count):
            replay_body, headers = signed(body, f"{prefix}-{index}")
            code = client.post("/api/webhooks/github", content=replay_body, headers=headers)
            statuses[code.status_code] = statuses.get(code.status_code, 0) + 1
    return statuses


def worker_record(workdir: Path) -> dict[str, Any]:
    path = workdir / "worker.json"
    record: dict[str, Any] = (
        json.loads(path.read_text()) if path.exists() else {"runs": [], "max_queued": 0}
    )
    return record


def run_coalescing_report(args: argparse.Namespace) -> None:
    from build_monitor.prefect_runtime import using_prefect_api

    # A SIGTERM (timeout, kill) still stops the Prefect server and the processes started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    deliveries = signed_deliveries(args.count)
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="bm-bench-coalesce-") as tmp,
        prefect_server(Path(tmp)) as api_url,
        using_prefect_api(api_url),
    ):
        workdir = Path(tmp)
        deployment_id = register_monitor()
        # The same burst with the counting emitter only: what intake does on this machine now.
        base_latencies, _, base_elapsed, _, _ = measure_intake(
            args.count, args.seconds, args.concurrency, None
        )
        head = context.Value("q", 0)
        stop_worker, stop_api = context.Event(), context.Event()
        worker = context.Process(
            target=fake_worker,
            args=(
                api_url,
                deployment_id,
                head,
                args.build_seconds,
                stop_worker,
                tmp + "/worker.json",
            ),
            daemon=True,
        )
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        api = context.Process(target=serve, args=(port, tmp, api_url, stop_api), daemon=True)
        worker.start()
        api.start()
        try:
            wait_until_up(base_url, api)

            def push(index: int) -> None:  # the branch moves before its webhook is sent
                with head.get_lock():
                    head.value = max(head.value, index + 1)

            accepted: list[int] = []
            latencies, statuses, elapsed = asyncio.run(
                drive(base_url, deliveries, args.seconds, args.concurrency, accepted, push)
            )
            last_body = push_body(max(accepted) + 1) if accepted else push_body(1)
            during = send_replays(base_url, last_body, "replay-during", args.replays)
            pending = wait_until_drained(base_url)
            settle(api_url, deployment_id, quiet_seconds=5)
            burst = worker_record(workdir)
            runs_burst = count_runs(api_url, deployment_id)
            after = send_replays(base_url, last_body, "replay-after", args.replays)
            pending_after = wait_until_drained(base_url)
            settle(api_url, deployment_id, quiet_seconds=5)
            runs_total = count_runs(api_url, deployment_id)
        finally:
            stop_api.set()
            stop_worker.set()
            api.join(timeout=30)
            worker.join(timeout=30)
        final = worker_record(workdir)
        stats = json.loads(Path(tmp, "emitter.json").read_text())

    heads_built = [run["head"] for run in final["runs"] if run["built"]]
    lost = [i for i in accepted if not any(built >= i + 1 for built in heads_built)]
    builds_burst = sum(1 for run in burst["runs"] if run["built"])
    builds_total = len(heads_built)
    sent = len(latencies)
    print(f"Prefect server        {api_url} (prefect server start, SQLite, started here)")
    print(
        f"burst                 {sent} signed pushes to one service in {elapsed:.2f}s, "
        f"concurrency {args.concurrency}"
    )
    print(f"throughput            {sent / elapsed:.0f} deliveries/s")
    print(
        f"latency p50 / p99     {percentile(latencies, 0.5) * 1000:.1f} ms / "
        f"{percentile(latencies, 0.99) * 1000:.1f} ms "
        f"(mean {statistics.mean(latencies) * 1000:.1f} ms)"
    )
    base_rate = len(base_latencies) / base_elapsed
    print(
        f"baseline (same run)   {base_rate:.0f} deliveries/s, p99 "
        f"{percentile(base_latencies, 0.99) * 1000:.1f} ms with the counting emitter only; "
        f"ratio {sent / elapsed / base_rate:.2f}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"HTTP statuses         {dict(sorted(statuses.items()))}")
    print(
        f"events emitted        {stats['events']} for {stats['unique']} unique deliveries "
        f"in {stats['batches']} batches; pending after drain {pending}"
    )
    print(
        f"monitor runs          {runs_burst} created by the push trigger (Prefect API), "
        f"{builds_burst} built; fake build {args.build_seconds:.1f}s"
    )
    print(
        f"max runs queued       {burst['max_queued']} (scheduled or pending, "
        f"{burst['samples']} samples)"
    )
    print(
        f"pushes lost           {len(lost)} of {len(accepted)} accepted "
        f"(head built last: {max(heads_built, default=0)}, pushed {max(accepted, default=-1) + 1})"
    )
    print(
        f"replays during burst  {args.replays} x the last push, new delivery ids: "
        f"{dict(sorted(during.items()))}"
    )
    print(
        f"replays after         {args.replays} more, once settled: "
        f"{dict(sorted(after.items()))}; pending {pending_after}"
    )
    print(
        f"runs / builds         {runs_total} runs in total ({runs_total - runs_burst} from the "
        f"late replays), {builds_total} builds ({builds_total - builds_burst} from replays)"
    )
    print(f"max runs queued       {final['max_queued']} over the whole run")
    failed = (
        lost
        or final["max_queued"] > 2
        or builds_total != builds_burst
        or set(during) | set(after) != {202}
        or sorted(accepted) != list(range(sent))
    )
    if failed:
        raise SystemExit(1)


def measure_intake(
    count: int, seconds: float, concurrency: int, prefect_api_url: str | None
) -> tuple[list[float], dict[int, int], float, dict[str, Any], int | None]:
    """A burst at an API server in its own process; its latencies, statuses, time, emitter
    stats and the deliveries still pending after it drained."""
    deliveries = signed_deliveries(count)
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as workdir:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        process = context.Process(
            target=serve, args=(port, workdir, prefect_api_url, stop), daemon=True
        )
        process.start()
        try:
            wait_until_up(base_url, process)
            latencies, statuses, elapsed = asyncio.run(
                drive(base_url, deliveries, seconds, concurrency)
            )
            pending = wait_until_drained(base_url)
        finally:
            stop.set()
            process.join(timeout=30)
        stats = json.loads(Path(workdir, "emitter.json").read_text())
    return latencies, statuses, elapsed, stats, pending


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="deliveries to send at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="stop sending after this")
    parser.add_argument("--concurrency", type=int, default=4, help="senders in flight")
    parser.add_argument("--prefect-api-url", default=None, help="also emit to this Prefect API")
    parser.add_argument(
        "--coalesce",
        action="store_true",
        help="a burst to one service against a Prefect server started here; count its runs",
    )
    parser.add_argument(
        "--build-seconds", type=float, default=2.0, help="--coalesce: how long a fake build takes"
    )
    parser.add_argument("--replays", type=int, default=20, help="--coalesce: replays to send")
    args = parser.parse_args()
    if args.coalesce:
        run_coalescing_report(args)
        return

    latencies, statuses, elapsed, stats, pending = measure_intake(
        args.count, args.seconds, args.concurrency, args.prefect_api_url
    )

    sent = len(latencies)
    accepted = statuses.get(202, 0)
    print(f"deliveries sent       {sent} in {elapsed:.2f}s, concurrency {args.concurrency}")
    print(f"throughput            {sent / elapsed:.0f} deliveries/s")
    print(
        f"latency p50 / p99     {percentile(latencies, 0.5) * 1000:.1f} ms / "
        f"{percentile(latencies, 0.99) * 1000:.1f} ms "
        f"(mean {statistics.mean(latencies) * 1000:.1f} ms)"
    )
    print(f"HTTP statuses         {dict(sorted(statuses.items()))}")
    sink = (
        f"counting emitter{' + Prefect at ' + args.prefect_api_url if args.prefect_api_url else ''}"
    )
    print(
        f"events emitted        {stats['events']} ({stats['unique']} unique) in "
        f"{stats['batches']} batches, counted by the {sink}"
    )
    print(f"still pending         {pending}")
    lost = accepted - stats["rows_relayed"]
    duplicated = stats["events"] - stats["unique"]
    print(
        f"accepted vs relayed   {accepted} vs {stats['rows_relayed']} "
        f"({stats['rows'] - stats['rows_relayed']} unrelayed; "
        f"{stats['rows_relayed'] - stats['unique']} coalesced into another event): "
        f"lost {lost}, duplicated {duplicated}"
    )
    if lost or duplicated or accepted != sent:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
