"""Cargo's failure to load a dependency's source over the network (captured from cargo 1.95 on a
git dependency at 127.0.0.1:9, where nothing listens, and at an unresolvable host): one
infrastructure reason naming the dependency and its source, whatever cargo's retry setting or
git cache made it print."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.builders.signatures import analyze_build_output

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize(
    ("log", "source"),
    [
        # The default: cargo's "spurious network error" warnings before the error.
        ("cargo_git_dependency_refused.log", "http://127.0.0.1:9/missing.git"),
        # `net.retry = 0` on a fresh git cache: no warning; "connection refused" only.
        ("cargo_git_dependency_refused_no_net_retry.log", "http://127.0.0.1:9/missing.git"),
        ("cargo_git_dependency_dns.log", "https://nowhere.invalid/missing.git"),
    ],
)
def test_an_unreachable_dependency_source_is_named(log: str, source: str) -> None:
    text = (DATA / log).read_text(encoding="utf-8")

    analysis = analyze_build_output(text, exit_code=101, assumed_stage="build")

    reason = f"dependency source unreachable: `missing_dep` ({source})"
    assert (analysis.infrastructure, analysis.signature, analysis.stage) == (reason, reason, None)
    assert "failed to load source for dependency" in analysis.excerpt


def test_a_dependency_source_without_a_network_failure_is_the_commits_failure() -> None:
    text = (
        "error: failed to get `missing_dep` as a dependency of package `svc v0.1.0`\n\n"
        "Caused by:\n  failed to load source for dependency `missing_dep`\n\n"
        "Caused by:\n  Unable to update /home/dev/missing\n\n"
        "Caused by:\n  failed to read `/home/dev/missing/Cargo.toml`\n\n"
        "Caused by:\n  No such file or directory (os error 2)\n"
    )

    analysis = analyze_build_output(text, exit_code=101, assumed_stage="build")

    assert analysis.infrastructure is None
    assert analysis.signature == (
        "error: failed to get `missing_dep` as a dependency of package `svc v0.1.0`"
    )
    assert analysis.stage == "build"


def test_a_registry_outage_is_still_the_networks() -> None:
    text = (
        "    Updating crates.io index\n"
        "warning: spurious network error (3 tries remaining): [6] Couldn't resolve host name "
        "(Could not resolve host: index.crates.io)\n"
        "error: failed to get `serde` as a dependency of package `svc v0.1.0 (/home/dev/svc)`\n"
        "\nCaused by:\n  failed to load source for dependency `serde`\n\n"
        "Caused by:\n  Unable to update registry `crates-io`\n"
    )

    analysis = analyze_build_output(text, exit_code=101, assumed_stage="build")

    assert analysis.infrastructure == "dependency source unreachable: `serde` (crates-io)"
