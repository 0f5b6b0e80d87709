"""Local builder: run the service's build and test commands in its worktree, no shell, with a
timeout. The worktree's `target/` points at a per-service cargo target dir, so successive commits
build incrementally."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from build_monitor.builders.result import StepResult
from build_monitor.builders.signatures import analyze_build_output, log_excerpt
from build_monitor.config import ServiceConfig
from build_monitor.history.models import BuildStage, BuildStatus


@dataclass(frozen=True)
class CommandRun:
    exit_code: int | None  # None: timed out
    output: str
    duration_s: float


def shared_target_dir(cache_dir: Path, service: str) -> Path:
    path = cache_dir / "targets" / service
    path.mkdir(parents=True, exist_ok=True)
    return path


def link_target_dir(worktree: Path, target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    link = worktree / "target"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(target_dir, target_is_directory=True)


def run_command(
    command: str, *, cwd: Path, timeout: float, on_line: Callable[[str], None] | None = None
) -> CommandRun:
    """Run `command` (split like a shell would, but never through one) in its own process group."""
    started = time.monotonic()
    argv = shlex.split(command)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "CARGO_TERM_COLOR": "never"},
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = started + timeout
    timed_out = False
    os.set_blocking(process.stdout.fileno(), False)
    buffer = b""
    while True:
        chunk = process.stdout.read()
        if chunk:
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if on_line:
                    on_line(line)
        if process.poll() is not None and not chunk:
            break
        if time.monotonic() > deadline:
            timed_out = True
            _kill_group(process)
            break
        if not chunk:
            time.sleep(0.05)
    if buffer:
        lines.append(buffer.decode("utf-8", "replace"))
    process.stdout.close()
    return CommandRun(
        exit_code=None if timed_out else process.returncode,
        output="\n".join(lines),
        duration_s=time.monotonic() - started,
    )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def build_locally(
    *,
    service: ServiceConfig,
    worktree: Path,
    target_dir: Path | None,
    on_line: Callable[[str], None] | None = None,
) -> StepResult:
    """Run build_command, then test_command; the first failure decides the outcome."""
    started = time.monotonic()
    if target_dir is not None:
        link_target_dir(worktree, target_dir)
    steps = [(BuildStage.build, service.local.build_command)]
    if service.local.test_command:
        steps.append((BuildStage.test, service.local.test_command))
    outputs: list[str] = []
    for stage, command in steps:
        remaining = service.build_timeout_seconds - (time.monotonic() - started)
        try:
            run = run_command(command, cwd=worktree, timeout=max(remaining, 1), on_line=on_line)
        except FileNotFoundError:
            program = shlex.split(command)[0]
            return StepResult.infrastructure(f"{program} not found on this machine")
        except ValueError as exc:
            return StepResult(
                status=BuildStatus.failed,
                stage=stage,
                signature=f"invalid command {command!r}: {exc}",
            )
        outputs.append(run.output)
        if run.exit_code == 0:
            continue
        duration = time.monotonic() - started
        if run.exit_code is None:
            return StepResult.timed_out(
                stage=stage,
                timeout_seconds=service.build_timeout_seconds,
                output=run.output,
                duration_s=duration,
            )  # no test output: a timed-out run cannot test anything
        if run.exit_code == -signal.SIGKILL:
            # What the kernel's OOM killer sends: the machine failed, not the commit (a crash
            # such as SIGSEGV stays the commit's failure).
            return StepResult(
                status=BuildStatus.error,
                signature=f"out of memory: `{command}` was killed by SIGKILL",
                log_excerpt=log_excerpt(run.output),
                duration_s=duration,
            )
        analysis = analyze_build_output(
            run.output,
            exit_code=run.exit_code,
            assumed_stage="build" if stage is BuildStage.build else "test",
        )
        failure = StepResult.from_failure(
            analysis,
            stage=stage,
            fallback_signature=f"`{command}` exited with code {run.exit_code}",
            duration_s=duration,
        )
        return dataclasses.replace(failure, output="\n".join(outputs))
    return dataclasses.replace(
        StepResult.ok(duration_s=time.monotonic() - started), output="\n".join(outputs)
    )
