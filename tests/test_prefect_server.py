"""The local Prefect server's retry layer: a 503 is answered by running the request again, in
the server, on an app built the way Prefect's is (a FastAPI app mounted under /api whose
exception handler turns a retryable error into 503 and re-raises)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.applications import Starlette
from starlette.routing import Mount

from build_monitor.prefect_server import RetryServiceUnavailable, immediate_write_transactions


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


def _create_runs_table(engine: sqlalchemy.Engine) -> None:
    with engine.connect() as setup:
        setup.exec_driver_sql("CREATE TABLE runs (name TEXT)")
        setup.commit()


def _deferred_writer_after_a_concurrent_commit(engine: sqlalchemy.Engine) -> None:
    """Prefect's write pattern on SQLite: BEGIN DEFERRED, read, another connection commits a
    write, then write."""
    _create_runs_table(engine)
    with engine.connect() as round_writer, engine.connect() as recorder:
        round_writer.exec_driver_sql("BEGIN DEFERRED")
        round_writer.exec_driver_sql("SELECT count(*) FROM runs").all()
        recorder.exec_driver_sql("BEGIN DEFERRED")
        recorder.exec_driver_sql("INSERT INTO runs VALUES ('recorder')")
        recorder.exec_driver_sql("COMMIT")
        round_writer.exec_driver_sql("INSERT INTO runs VALUES ('round 1')")
        round_writer.exec_driver_sql("COMMIT")


def _sqlite_engine(path: Path) -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine(
        f"sqlite:///{path}", connect_args={"timeout": 5}, poolclass=sqlalchemy.pool.NullPool
    )
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode = WAL").all()
    # As Prefect's engine: the driver emits no BEGIN of its own.
    sqlalchemy.event.listen(
        engine, "connect", lambda dbapi, record: setattr(dbapi, "isolation_level", None)
    )
    return engine


def test_a_deferred_write_after_a_concurrent_commit_fails_on_plain_sqlite(tmp_path: Path) -> None:
    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        _deferred_writer_after_a_concurrent_commit(_sqlite_engine(tmp_path / "prefect.db"))


def test_write_transactions_begun_immediately_wait_instead_of_failing(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path / "prefect.db")
    immediate_write_transactions(engine)
    _create_runs_table(engine)
    recorder_done = threading.Event()

    def record() -> None:
        with engine.connect() as recorder:
            recorder.exec_driver_sql("BEGIN DEFERRED")  # waits for the round's lock
            recorder.exec_driver_sql("INSERT INTO runs VALUES ('recorder')")
            recorder.exec_driver_sql("COMMIT")
        recorder_done.set()

    with engine.connect() as round_writer:
        round_writer.exec_driver_sql("BEGIN DEFERRED")
        round_writer.exec_driver_sql("SELECT count(*) FROM runs").all()
        recorder = threading.Thread(target=record)
        recorder.start()
        assert not recorder_done.wait(0.2)
        round_writer.exec_driver_sql("INSERT INTO runs VALUES ('round 1')")
        round_writer.exec_driver_sql("COMMIT")
    recorder.join(timeout=10)
    with engine.connect() as connection:
        names = [row[0] for row in connection.exec_driver_sql("SELECT name FROM runs")]
    assert names == ["round 1", "recorder"]
