"""Drive signed GitHub push deliveries at a real build-monitor API server on 127.0.0.1.

The server runs in its own process (so the load generator does not share its GIL) with a
SQLite history file and an emitter that counts what it is handed — or, with
--prefect-api-url, also forwards every batch to that Prefect server. Bounded by --count and
--seconds. Prints throughput, p50/p99 latency, and delivered vs accepted vs emitted.

    .venv/bin/python benchmarks/webhooks.py --count 3000 --seconds 30 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_monitor.api.emitter import EventEmitter, PrefectEventsEmitter
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


def serve(port: int, workdir: str, prefect_api_url: str | None, stop: Any) -> None:
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
        webhooks=WebhooksConfig(github_secret=SecretRef(env="BENCH_SECRET")),
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
    Path(workdir, "emitter.json").write_text(json.dumps(stats))


def signed_deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    template = json.loads(PAYLOAD.read_bytes())
    deliveries = []
    for index in range(count):
        data = template | {"after": f"{index + 1:040x}", "before": f"{index:040x}"}
        body = json.dumps(data).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"bench-{index}",
            "X-Hub-Signature-256": github_signature(SECRET, body),
        }
        deliveries.append((body, headers))
    return deliveries


async def drive(
    base_url: str, deliveries: list[tuple[bytes, dict[str, str]]], seconds: float, workers: int
) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(deliveries) and time.monotonic() < deadline:
                body, headers = deliveries[next_index]
                next_index += 1
                started = time.perf_counter()
                response = await client.post("/api/webhooks/github", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def wait_until_drained(base_url: str, timeout: float = 60.0) -> int | None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="deliveries to send at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="stop sending after this")
    parser.add_argument("--concurrency", type=int, default=4, help="senders in flight")
    parser.add_argument("--prefect-api-url", default=None, help="also emit to this Prefect API")
    args = parser.parse_args()

    deliveries = signed_deliveries(args.count)
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as workdir:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        process = context.Process(
            target=serve, args=(port, workdir, args.prefect_api_url, stop), daemon=True
        )
        process.start()
        try:
            wait_until_up(base_url, process)
            latencies, statuses, elapsed = asyncio.run(
                drive(base_url, deliveries, args.seconds, args.concurrency)
            )
            pending = wait_until_drained(base_url)
        finally:
            stop.set()
            process.join(timeout=30)
        stats = json.loads(Path(workdir, "emitter.json").read_text())

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
    lost = accepted - stats["unique"]
    duplicated = stats["events"] - stats["unique"]
    print(
        f"accepted vs emitted   {accepted} vs {stats['unique']}: "
        f"lost {lost}, duplicated {duplicated}"
    )
    if lost or duplicated or accepted != sent:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
