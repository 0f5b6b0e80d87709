"""Every bad input is one line on stderr and exit 2: typer's usage errors, unknown refs and
ranges, a repository that does not exist. Never a traceback, never "internal error", and no
flow run is started for them. A flow that fails inside (its build infrastructure errors) prints
Prefect's log lines without their tracebacks and ends with one line."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.sample.service import SampleRepo
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory

runner = CliRunner()


@pytest.fixture
def repo(sample_repo: SampleRepoFactory) -> SampleRepo:
    return sample_repo("test_failure", good_commits=2, commits_after_break=1)


@pytest.fixture
def config(repo: SampleRepo, tmp_path: Path) -> Path:
    missing = dataclasses.replace(repo, path=tmp_path / "no-such-repo")
    return write_config(
        tmp_path / "cfg",
        service_table(repo, name="svc", builder="local", health=False),
        service_table(missing, name="ghost", builder="local", health=False),
    )


# (arguments, a fragment the one line must contain); {first} {last} {config} {dir} {missing}
# are filled in per test.
BAD_INPUTS: list[tuple[list[str], str]] = [
    (["history", "svc", "--limit", "0"], "Invalid value for '--limit'"),
    (["bisect", "svc", "--parallel", "999"], "Invalid value for '--parallel'"),
    (["bisect", "svc", "--flake-prior", "2"], "Invalid value for '--flake-prior'"),
    (["bisect", "svc", "--flake-prior", "nan"], "Invalid value for '--flake-prior'"),
    (["bisect", "svc", "--flake-prior", "inf"], "Invalid value for '--flake-prior'"),
    (["rollback", "svc", "{first}", "why", "--strategy", "bogus"], "'--strategy'"),
    (["list", "--config", "{dir}"], "is a directory"),
    (["--config", "{dir}", "list"], "is a directory"),
    (["rollback", "svc", "--not-a-commit", "why"], "No such option: --not-a-commit"),
    (["check", "svc", "--no-such-flag"], "No such option: --no-such-flag"),
    (["--no-such-flag", "list"], "No such option: --no-such-flag"),
    (["no-such-command"], "No such command 'no-such-command'"),
    (["check", "svc", "--commit", "deadbeef"], "unknown commit 'deadbeef'"),
    (["check", "svc", "--commit", "no-such-branch"], "unknown commit 'no-such-branch'"),
    (["bisect", "svc", "--good", "deadbeef"], "unknown commit 'deadbeef'"),
    (["bisect", "svc", "--good", "{first}", "--bad", "no-such-branch"], "unknown commit"),
    (["bisect", "svc", "--good", "{first}", "--bad", "{first}"], "is not an ancestor of"),
    (["bisect", "svc", "--good", "{last}", "--bad", "{first}"], "is not an ancestor of"),
    (["bisect", "svc", "--good", "{last}"], "is not an ancestor of"),
    (["bisect", "svc"], "no passing build of svc is recorded before"),
    (["rollback", "svc", "deadbeef", "why"], "unknown commit 'deadbeef'"),
    (["rollback", "svc", "{first}", "why", "--culprit", "nope"], "unknown commit 'nope'"),
    (["deploy", "svc", "--commit", "deadbeef"], "unknown commit 'deadbeef'"),
    (["check", "ghost"], "cannot fetch {missing}: '{missing}' does not appear to be a git"),
    (["monitor", "ghost"], "does not appear to be a git repository"),
    (["bisect", "ghost"], "does not appear to be a git repository"),
    (["rollback", "ghost", "{first}", "why"], "does not appear to be a git repository"),
    (["emergency-rollback", "ghost"], "does not appear to be a git repository"),
]


@pytest.mark.prefect
@pytest.mark.parametrize(("arguments", "fragment"), BAD_INPUTS, ids=lambda v: " ".join(v))
def test_bad_input_is_one_line_and_exit_2(
    prefect_api_url: str,
    repo: SampleRepo,
    config: Path,
    tmp_path: Path,
    arguments: list[str],
    fragment: str,
) -> None:
    values = {
        "first": repo.commits[0],
        "last": repo.commits[-1],
        "dir": str(tmp_path),
        "missing": str(tmp_path / "no-such-repo"),
    }
    argv = [a.format(**values) for a in arguments]
    if "--config" not in argv:
        argv += ["--config", str(config)]
    runs_before = _flow_run_count()
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment.format(**values) in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr
    assert result.stdout == ""
    assert _flow_run_count() == runs_before, "bad input must not start a flow run"


def _flow_run_count() -> int:
    with get_client(sync_client=True) as client:
        return len(client.read_flow_runs(limit=200))


def test_no_arguments_still_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage:" in result.stdout + result.stderr
    assert "error:" not in result.stdout + result.stderr


def test_config_before_the_subcommand_is_read_and_a_command_option_wins(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    first = write_config(
        tmp_path / "first",
        service_table(sample_repo("good", good_commits=1), name="alpha", builder="local"),
    )
    second = write_config(
        tmp_path / "second",
        service_table(sample_repo("good", good_commits=1), name="beta", builder="local"),
    )

    def names(*argv: str) -> list[str]:
        result = runner.invoke(app, list(argv))
        assert result.exit_code == 0, result.stderr
        return [s["name"] for s in json.loads(result.stdout)["services"]]

    assert names("--config", str(first), "list", "--json") == ["alpha"]
    assert names("list", "--config", str(second), "--json") == ["beta"]
    assert names("--config", str(first), "list", "--config", str(second), "--json") == ["beta"]
    # The next invocation does not inherit the previous one's global --config.
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 2 and "config file not found" in result.stderr


def test_an_infinite_number_in_the_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[services]]\nname = "a"\nrepo = "/r"\nbuild_timeout_seconds = inf\n')
    result = runner.invoke(app, ["--config", str(path), "list"])
    assert result.exit_code == 2
    assert "services[0] (a).build_timeout_seconds: Input should be a finite number" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


BUILD_MONITOR = Path(sys.executable).parent / "build-monitor"
# (arguments, the one line that says what went wrong: on stdout for check, stderr for bisect)
FAILING_FLOWS: list[tuple[list[str], str]] = [
    (["check", "infra"], "infra {short} error: no-such-program-h3 not found on this machine"),
    (
        ["bisect", "infra", "--good", "{first}"],
        "error: cannot build {short} to learn its failure: no-such-program-h3 not found",
    ),
]


@pytest.mark.prefect
@pytest.mark.parametrize(("arguments", "line"), FAILING_FLOWS, ids=["check", "bisect"])
def test_a_flow_whose_build_infrastructure_errors_prints_no_traceback(
    prefect_api_url: str, repo: SampleRepo, tmp_path: Path, arguments: list[str], line: str
) -> None:
    """A real process, so Prefect's own console handler: its lines show, no traceback (nor
    the `NoneType: None` Prefect prints for a failed state it logs with `exc_info`)."""
    local = {"build_command": "no-such-program-h3", "test_command": "true"}
    config = write_config(
        tmp_path / "infra",
        service_table(repo, name="infra", builder="local", health=False, retries=0, local=local),
    )
    values = {"first": repo.commits[0], "short": repo.commits[-1][:10]}
    environment = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    environment.pop("BUILD_MONITOR_DEBUG", None)
    done = subprocess.run(
        [str(BUILD_MONITOR), *[a.format(**values) for a in arguments], "--config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "NoneType: None" not in done.stderr
    assert line.format(**values) in done.stdout + done.stderr
    assert any(
        "ERROR" in entry and "no-such-program-h3" in entry for entry in done.stderr.split("\n")
    )


RAISING_FLOW = """
import sys
if sys.argv[1] == "after":
    import prefect  # Prefect's logging is set up before the CLI's callback runs (as in tests)
