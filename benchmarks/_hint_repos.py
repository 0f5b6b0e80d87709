"""Generated Rust repositories for `bisect_hints.py`: a small std-only crate of several modules,
each with its own unit tests, and a history where every commit touches one or two files.

The culprit breaks `net::tests::frame_len_adds_the_header`, so the failure names `src/net.rs`
(the test's module path and its `panicked at src/net.rs:NN`). "hint right": the culprit edits
`FRAME_HEADER` in `src/net.rs`. "hint wrong": it edits `SCALE` in `src/model.rs`, which the net
test uses, while other commits touch `src/net.rs`.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _real_repos import RepoPath, Run, cli

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import SimulatedHistory, commit_names
from build_monitor.bisection.simulation_hints import HintedHistory, run_hinted_search

NAMED_FILE = "src/net.rs"
TARGET_TEST = "net::tests::frame_len_adds_the_header"
MODULES = ("net", "model", "io", "cache", "config", "parse", "store", "util")
OTHER_FILES = (*(f"src/{name}.rs" for name in MODULES if name != "net"), "README.md")
# Share of the commits other than the culprit that touch the named file (as in the simulation,
# a little more so that a 48-commit history has some); at least one always does.
NAMED_FILE_RATE = 0.06
CRATE = "hintbench"
FIRST_COMMIT_EPOCH = 1_704_067_200


@dataclass(frozen=True)
class HintRepo:
    repo: RepoPath
    commits: tuple[str, ...]  # commits[0] is the good one, commits[-1] the bad one
    culprit: str
    hint_right: bool
    touching_named: int  # suspects other than the culprit that touch NAMED_FILE
    position: int  # the culprit's position in commits (1..len - 1)
    touched: tuple[tuple[str, ...], ...]  # per suspect commit, oldest first

    def replayed_builds(self, *, use_hint: bool) -> int:
        """Builds of the pure-core search (bisection/simulation_hints.py) on this history's
        deterministic outcomes, with or without the hint: the same search minus Prefect, git
        and cargo, for the cost of the hint on the very same history."""
        hinted = HintedHistory(
            history=SimulatedHistory(
                commits=commit_names(len(self.commits)), culprit=self.position
            ),
            touched=self.touched,
            hint_right=self.hint_right,
        )
        result = run_hinted_search(hinted, BisectSettings(), random.Random(0), use_hint=use_hint)
        return result.builds


@dataclass
class _State:
    steps: dict[str, int]
    readme_revision: int = 0
    net_broken: bool = False
    model_broken: bool = False


def plan_touches(
    suspects: int, rng: random.Random, *, hint_right: bool
) -> tuple[int, list[tuple[str, ...]]]:
    """The culprit's position (1..suspects) and the files each suspect commit touches."""
    culprit = rng.randint(1, suspects)
    touched: list[tuple[str, ...]] = []
    for position in range(1, suspects + 1):
        if position == culprit:
            first = NAMED_FILE if hint_right else "src/model.rs"
        elif rng.random() < NAMED_FILE_RATE:
            first = NAMED_FILE
        else:
            first = rng.choice(OTHER_FILES)
        files = {first}
        if rng.random() < 0.5:
            files.add(rng.choice([f for f in OTHER_FILES if f != first]))
        touched.append(tuple(sorted(files)))
    if not any(NAMED_FILE in files for pos, files in enumerate(touched, 1) if pos != culprit):
        other = rng.choice([pos for pos in range(1, suspects + 1) if pos != culprit])
        touched[other - 1] = tuple(sorted({*touched[other - 1], NAMED_FILE}))
    return culprit, touched


def _steps(module: str, count: int) -> str:
    return "".join(
        f"\npub fn {module}_step_{k}(x: u64) -> u64 {{\n"
        f"    x.wrapping_mul({2 * k + 3}).wrapping_add({k})\n}}\n"
        for k in range(count)
    )


def _tests(body: str) -> str:
    return f"\n#[cfg(test)]\nmod tests {{\n    use super::*;\n{body}}}\n"


def _net(state: _State) -> str:
    header = 5 if state.net_broken else 4
    return (
        "//! Framing of payloads.\n\n"
        f"pub const FRAME_HEADER: u64 = {header};\n\n"
        "pub fn frame_len(payload: u64) -> u64 {\n"
        "    payload + FRAME_HEADER * crate::model::SCALE\n}\n"
        + _steps("net", state.steps["net"])
        + _tests(
            "\n    #[test]\n    fn frame_len_adds_the_header() {\n"
            "        assert_eq!(frame_len(10), 18);\n    }\n"
            "\n    #[test]\n    fn frames_grow_with_the_payload() {\n"
            "        assert!(frame_len(2) > frame_len(1));\n    }\n"
        )
    )


