from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.builders.signatures import (
    Stage,
    analyze_build_output,
    health_signature,
    log_excerpt,
    normalize_signature,
    same_failure,
)
from build_monitor.sample.service import (
    COMPILE_ERROR_SIGNATURE,
    FLAKY_TEST_SIGNATURE,
    HEALTH_FAILURE_SIGNATURE,
    TEST_FAILURE_SIGNATURE,
    WINDOW_ERROR_SIGNATURE,
)

DATA = Path(__file__).parents[1] / "data"


def captured(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("log", "stage", "signature"),
    [
        ("cargo_build_e0308.log", "build", COMPILE_ERROR_SIGNATURE),
        ("cargo_build_e0425.log", "build", WINDOW_ERROR_SIGNATURE),
        ("cargo_test_predict_failed.log", "test", TEST_FAILURE_SIGNATURE),
        ("cargo_test_flaky_failed.log", "test", FLAKY_TEST_SIGNATURE),
        ("docker_build_e0308.log", "build", COMPILE_ERROR_SIGNATURE),
        ("docker_build_test_failure.log", "test", TEST_FAILURE_SIGNATURE),
    ],
)
@pytest.mark.parametrize("exit_code", [101, None])
def test_captured_failures_give_the_scenario_signature(
    log: str, stage: str, signature: str, exit_code: int | None
) -> None:
    analysis = analyze_build_output(captured(log), exit_code=exit_code)

    assert analysis.stage == stage
    assert analysis.signature == signature
    assert analysis.infrastructure is None
    assert "\x1b" not in analysis.excerpt
    assert len(analysis.excerpt.splitlines()) <= 60


@pytest.mark.parametrize("log", ["cargo_test_ok.log", "docker_build_ok.log"])
@pytest.mark.parametrize("exit_code", [0, None])
def test_captured_successes_have_no_failure(log: str, exit_code: int | None) -> None:
    analysis = analyze_build_output(captured(log), exit_code=exit_code)

    assert (analysis.stage, analysis.signature, analysis.infrastructure) == (None, None, None)


def test_excerpt_of_a_compile_error_shows_the_error_and_its_location() -> None:
    excerpt = analyze_build_output(captured("docker_build_e0308.log")).excerpt

    assert "error[E0308]: mismatched types" in excerpt
    assert "--> src/main.rs:12:23" in excerpt
    assert "[91m" not in excerpt


def test_excerpt_of_a_test_failure_shows_the_assertion() -> None:
    excerpt = analyze_build_output(captured("cargo_test_predict_failed.log")).excerpt

    assert "---- tests::predict_doubles_input stdout ----" in excerpt
    assert "left: 43" in excerpt


def test_exit_code_zero_means_success_whatever_the_text() -> None:
    analysis = analyze_build_output(captured("cargo_build_e0308.log"), exit_code=0)

    assert analysis.stage is None
    assert analysis.signature is None


def test_shifted_compile_error_has_the_same_signature() -> None:
    original = captured("cargo_build_e0308.log")
    shifted = original.replace("src/main.rs:12:23", "src/main.rs:40:9")

    first = analyze_build_output(original, exit_code=101).signature
    second = analyze_build_output(shifted, exit_code=101).signature

    assert first == second
    assert same_failure(first, second)


def test_compile_error_in_another_file_has_another_signature() -> None:
    moved = captured("cargo_build_e0308.log").replace("src/main.rs:12:23", "src/port.rs:3:5")

    signature = analyze_build_output(moved, exit_code=101).signature

    assert signature == "error[E0308]: mismatched types (src/port.rs)"
    assert not same_failure(signature, COMPILE_ERROR_SIGNATURE)


def test_uncoded_rustc_error_skips_cargo_summary_lines() -> None:
    text = """\
   Compiling svc v0.1.0 (/src)
error: could not find `Cargo.toml` in `/src` or any parent directory
"""
    syntax = """\
   Compiling svc v0.1.0 (/src)
error: expected one of `!` or `::`, found `fn`
 --> src/main.rs:3:1
  |
3 | fn main() {}
  | ^^ expected one of `!` or `::`

error: aborting due to 1 previous error
error: could not compile `svc` (bin "svc") due to 1 previous error
"""
    assert analyze_build_output(text, exit_code=101).signature == (
        "error: could not find `Cargo.toml` in `/src` or any parent directory"
    )
    analysis = analyze_build_output(syntax, exit_code=101)
    assert analysis.stage == "build"
    assert analysis.signature == "error: expected one of `!` or `::`, found `fn` (src/main.rs)"


