"""Decode the progress of a BuildKit build through the Docker Engine API.

With `version=2`, `POST /build` streams `{"id": "moby.buildkit.trace", "aux": <base64>}` lines
whose payload is a protobuf `moby.buildkit.v1.StatusResponse`. Only the few fields a build log
needs are read (vertex name and error, log bytes), with a small wire-format reader, so no
protobuf dependency is needed. Pure: no Docker imports.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass

TRACE_ID = "moby.buildkit.trace"

# StatusResponse: vertexes = 1, statuses = 2, logs = 3. Vertex: digest = 1, name = 3,
# cached = 4, completed = 6, error = 7. VertexLog: vertex = 1, stream = 3, msg = 4.
_RESPONSE_VERTEX, _RESPONSE_LOG = 1, 3
_VERTEX_DIGEST, _VERTEX_NAME, _VERTEX_CACHED, _VERTEX_COMPLETED, _VERTEX_ERROR = 1, 3, 4, 6, 7
_LOG_VERTEX, _LOG_STREAM, _LOG_MSG = 1, 3, 4

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class TraceError(ValueError):
    """The trace payload is not a StatusResponse this reader understands."""


@dataclass(frozen=True)
class VertexUpdate:
    """A build step changed state (`name` is e.g. `[builder 4/6] RUN cargo build`)."""

    digest: str
    name: str
    cached: bool
    completed: bool
    error: str | None


@dataclass(frozen=True)
class VertexLog:
    """Output of a build step on a stream (1 stdout, 2 stderr): bytes that may end mid-line."""

    digest: str
    stream: int
    data: bytes


TraceEvent = VertexUpdate | VertexLog


def _varint(buffer: bytes, index: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if index >= len(buffer):
            raise TraceError("truncated varint")
        byte = buffer[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index
        shift += 7
        if shift > 63:
            raise TraceError("varint too long")


def _fields(buffer: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one protobuf message; bytes for length-delimited."""
    index = 0
    while index < len(buffer):
        key, index = _varint(buffer, index)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, index = _varint(buffer, index)
            yield number, value
        elif wire_type == _LENGTH_DELIMITED:
            length, index = _varint(buffer, index)
            if index + length > len(buffer):
                raise TraceError("truncated field")
            yield number, buffer[index : index + length]
            index += length
        elif wire_type in (_FIXED64, _FIXED32):
            width = 8 if wire_type == _FIXED64 else 4
            if index + width > len(buffer):
                raise TraceError("truncated field")
            index += width
        else:
            raise TraceError(f"unsupported wire type {wire_type}")


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else ""


def _vertex(message: bytes) -> VertexUpdate:
    digest = name = ""
    cached = completed = False
    error = None
    for number, value in _fields(message):
        if number == _VERTEX_DIGEST:
            digest = _text(value)
        elif number == _VERTEX_NAME:
            name = _text(value)
        elif number == _VERTEX_CACHED:
            cached = bool(value)
        elif number == _VERTEX_COMPLETED:
            completed = True
        elif number == _VERTEX_ERROR:
            error = _text(value) or None
    return VertexUpdate(digest, name, cached, completed, error)


def _log(message: bytes) -> VertexLog:
    digest, stream, data = "", 0, b""
    for number, value in _fields(message):
        if number == _LOG_VERTEX:
            digest = _text(value)
        elif number == _LOG_STREAM and isinstance(value, int):
            stream = value
        elif number == _LOG_MSG and isinstance(value, bytes):
            data = value
    return VertexLog(digest, stream, data)


def decode_status(payload: bytes) -> list[TraceEvent]:
    """The vertex updates and logs of one StatusResponse, in their order."""
    events: list[TraceEvent] = []
    for number, value in _fields(payload):
        if not isinstance(value, bytes):
            continue
        if number == _RESPONSE_VERTEX:
            events.append(_vertex(value))
        elif number == _RESPONSE_LOG:
            events.append(_log(value))
    return events


def decode_trace_aux(aux: object) -> list[TraceEvent]:
    """Events of one `moby.buildkit.trace` stream message's `aux` (base64 text)."""
    if not isinstance(aux, str):
        raise TraceError("the trace payload is not base64 text")
    try:
        payload = base64.b64decode(aux, validate=True)
    except (binascii.Error, ValueError):
        raise TraceError("the trace payload is not valid base64") from None
    return decode_status(payload)


class TraceLog:
    """Turns trace events into log lines: each step's output is split into whole lines, and a
    step that starts or fails is announced like the classic builder's `Step` lines."""

    def __init__(self) -> None:
        self._partial: dict[tuple[str, int], bytes] = {}
        self._announced: set[str] = set()

    def lines(self, event: TraceEvent) -> list[str]:
        if isinstance(event, VertexLog):
            key = (event.digest, event.stream)
            text = self._partial.pop(key, b"") + event.data
            *complete, rest = text.split(b"\n")
            if rest:
                self._partial[key] = rest
            return [_line(chunk) for chunk in complete]
        lines = []
        if event.name and event.digest not in self._announced and not event.cached:
            self._announced.add(event.digest)
            lines.append(f"#> {event.name}")
        if event.error:
            lines.extend(self._flush(event.digest))
            lines.append(f"#> {event.name}: {event.error}")
        elif event.completed:
            lines.extend(self._flush(event.digest))
        return lines

    def _flush(self, digest: str) -> list[str]:
        keys = [key for key in self._partial if key[0] == digest]
        return [_line(self._partial.pop(key)) for key in keys]

    def finish(self) -> list[str]:
        """Whatever output was left without a final newline."""
        return [_line(self._partial.pop(key)) for key in list(self._partial)]


def _line(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")
