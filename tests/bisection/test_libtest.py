"""Parsing every test's result from cargo/libtest output (pure)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.bisection.libtest import (
    DEFAULT_BINARY,
    BinaryRun,
    CompileError,
    TestId,
    TestLog,
    TestOutcome,
    parse_test_log,
    render_test_log,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MAIN = "unittests src/main.rs"


def test_a_failed_test_run_gives_every_test_and_the_panic_location() -> None:
    log = parse_test_log((DATA / "cargo_test_predict_failed.log").read_text())

    (run,) = log.binaries
    assert run.binary == MAIN
    assert run.crate == "sample_svc"
    assert run.planned == 4
    assert run.finished
    assert dict(run.results) == {
        "tests::port_defaults_to_8000": TestOutcome.OK,
        "tests::health_reports_revision": TestOutcome.OK,
        "tests::unknown_path_is_not_found": TestOutcome.OK,
        "tests::predict_doubles_input": TestOutcome.FAILED,
    }
    assert log.failed() == [TestId(MAIN, "tests::predict_doubles_input")]
    assert dict(run.panics) == {"tests::predict_doubles_input": "src/main.rs:113:9"}
    assert log.compile_errors == ()


def test_a_docker_build_log_with_terminal_codes_and_interleaved_stderr_parses_the_same() -> None:
    raw = parse_test_log((DATA / "cargo_test_predict_failed.log").read_text())
    docker = parse_test_log((DATA / "docker_build_test_failure.log").read_text())

    assert set(docker.results().items()) == set(raw.results().items())
    assert [(run.binary, run.panics) for run in docker.binaries] == [
        (run.binary, run.panics) for run in raw.binaries
    ]


def test_compile_errors_give_code_and_file_and_no_tests() -> None:
    log = parse_test_log((DATA / "cargo_build_e0425.log").read_text())

    assert log.binaries == ()
    assert [error.label for error in log.compile_errors] == ["error[E0425] in src/main.rs"]
    assert log.is_libtest


def test_binaries_are_grouped_doc_tests_included_and_a_cut_off_binary_is_unfinished() -> None:
    text = """\
     Running unittests src/lib.rs (target/debug/deps/netkit-1a2b3c4d5e6f7a8b)

running 2 tests
test net::tests::parses ... ok
test tests::slow ... ignored, needs network

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/api.rs (target/debug/deps/api-0f0e0d0c0b0a0908)

running 1 test
test answers_ping ... FAILED
   Doc-tests netkit

running 1 test
test src/lib.rs - parse (line 3) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
"""
    log = parse_test_log(text)

    assert [(run.binary, run.finished) for run in log.binaries] == [
        ("unittests src/lib.rs", True),
        ("tests/api.rs", False),
        ("doctests netkit", True),
    ]
    assert log.results()[TestId("unittests src/lib.rs", "tests::slow")] is TestOutcome.IGNORED
    assert log.failed() == [TestId("tests/api.rs", "answers_ping")]
    assert log.results()[TestId("doctests netkit", "src/lib.rs - parse (line 3)")] is (
        TestOutcome.OK
    )


def test_cargo_dependency_failure_is_named_and_custom_output_is_not_libtest() -> None:
    log = parse_test_log(
        "    Updating crates.io index\n"
        'error: failed to select a version for the requirement `serde = "^9"`\n'
    )
    assert log.cargo_failure == "dependency resolution failed"
    assert not parse_test_log("PASS: 3 checks\nFAIL: check_port\n").is_libtest


_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,8}(::[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True)
_BINARY = st.sampled_from(
    ["unittests src/lib.rs", "unittests src/main.rs", "tests/api.rs", "doctests kit"]
)


@st.composite
def _runs(draw: st.DrawFn) -> BinaryRun:
    binary = draw(_BINARY)
    names = draw(st.lists(_NAME, unique=True, max_size=6))
    outcomes = draw(st.lists(st.sampled_from(list(TestOutcome)), min_size=len(names)))
    results = tuple(zip(names, outcomes, strict=False))
    failed = [name for name, outcome in results if outcome is TestOutcome.FAILED]
    panics = tuple(
        (name, f"src/{draw(st.sampled_from(['lib', 'net', 'x']))}.rs:{line}:{column}")
        for name in failed
        if draw(st.booleans())
        for line, column in [(draw(st.integers(1, 999)), draw(st.integers(1, 99)))]
    )
    crate = "kit" if binary.startswith("doctests") else draw(st.sampled_from([None, "kit"]))
    return BinaryRun(
        binary=binary,
        crate=crate,
        planned=draw(st.integers(0, 20)),
        results=results,
        panics=panics,
        finished=draw(st.booleans()),
    )


@st.composite
def _logs(draw: st.DrawFn) -> TestLog:
    runs = draw(st.lists(_runs(), max_size=4))
    if draw(st.booleans()):
        runs.insert(
            0, BinaryRun(binary=DEFAULT_BINARY, planned=1, results=(("a", TestOutcome.OK),))
        )
    errors = draw(
        st.lists(
            st.builds(
                CompileError,
                code=st.sampled_from(["E0308", "E0432", "E0425"]),
                file=st.sampled_from([None, "src/lib.rs", "src/net/mod.rs"]),
            ),
            unique_by=lambda e: (e.code, e.file),
            max_size=3,
        )
    )
    failure = draw(st.sampled_from([None, "dependency resolution failed", "bad manifest"]))
    return TestLog(binaries=tuple(runs), compile_errors=tuple(errors), cargo_failure=failure)


@settings(max_examples=300, deadline=None)
@given(log=_logs())
def test_rendering_to_libtest_text_and_parsing_back_round_trips(log: TestLog) -> None:
    assert parse_test_log(render_test_log(log)) == log