def test_only_summary_lines_are_not_a_signature() -> None:
    text = 'error: could not compile `svc` (bin "svc") due to 1 previous error\n'

    analysis = analyze_build_output(text, exit_code=101, assumed_stage="build")

    assert analysis.stage == "build"
    assert analysis.signature is None
    assert "could not compile" in analysis.excerpt


def test_several_failed_tests_pick_the_smallest_name_whatever_the_order() -> None:
    first_order = "test tests::zeta ... FAILED\ntest tests::alpha ... FAILED\n"
    second_order = "test tests::alpha ... FAILED\ntest tests::zeta ... FAILED\n"

    first = analyze_build_output(first_order, exit_code=101).signature
    second = analyze_build_output(second_order, exit_code=101).signature

    assert first == second == "test failed: tests::alpha"


def test_crashed_test_binary_reports_the_signal() -> None:
    text = """\
     Running unittests src/main.rs (target/release/deps/svc-0123456789abcdef)
error: test failed, to rerun pass `--bin svc`

Caused by:
  process didn't exit successfully: `/src/target/release/deps/svc-0123` (signal: 11, SIGSEGV)
"""
    analysis = analyze_build_output(text, exit_code=101)

    assert analysis.stage == "test"
    assert analysis.signature == "test run failed: signal 11 (SIGSEGV)"


@pytest.mark.parametrize(
    ("text", "exit_code", "reason"),
    [
        (
            "error: failed to write target/x: No space left on device (os error 28)",
            101,
            "disk full: no space left on device",
        ),
        (
            "The command '/bin/sh -c cargo build' returned a non-zero code: 137",
            None,
            "out of memory: build killed (exit 137)",
        ),
        (
            "process didn't exit successfully: `rustc` (signal: 9, SIGKILL: kill)",
            101,
            "out of memory: process killed by SIGKILL",
        ),
        ("   Compiling svc v0.1.0\nKilled\n", 1, "out of memory: process killed"),
        ("   Compiling svc v0.1.0\n", 137, "out of memory: build killed (exit 137)"),
        (
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
            "Is the docker daemon running?",
            1,
            "docker daemon unreachable",
        ),
        (
            "pull access denied for rust, repository does not exist or may require 'docker login'",
            1,
            "base image unavailable: pull access denied",
        ),
        (
            "manifest for rust:9.99 not found: manifest unknown: manifest unknown",
            1,
            "base image unavailable: manifest unknown",
        ),
        (
            "warning: spurious network error (3 tries remaining): [6] Couldn't resolve host "
            "name (Could not resolve host: index.crates.io)",
            101,
            "network unavailable: could not resolve host",
        ),
        (
            "error: failed to download from `https://static.crates.io/crates/x/1.0/download`",
            101,
            "network unavailable: download failed",
        ),
    ],
)
def test_machine_failures_are_infrastructure(text: str, exit_code: int | None, reason: str) -> None:
    analysis = analyze_build_output(text, exit_code=exit_code, assumed_stage="build")

    assert analysis.infrastructure == reason
    assert analysis.signature == reason
    assert analysis.stage is None


def test_infrastructure_wins_over_the_compile_error_it_causes() -> None:
    text = captured("cargo_build_e0308.log") + (
        "error: could not write output to target/release/deps/x.o: No space left on device\n"
    )

    analysis = analyze_build_output(text, exit_code=101)

    assert analysis.infrastructure == "disk full: no space left on device"


def test_failure_without_recognisable_error_uses_the_assumed_stage() -> None:
    text = "\n".join(f"line {number}" for number in range(200))

    analysis = analyze_build_output(text, exit_code=2, assumed_stage="test")

    assert analysis.stage == "test"
    assert analysis.signature is None
    assert analysis.excerpt.splitlines()[-1] == "line 199"
    assert len(analysis.excerpt.splitlines()) == 60


def test_plain_success_text_without_exit_code_is_no_failure() -> None:
    analysis = analyze_build_output("   Compiling svc\n    Finished release\n")

    assert analysis == analyze_build_output("", exit_code=0)


