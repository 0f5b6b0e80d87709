"""Every test's result in a probe's output: cargo's libtest lines, grouped per test binary, and
the compile errors that kept binaries from building.

``parse_test_log`` reads raw cargo output or a ``docker build`` log (terminal codes and
interleaved stderr included); ``render_test_log`` writes the libtest text back, so the two
round-trip. Output without any libtest line or compile error (a custom ``test_command``) parses
to a log whose ``is_libtest`` is false: the caller then keeps the one-signature fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_BINARY = "tests"

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")
_RUNNING_BINARY = re.compile(r"^\s*Running (.+?)(?: \((?:\S*/)?(\S+?)\))?\s*$")
_DOC_TESTS = re.compile(r"^\s*Doc-tests (\S+)\s*$")
_RUNNING_TESTS = re.compile(r"^running (\d+) tests?\s*$")
_TEST_LINE = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)")
_TEST_RESULT = re.compile(r"^test result: (?:ok|FAILED)\.")
_STDOUT_SECTION = re.compile(r"^---- (.+?) stdout ----\s*$")
_PANIC = re.compile(r"panicked at (?:'.*', )?([\w./\\-]+\.rs):(\d+):(\d+)")
_CODED_ERROR = re.compile(r"^error\[(E\d{4})\]")
_PLAIN_ERROR = re.compile(r"^error: (.+)$")
_LOCATION = re.compile(r"^\s*--> ([^\s:]+):\d+(?::\d+)?\s*$")
_DEPS_HASH = re.compile(r"-[0-9a-f]{8,}$")
_NOT_A_COMPILE_ERROR = re.compile(
    r"^(could not compile|aborting due to|test failed, to rerun|\d+ targets? failed)"
)
LOCATION_LOOKAHEAD_LINES = 6

_CARGO_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"failed to select a version|no matching package named|failed to resolve|"
            r"lock file .* needs to be updated|failed to parse lock file|"
            r"cannot update the lock file|failed to load source for dependency|"
            r"failed to get `.+` as a dependency",
            re.I,
        ),
        "dependency resolution failed",
    ),
    (re.compile(r"failed to parse manifest|failed to read `.*Cargo\.toml`", re.I), "bad manifest"),
)


class TestOutcome(StrEnum):
    __test__ = False  # not a pytest test class

    OK = "ok"
    FAILED = "failed"
    IGNORED = "ignored"


_LIBTEST_WORD = {TestOutcome.OK: "ok", TestOutcome.FAILED: "FAILED", TestOutcome.IGNORED: "ignored"}


@dataclass(frozen=True, order=True)
class TestId:
    """A test by binary (``unittests src/lib.rs``, ``tests/api.rs``, ``doctests crate``) and
    name (``net::tests::parses``). ``label`` is the JSON and display form."""

    __test__ = False  # not a pytest test class

    binary: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} [{self.binary}]"

    @classmethod
    def from_label(cls, label: str) -> TestId:
        name, _, binary = label.rpartition(" [")
        if not name or not binary.endswith("]"):
            return cls(DEFAULT_BINARY, label)
        return cls(binary[:-1], name)


@dataclass(frozen=True, order=True)
class CompileError:
    """``error[E0432]`` in ``src/x.rs``; either part may be unknown."""

    code: str | None
    file: str | None
    message: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        head = f"error[{self.code}]" if self.code else "error"
        return f"{head} in {self.file}" if self.file else head


@dataclass(frozen=True)
class BinaryRun:
    """One test binary's run. ``finished`` is false when its ``test result:`` line never came
    (the binary crashed or the run was cut off). ``panics`` maps a failed test to the
    ``src/x.rs:NN:MM`` it panicked at."""

    binary: str
    crate: str | None = None
    planned: int = 0
    results: tuple[tuple[str, TestOutcome], ...] = ()
    panics: tuple[tuple[str, str], ...] = ()
    finished: bool = False

    def outcome(self, name: str) -> TestOutcome | None:
        return dict(self.results).get(name)


@dataclass(frozen=True)
class TestLog:
    """Everything a probe's output said about tests and compile errors. ``cargo_failure`` is a
    cargo-level failure before any compiling (e.g. ``dependency resolution failed``)."""

    __test__ = False  # not a pytest test class

    binaries: tuple[BinaryRun, ...] = ()
    compile_errors: tuple[CompileError, ...] = ()
    cargo_failure: str | None = None

    @property
    def is_libtest(self) -> bool:
        return bool(self.binaries or self.compile_errors)

    def results(self) -> dict[TestId, TestOutcome]:
        """Every test's outcome. In a workspace several crates' binaries share a label (each
        library's ``unittests src/lib.rs``); a test of the same name in two of them is one
        ``TestId``, failed if it failed in either."""
        outcomes: dict[TestId, TestOutcome] = {}
        for run in self.binaries:
            for name, outcome in run.results:
                test = TestId(run.binary, name)
                if outcomes.get(test) is not TestOutcome.FAILED:
                    outcomes[test] = outcome
        return outcomes

    def failed(self) -> list[TestId]:
        return [test for test, outcome in self.results().items() if outcome is TestOutcome.FAILED]

    def binaries_named(self, name: str) -> list[BinaryRun]:
        """The runs of binaries labelled ``name``: one per workspace crate that has it."""
        return [run for run in self.binaries if run.binary == name]


def _clean(line: str) -> str:
    return _ANSI_ESCAPE.sub("", line).rstrip("\r")


def _binary_label(description: str) -> str:
    """``unittests src/lib.rs`` and ``tests/api.rs`` as cargo prints them; a bare old-style
    ``target/debug/deps/name-hash`` becomes ``name``."""
    if "/deps/" in description:
        return _DEPS_HASH.sub("", description.rsplit("/", 1)[-1])
    return description


@dataclass
class _OpenBinary:
    binary: str
    crate: str | None = None
    planned: int = 0
    results: dict[str, TestOutcome] = field(default_factory=dict)
    panics: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    started: bool = False

    def close(self) -> BinaryRun:
        return BinaryRun(
            binary=self.binary,
            crate=self.crate,
            planned=self.planned,
            results=tuple(self.results.items()),
            panics=tuple(self.panics.items()),
            finished=self.finished,
        )


def parse_test_log(text: str) -> TestLog:
    """Parse cargo/libtest output into per-binary test results and compile errors."""
    lines = [_clean(line) for line in text.splitlines()]
    binaries: list[BinaryRun] = []
    current: _OpenBinary | None = None
    section: str | None = None
    errors: dict[tuple[str | None, str | None], CompileError] = {}
    cargo_failure: str | None = None

    def close_current() -> None:
        nonlocal current
        if current is not None and current.started:
            binaries.append(current.close())
        current = None

    for index, raw in enumerate(lines):
        line = raw.strip()
        if match := _DOC_TESTS.match(raw):
            close_current()
            current = _OpenBinary(binary=f"doctests {match.group(1)}", crate=match.group(1))
            section = None
            continue
        if (match := _RUNNING_BINARY.match(raw)) and not _RUNNING_TESTS.match(line):
            close_current()
            crate = match.group(2)
            current = _OpenBinary(
                binary=_binary_label(match.group(1)),
                crate=_DEPS_HASH.sub("", crate) if crate else None,
            )
            section = None
            continue
        if match := _RUNNING_TESTS.match(line):
            if current is None or current.started:
                close_current()
                current = _OpenBinary(binary=DEFAULT_BINARY)
            current.started = True
            current.planned = int(match.group(1))
            section = None
            continue
        if current is not None and current.started:
            if match := _TEST_LINE.match(line):
                word = match.group(2)
                outcome = TestOutcome.FAILED if word == "FAILED" else TestOutcome(word)
                current.results[match.group(1)] = outcome
                continue
            if _TEST_RESULT.match(line):
                current.finished = True
                section = None
                close_current()
                continue
            if match := _STDOUT_SECTION.match(line):
                section = match.group(1)
                continue
            if section is not None and (match := _PANIC.search(line)):
                current.panics.setdefault(
                    section, f"{match.group(1)}:{match.group(2)}:{match.group(3)}"
                )
                continue
        if match := _CODED_ERROR.match(line):
            error = _compile_error(lines, index, match.group(1))
            errors.setdefault((error.code, error.file), error)
            continue
        if (match := _PLAIN_ERROR.match(line)) and not _NOT_A_COMPILE_ERROR.match(match.group(1)):
            error = _compile_error(lines, index, None)
            if error.file is not None:
                errors.setdefault((error.code, error.file), error)
            elif cargo_failure is None:
                cargo_failure = _cargo_failure(match.group(1))
    close_current()
    return TestLog(
        binaries=tuple(binaries), compile_errors=tuple(errors.values()), cargo_failure=cargo_failure
    )


def _compile_error(lines: list[str], index: int, code: str | None) -> CompileError:
    message = lines[index].strip().split(": ", 1)[-1]
    for follower in lines[index + 1 : index + 1 + LOCATION_LOOKAHEAD_LINES]:
        if match := _LOCATION.match(follower):
            return CompileError(code=code, file=match.group(1), message=message)
        if follower.startswith("error"):
            break
    return CompileError(code=code, file=None, message=message)


def _cargo_failure(message: str) -> str | None:
    for pattern, reason in _CARGO_FAILURES:
        if pattern.search(message):
            return reason
    return None


def render_test_log(log: TestLog) -> str:
    """libtest text for ``log``: ``parse_test_log(render_test_log(log)) == log``."""
    out: list[str] = []
    for error in log.compile_errors:
        out.append(
            f"error[{error.code}]: {error.message}" if error.code else f"error: {error.message}"
        )
        if error.file:
            out.append(f"  --> {error.file}:1:1")
        out.append("")
    if log.cargo_failure:
        out.append(f"error: {_CARGO_FAILURE_TEXT[log.cargo_failure]}")
    for run in log.binaries:
        out.extend(_render_binary(run))
    return "\n".join(out) + "\n"


_CARGO_FAILURE_TEXT = {
    "dependency resolution failed": "failed to select a version for the requirement `x = ^9`",
    "bad manifest": "failed to parse manifest at `/src/Cargo.toml`",
}


def _render_binary(run: BinaryRun) -> Iterable[str]:
    if run.binary.startswith("doctests ") and run.crate == run.binary.removeprefix("doctests "):
        yield f"   Doc-tests {run.crate}"
    elif run.binary != DEFAULT_BINARY or run.crate:
        deps = f" (target/debug/deps/{run.crate}-0123456789abcdef)" if run.crate else ""
        yield f"     Running {run.binary}{deps}"
    yield ""
    yield f"running {run.planned} tests"
    for name, outcome in run.results:
        yield f"test {name} ... {_LIBTEST_WORD[outcome]}"
    if run.panics:
        yield ""
        yield "failures:"
        for name, where in run.panics:
            yield ""
            yield f"---- {name} stdout ----"
            yield ""
            yield f"thread '{name}' panicked at {where}:"
            yield "assertion failed"
    if run.finished:
        failed = sum(outcome is TestOutcome.FAILED for _, outcome in run.results)
        passed = sum(outcome is TestOutcome.OK for _, outcome in run.results)
        ignored = len(run.results) - failed - passed
        verdict = "FAILED" if failed else "ok"
        yield ""
        yield (
            f"test result: {verdict}. {passed} passed; {failed} failed; {ignored} ignored; "
            "0 measured; 0 filtered out; finished in 0.01s"
        )
    yield ""