def _model(state: _State) -> str:
    scale = 3 if state.model_broken else 2
    return (
        "//! Model scaling.\n\n"
        f"pub const SCALE: u64 = {scale};\n\n"
        "pub fn scaled(x: u64) -> u64 {\n    x * SCALE\n}\n"
        + _steps("model", state.steps["model"])
        + _tests(
            "\n    #[test]\n    fn scaling_is_monotonic() {\n"
            "        assert!(scaled(2) > scaled(1));\n    }\n"
        )
    )


def _plain(module: str, index: int, state: _State) -> str:
    return (
        f"//! The {module} module.\n\n"
        f"pub fn {module}_base(x: u64) -> u64 {{\n    x + {index}\n}}\n"
        + _steps(module, state.steps[module])
        + _tests(
            f"\n    #[test]\n    fn base_adds_{index}() {{\n"
            f"        assert_eq!({module}_base(1), {index + 1});\n    }}\n"
        )
    )


def render(state: _State) -> dict[str, str]:
    files = {
        "Cargo.toml": f'[package]\nname = "{CRATE}"\nversion = "0.1.0"\nedition = "2021"\n',
        ".gitignore": "/target\n",
        "README.md": f"# {CRATE}\n\nRevision {state.readme_revision}.\n",
        "src/lib.rs": "".join(f"pub mod {name};\n" for name in MODULES),
        "src/net.rs": _net(state),
        "src/model.rs": _model(state),
    }
    for index, name in enumerate(MODULES):
        if name not in ("net", "model"):
            files[f"src/{name}.rs"] = _plain(name, index, state)
    return files


def _git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def _commit(path: Path, state: _State, index: int, message: str) -> str:
    for relative, text in render(state).items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(text)
    if index == 0:
        # A dependency-free lockfile, committed so that no build rewrites a tracked file.
        subprocess.run(
            ["cargo", "generate-lockfile", "--offline", "-q"],
            cwd=path,
            check=True,
            env={k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"},
        )
    date = f"{FIRST_COMMIT_EPOCH + index * 600} +0000"
    identity = {"NAME": "Ada Lovelace", "EMAIL": "ada@example.com", "DATE": date}
    env = {**os.environ} | {
        f"GIT_{who}_{key}": value
        for who in ("AUTHOR", "COMMITTER")
        for key, value in identity.items()
    }
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", message, env=env)
    return _git(path, "rev-parse", "HEAD")


def create_hint_repo(path: Path, *, commits: int, rng: random.Random, hint_right: bool) -> HintRepo:
    """A repository of `commits` commits (the first good, the last bad)."""
    culprit, touched = plan_touches(commits - 1, rng, hint_right=hint_right)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(path)], check=True)
    state = _State(steps=dict.fromkeys(MODULES, 0))
    shas = [_commit(path, state, 0, "Initial crate")]
    for position, files in enumerate(touched, 1):
        for file in files:
            if file == "README.md":
                state.readme_revision += 1
            else:
                state.steps[Path(file).stem] += 1
        if position == culprit:
            state.net_broken = hint_right
            state.model_broken = not hint_right
        message = f"Touch {', '.join(files)}"
        shas.append(_commit(path, state, position, message))
    others = sum(NAMED_FILE in files for pos, files in enumerate(touched, 1) if pos != culprit)
    return HintRepo(
        RepoPath(path), tuple(shas), shas[culprit], hint_right, others, culprit, tuple(touched)
    )


def bisect_json(config: Path, *, good: str, bad: str, name: str = "bench") -> tuple[Run, Any]:
    """`build-monitor bisect --json` (as `_real_repos.build_monitor_bisect`), with its report."""
    started = time.monotonic()
    completed = subprocess.run(
        [cli(), "bisect", name, "--config", str(config), "--good", good, "--bad", bad, "--json"],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if not completed.stdout.strip():
        raise SystemExit(f"build-monitor bisect failed:\n{completed.stderr[-3000:]}")
    report = json.loads(completed.stdout)
    run = Run(
        "build-monitor bisect",
        report["culprit"],
        int(report["builds"]),
        seconds,
        reason=str(report.get("reason", "")),
    )
    return run, report