from build_monitor.cli.terminal_logs import keep_tracebacks_off_the_terminal
keep_tracebacks_off_the_terminal("check")
from prefect import flow, task
from prefect.runtime import flow_run

@task(retries=0)
def explode() -> None:
    raise RuntimeError("h3 boom inside a task")

@flow(name="h3-raises")
def raises() -> None:
    print(flow_run.id, flush=True)
    explode()

try:
    raises()
except RuntimeError:
    pass
"""


@pytest.mark.prefect
@pytest.mark.parametrize("prefect_imported", ["before", "after"])
def test_a_task_that_raises_logs_one_line_on_the_terminal_and_its_traceback_in_prefect(
    prefect_api_url: str, tmp_path: Path, prefect_imported: str
) -> None:
    """The command's own terminal handling: Prefect's console handler named through Prefect's
    logging override (before Prefect is imported) or wrapped in place (after)."""
    script = tmp_path / "raises.py"
    script.write_text(RAISING_FLOW)
    environment = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    environment.pop("BUILD_MONITOR_DEBUG", None)
    environment.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS", None)
    done = subprocess.run(
        [sys.executable, str(script), prefect_imported],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    failed = [e for e in done.stderr.splitlines() if "h3 boom inside a task" in e and "ERROR" in e]
    assert failed and failed[0].endswith("(traceback in the flow run's logs)"), done.stderr
    flow_run_id = done.stdout.split()[0]
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)]))
        )
    assert any("Traceback" in log.message and "h3 boom" in log.message for log in logs)