def test_excerpt_is_centred_on_an_error_deep_in_a_long_log() -> None:
    noise_before = "\n".join(f"before {number}" for number in range(500))
    noise_after = "\n".join(f"after {number}" for number in range(500))
    text = f"{noise_before}\n{captured('cargo_build_e0308.log')}{noise_after}\n"

    excerpt = analyze_build_output(text, exit_code=101).excerpt
    lines = excerpt.splitlines()

    assert len(lines) == 60
    assert "error[E0308]: mismatched types" in lines[:10]
    assert "before 499" in lines


def test_log_excerpt_respects_max_lines_and_shortens_huge_lines() -> None:
    text = "x" * 10_000 + "\nerror: boom\n" + "\n".join(str(number) for number in range(100))

    excerpt = log_excerpt(text, max_lines=5)

    assert excerpt.splitlines()[1] == "error: boom"
    assert len(excerpt.splitlines()) == 5
    assert all(len(line) <= 400 for line in excerpt.splitlines())


def test_health_signatures() -> None:
    assert (
        health_signature(path="/health", status=500, expected=200)
        == "health: GET /health returned 500, expected 200"
        == HEALTH_FAILURE_SIGNATURE
    )
    assert (
        health_signature(path="/health", status=None, expected=200, reason="no answer within 30s")
        == "health: no answer within 30s"
    )
    assert health_signature(path="/health", status=None, expected=200) == "health: no answer"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (
            "error[E0308]: mismatched types (src/main.rs:12:23)",
            "error[E0308]: mismatched types (src/main.rs)",
        ),
        (
            "panicked at src/main.rs:113:9:  assertion   failed",
            "panicked at src/main.rs: assertion failed",
        ),
        ("test failed: tests::a_b", "test failed: tests::a_b"),
        (
            "  health: GET /health returned 500, expected 200\n",
            "health: GET /health returned 500, expected 200",
        ),
    ],
)
def test_normalize_signature(raw: str, normal: str) -> None:
    assert normalize_signature(raw) == normal


def test_none_signatures_never_match() -> None:
    assert not same_failure(None, None)
    assert not same_failure("test failed: a", None)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    exit_code=st.one_of(st.none(), st.integers(min_value=-255, max_value=255)),
    stage=st.sampled_from([None, "build", "test"]),
)
def test_analysis_never_raises_and_bounds_the_excerpt(
    text: str, exit_code: int | None, stage: Stage | None
) -> None:
    analysis = analyze_build_output(text, exit_code=exit_code, assumed_stage=stage)

    assert len(analysis.excerpt.splitlines()) <= 60
    assert analysis.stage in (None, "build", "test")
    if analysis.infrastructure is not None:
        assert analysis.stage is None


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.sampled_from(
            [
                "error[E0599]: no method named `x` found",
                " --> src/lib.rs:1:2",
                "test tests::t ... FAILED",
                "---- tests::u stdout ----",
                "error: could not compile `svc`",
                "\x1b[91mwarning: unused\x1b[0m",
                "Killed",
                "random words",
                "",
            ]
        ),
        max_size=200,
    ),
    max_lines=st.integers(min_value=1, max_value=80),
)
def test_log_excerpt_never_exceeds_max_lines(lines: list[str], max_lines: int) -> None:
    assert len(log_excerpt("\n".join(lines), max_lines=max_lines).splitlines()) <= max_lines


@given(signature=st.text())
def test_normalize_signature_is_idempotent(signature: str) -> None:
    once = normalize_signature(signature)

    assert normalize_signature(once) == once


def test_checkout_paths_do_not_leak_into_signatures() -> None:
    """Two builds of one commit in different worktree slots must get the same signature."""
    checkouts = [f"/cache/worktrees/svc/slot-{slot}" for slot in (0, 7)]
    outputs = [
        f"   Compiling svc v0.1.0 ({path})\n"
        f"error: failed to run custom build command for `svc v0.1.0 ({path})`\n"
        for path in checkouts
    ]
    first, second = (analyze_build_output(text, exit_code=101) for text in outputs)
    assert first.signature == second.signature
    assert first.signature == "error: failed to run custom build command for `svc v0.1.0`"
