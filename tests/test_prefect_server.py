"""The local Prefect server's retry layer: a 503 is answered by running the request again, in
the server, on an app built the way Prefect's is (a FastAPI app mounted under /api whose
exception handler turns a retryable error into 503 and re-raises)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.applications import Starlette
from starlette.routing import Mount

from build_monitor.prefect_server import RetryServiceUnavailable


class DatabaseLocked(Exception):
    pass


def _prefect_like_app(failures_before_success: int) -> tuple[Starlette, list[bytes]]:
    bodies: list[bytes] = []

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"exception_message": "Service Unavailable"}, status_code=503)

    api = FastAPI(exception_handlers={Exception: unavailable})

    @api.post("/task_runs/")
    async def create_task_run(request: Request) -> dict[str, str]:
        bodies.append(await request.body())
        if len(bodies) <= failures_before_success:
            raise DatabaseLocked("database is locked")
        return {"id": "run-1"}

    @api.get("/logs")
    async def stream_logs() -> StreamingResponse:
        return StreamingResponse(iter([b"one\n", b"two\n"]), media_type="text/plain")

    @api.get("/missing")
    async def missing() -> JSONResponse:
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    return Starlette(routes=[Mount("/api", app=api)]), bodies


async def _post(app: Starlette, delays: tuple[float, ...]) -> httpx.Response:
    # As under uvicorn, the exception Starlette re-raises after its 503 is not the client's.
    transport = httpx.ASGITransport(
        app=RetryServiceUnavailable(app, delays), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        return await client.post("/api/task_runs/", json={"name": "round 1"})


@pytest.mark.anyio
async def test_a_503_is_retried_in_the_server_with_the_same_body_and_route() -> None:
    app, bodies = _prefect_like_app(failures_before_success=3)
    reply = await _post(app, delays=(0, 0, 0, 0))
    assert reply.status_code == 200
    assert reply.json() == {"id": "run-1"}
    assert bodies == [b'{"name":"round 1"}'] * 4


@pytest.mark.anyio
async def test_the_last_503_reaches_the_client_once_the_retries_are_spent() -> None:
    app, bodies = _prefect_like_app(failures_before_success=10)
    reply = await _post(app, delays=(0, 0))
    assert reply.status_code == 503
    assert reply.json() == {"exception_message": "Service Unavailable"}
    assert len(bodies) == 3


@pytest.mark.anyio
async def test_other_answers_pass_through_untouched() -> None:
    app, _ = _prefect_like_app(failures_before_success=0)
    transport = httpx.ASGITransport(app=RetryServiceUnavailable(app, (0,)))
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        streamed = await client.get("/api/logs")
        missing = await client.get("/api/missing")
    assert (streamed.status_code, streamed.text) == (200, "one\ntwo\n")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
