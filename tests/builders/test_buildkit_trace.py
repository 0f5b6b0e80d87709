"""BuildKit progress through the Engine API, decoded from real captured streams and from
generated protobuf messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.builders.buildkit_trace import (
    TRACE_ID,
    TraceError,
    TraceLog,
    VertexLog,
    VertexUpdate,
    decode_status,
    decode_trace_aux,
)

DATA = Path(__file__).parents[1] / "data"


def _log_lines(name: str) -> list[str]:
    trace = TraceLog()
    lines: list[str] = []
    for raw in (DATA / name).read_text().splitlines():
        message = json.loads(raw)
        if message.get("id") == TRACE_ID:
            for event in decode_trace_aux(message["aux"]):
                lines.extend(trace.lines(event))
    return lines + trace.finish()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _log_message(digest: str, stream: int, data: bytes) -> bytes:
    return _field(3, _field(1, digest.encode()) + _field(3, stream) + _field(4, data))


class TestCapturedStreams:
    def test_a_failed_step_gives_its_output_and_error(self) -> None:
        lines = _log_lines("buildkit_trace_failed.jsonl")
        assert "compiling sample v0.1.0" in lines
        assert "error[E0308]: mismatched types" in lines
        assert "partial line without newline" in lines
        assert any(line.startswith("#> [2/2] RUN echo") for line in lines)
        assert lines[-1].endswith("exit code: 3")

    def test_each_step_is_announced_once(self) -> None:
        lines = _log_lines("buildkit_trace_cache_mount.jsonl")
        assert "4 /cachetest/x" in lines
        announced = [line for line in lines if line.startswith("#> ")]
        assert len(announced) == len(set(announced)) >= 2

    def test_vertex_fields(self) -> None:
        first = json.loads((DATA / "buildkit_trace_failed.jsonl").read_text().splitlines()[0])
        (event,) = decode_trace_aux(first["aux"])
        assert isinstance(event, VertexUpdate)
        assert event.digest.startswith("sha256:")
        assert event.name == "[internal] load remote build context"


class TestMalformedInput:
    @pytest.mark.parametrize("aux", [None, 3, {"ID": "x"}, "not base64!", "////"])
    def test_bad_aux_is_a_trace_error(self, aux: object) -> None:
        with pytest.raises(TraceError):
            events = decode_trace_aux(aux)
            assert events  # "////" decodes to bytes that are no valid message

    @given(st.binary(max_size=200))
    def test_arbitrary_bytes_decode_or_raise_trace_error(self, payload: bytes) -> None:
        try:
            events = decode_status(payload)
        except TraceError:
            return
        assert all(isinstance(e, VertexUpdate | VertexLog) for e in events)


class TestLineAssembly:
    @given(
        st.lists(st.text(alphabet="ab\n\r", max_size=12), max_size=8),
        st.lists(st.text(alphabet="xy\n", max_size=12), max_size=8),
    )
    def test_lines_do_not_depend_on_chunking_or_interleaving(
        self, stdout_chunks: list[str], stderr_chunks: list[str]
    ) -> None:
        trace = TraceLog()
        lines: list[str] = []
        for index in range(max(len(stdout_chunks), len(stderr_chunks))):
            for stream, chunks in ((1, stdout_chunks), (2, stderr_chunks)):
                if index < len(chunks):
                    payload = _log_message("sha256:v", stream, chunks[index].encode())
                    for event in decode_status(payload):
                        lines.extend(trace.lines(event))
        lines.extend(trace.finish())

        def expected(chunks: list[str]) -> list[str]:
            text = "".join(chunks)
            parts = text.split("\n")
            return [p.rstrip("\r") for p in (parts if parts[-1] else parts[:-1])]

        out = [line for line in lines if set(line) <= set("ab\r")]
        err = [line for line in lines if set(line) <= set("xy")]
        assert [line for line in out if line] == [line for line in expected(stdout_chunks) if line]
        assert [line for line in err if line] == [line for line in expected(stderr_chunks) if line]

    def test_base64_round_trip_of_a_log(self) -> None:
        aux = base64.b64encode(_log_message("sha256:v", 1, b"hello\nwor")).decode()
        trace = TraceLog()
        (event,) = decode_trace_aux(aux)
        assert trace.lines(event) == ["hello"]
        assert trace.finish() == ["wor"]
