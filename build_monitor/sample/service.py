"""Generated sample Rust service repositories with a known breakage (demo, tests, benchmarks).

The service is dependency-free (std only) so it builds offline, in Docker too. Histories are
written with `git fast-import` at fixed authors and dates, so hundreds of commits take a second
and the same arguments give the same shas.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from build_monitor.builders.signatures import health_signature
from build_monitor.errors import GitError, InvalidInputError

Scenario = Literal[
    "good", "compile_error", "test_failure", "health_failure", "untestable_window", "flaky_break"
]
SCENARIOS: tuple[str, ...] = get_args(Scenario)

BRANCH = "main"
FIRST_COMMIT_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
SECONDS_BETWEEN_COMMITS = 600
MAX_COMMITS = 5000
HEALTHY_STATUS = 200
BROKEN_HEALTH_STATUS = 500

AUTHORS: tuple[tuple[str, str], ...] = (
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus Pauling", "linus@example.com"),
    ("Barbara Liskov", "barbara@example.com"),
)

COMPILE_ERROR_SIGNATURE = "error[E0308]: mismatched types (src/main.rs)"
WINDOW_ERROR_SIGNATURE = (
    "error[E0425]: cannot find value `REASON_PHRASES` in this scope (src/main.rs)"
)
TEST_FAILURE_SIGNATURE = "test failed: tests::predict_doubles_input"
FLAKY_TEST_SIGNATURE = "test failed: tests::warm_cache_hits"
HEALTH_FAILURE_SIGNATURE = health_signature(
    path="/health", status=BROKEN_HEALTH_STATUS, expected=HEALTHY_STATUS
)

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class SampleRepo:
    """A generated repository and what a correct monitor should conclude about it."""

    path: Path
    branch: str
    commits: list[str]
    """Full shas, oldest first."""
    good: str | None
    """Last good commit before the break (before the untestable window, if any); for "good" the
    head."""
    culprit: str | None
    """The commit that introduced the target breakage (None for "good")."""
    binary: str
    expected_signature: str | None
    untestable: list[str] = field(default_factory=list)
    """Commits that fail to build for an unrelated reason (the "untestable_window" scenario)."""
    untestable_signature: str | None = None


@dataclass(frozen=True)
class ServiceState:
    """What one commit's source looks like."""

    revision: int
    health_status: int = HEALTHY_STATUS
    port_type_error: bool = False
    predict_off_by_one: bool = False
    reason_phrase_missing: bool = False
    flake_per_million: int | None = None
    # Generated code compiled into every commit, so a build takes seconds (benchmarks).
    ballast_functions: int = 0
    # The same, as a path dependency crate `model/` that no commit changes, with a Dockerfile
    # that builds dependencies in their own layer: what Docker's layer cache can reuse.
    dependency_functions: int = 0
    # A BuildKit Dockerfile whose build keeps target/ and the cargo registry in cache mounts.
    cache_mounts: bool = False


def create_sample_service(
    path: Path,
    *,
    scenario: Scenario = "compile_error",
    good_commits: int = 3,
    commits_after_break: int = 1,
    name: str = "sample-svc",
    flake_rate: float = 0.2,
    untestable_span: int = 2,
    ballast_functions: int = 0,
    dependency_functions: int = 0,
    cache_mounts: bool = False,
) -> SampleRepo:
    """Create a git repository at `path` (which must not exist or be empty) for `scenario`.

    History: `good_commits` good commits (the first adds the service), then for a breaking
    scenario the culprit and `commits_after_break` more commits that stay broken. For
    "untestable_window" the good commits are followed by `untestable_span` commits that do not
    compile for an unrelated reason, a commit fixing that, and then the culprit (a failing test).
    """
    _validate(scenario, good_commits, commits_after_break, name, flake_rate, untestable_span)
    _prepare_empty_directory(path)

    flake = round(flake_rate * 1_000_000) if scenario == "flaky_break" else None
    states: list[tuple[str, ServiceState]] = []
    revision = 0

    def append(message: str, **changes: object) -> None:
        nonlocal revision
        revision += 1
        base = (
            states[-1][1]
            if states
            else ServiceState(
                revision=0,
                flake_per_million=flake,
                ballast_functions=ballast_functions,
                dependency_functions=dependency_functions,
                cache_mounts=cache_mounts,
            )
        )
        states.append((message, replace(base, revision=revision, **changes)))  # type: ignore[arg-type]

    append(f"Add the {name} service")
    for index in range(1, good_commits):
        append(f"Bump revision to {index + 1}")
    window: range = range(0)
    if scenario == "untestable_window":
        window = range(len(states), len(states) + untestable_span)
        append("Describe HTTP statuses with a reason table", reason_phrase_missing=True)
        for step in range(1, untestable_span):
            append(f"Tidy status handling ({step})")
        append("Restore the reason phrases", reason_phrase_missing=False)
    culprit_index = len(states) if scenario != "good" else None
    match scenario:
        case "compile_error":
            append("Accept ports given as text", port_type_error=True)
        case "test_failure" | "untestable_window":
            append("Calibrate predictions", predict_off_by_one=True)
        case "health_failure":
            append("Report degraded health", health_status=BROKEN_HEALTH_STATUS)
        case "flaky_break":
            append("Warm the cache lazily", flake_per_million=1_000_000)
        case "good":
            pass
    if culprit_index is not None:
        for step in range(commits_after_break):
            append(f"Follow-up change {step + 1}")

    shas = _write_history(path, name, states)
    good_index = (window.start if window else culprit_index or len(states)) - 1
    return SampleRepo(
        path=path,
        branch=BRANCH,
        commits=shas,
        good=shas[good_index] if good_index >= 0 else None,
        culprit=shas[culprit_index] if culprit_index is not None else None,
        binary=name,
        expected_signature=_EXPECTED_SIGNATURES[scenario],
        untestable=[shas[index] for index in window],
        untestable_signature=WINDOW_ERROR_SIGNATURE if window else None,
    )


def add_commit(
    repo_path: Path,
    message: str,
    files: dict[str, str],
    author: tuple[str, str] = AUTHORS[0],
) -> str:
    """Write `files` (relative path -> text) into the repository and commit them; returns the sha.

    The commit date is ten minutes after the current head's, so shas stay reproducible.
    """
    if not message.strip():
        raise InvalidInputError("a commit message must not be empty")
    root = repo_path.resolve()
    for relative in files:
        target = (root / relative).resolve()
        if relative.startswith("/") or not target.is_relative_to(root) or target == root:
            raise InvalidInputError(f"file path {relative!r} is not inside {root}")
    head_epoch = int(_git(root, "log", "-1", "--format=%ct", "HEAD").strip() or FIRST_COMMIT_EPOCH)
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(root, "add", "--", *files)
    date = f"{head_epoch + SECONDS_BETWEEN_COMMITS} +0000"
    name, email = author
    _git(
        root,
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        message,
        env={
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date,
        },
    )
    return _git(root, "rev-parse", "HEAD").strip()


def service_files(name: str, state: ServiceState) -> dict[str, str]:
    """Every file of the sample repository as it is at a commit in `state`."""
    if state.dependency_functions:
        return _layered_service_files(name, state)
    return {
        "Cargo.toml": _CARGO_TOML.format(name=name, dependencies=""),
        "Cargo.lock": _CARGO_LOCK.format(name=name),
        ".gitignore": "/target\n",
        ".dockerignore": "target\n.git\n",
        "Dockerfile": (_CACHE_MOUNT_DOCKERFILE if state.cache_mounts else _DOCKERFILE).format(
            binary=name
        ),
        "README.md": _README.format(name=name),
        "src/main.rs": render_main_rs(state),
        "src/revision.rs": f"pub const REVISION: u32 = {state.revision};\n",
    } | (
        {"src/ballast.rs": render_ballast(state.ballast_functions)}
        if state.ballast_functions
        else {}
    )


def _layered_service_files(name: str, state: ServiceState) -> dict[str, str]:
    plain = service_files(name, replace(state, dependency_functions=0))
    packages = sorted([(name, '\ndependencies = [\n "model",\n]'), ("model", "")])
    lock = _CARGO_LOCK_HEADER + "".join(
        f'\n[[package]]\nname = "{package}"\nversion = "0.1.0"{extra}\n'
        for package, extra in packages
    )
    return plain | {
        "Cargo.toml": _CARGO_TOML.format(name=name, dependencies='model = { path = "model" }'),
        "Cargo.lock": lock,
        "Dockerfile": _LAYERED_DOCKERFILE.format(binary=name),
        "model/Cargo.toml": _CARGO_TOML.format(name="model", dependencies="").split(
            "[profile.release]"
        )[0],
        "model/src/lib.rs": render_ballast(state.dependency_functions),
        "src/main.rs": plain["src/main.rs"]
        + "\n#[used]\nstatic MODEL: &[fn(u64) -> u64] = model::TABLE;\n",
    }


def render_ballast(functions: int) -> str:
    """`functions` small functions, all kept by a `#[used]` table so release builds compile
    them: a sample crate whose build takes seconds, like a real service's."""
    bodies = [
        f"pub fn f{i}(x: u64) -> u64 {{\n"
        f"    let mut acc = x.wrapping_mul({i * 2 + 1});\n"
        f"    for step in 0..(x % 7 + {i % 5 + 1}) {{\n"
        f"        acc = acc.rotate_left((step % 13) as u32) ^ {i * 7919 % 104729};\n"
        f"    }}\n"
        f"    acc\n}}\n"
        for i in range(functions)
    ]
    table = ", ".join(f"f{i}" for i in range(functions))
    return "".join(bodies) + f"pub static TABLE: &[fn(u64) -> u64] = &[{table}];\n"


def render_main_rs(state: ServiceState) -> str:
    """The service's single source file (plus the revision constant) for `state`."""
    port_arm = (
        "Some(text) => text.trim(),"
        if state.port_type_error
        else "Some(text) => text.trim().parse().unwrap_or(DEFAULT_PORT),"
    )
    prediction = "input * 2 + 1" if state.predict_off_by_one else "input * 2"
    reason_table = (
        "REASON_PHRASES[status as usize % 4]" if state.reason_phrase_missing else _REASON_MATCH
    )
    flaky_test = (
        ""
        if state.flake_per_million is None
        else _FLAKY_TEST.format(flake_per_million=state.flake_per_million)
    )
    ballast = (
        "\nmod ballast;\n\n#[used]\nstatic BALLAST: &[fn(u64) -> u64] = ballast::TABLE;\n"
        if state.ballast_functions
        else ""
    )
    return (
        _MAIN_RS.replace("@HEALTH_STATUS@", str(state.health_status))
        .replace("@PORT_ARM@", port_arm)
        .replace("@PREDICTION@", prediction)
        .replace("@REASON@", reason_table)
        .replace("@FLAKY_TEST@", flaky_test)
    ) + ballast


def _write_history(path: Path, name: str, states: list[tuple[str, ServiceState]]) -> list[str]:
    _git(path, "init", "--quiet", f"--initial-branch={BRANCH}")
    stream: list[bytes] = []
    previous: dict[str, str] = {}
    for index, (message, state) in enumerate(states):
        files = service_files(name, state)
        author_name, author_email = AUTHORS[index % len(AUTHORS)]
        when = f"{FIRST_COMMIT_EPOCH + index * SECONDS_BETWEEN_COMMITS} +0000"
        identity = f"{author_name} <{author_email}> {when}"
        encoded_message = (message + "\n").encode()
        stream.append(
            f"commit refs/heads/{BRANCH}\nmark :{index + 1}\n"
            f"author {identity}\ncommitter {identity}\n"
            f"data {len(encoded_message)}\n".encode()
            + encoded_message
        )
        if index > 0:
            stream.append(f"from :{index}\n".encode())
        for relative, text in files.items():
            if previous.get(relative) == text:
                continue
            content = text.encode()
            stream.append(f"M 100644 inline {relative}\ndata {len(content)}\n".encode())
            stream.append(content + b"\n")
        stream.append(b"\n")
        previous = files
    marks = path / ".git" / "bm-marks"
    _git(path, "fast-import", "--quiet", f"--export-marks={marks}", stdin=b"".join(stream))
    shas_by_mark = dict(
        line.split(" ", 1) for line in marks.read_text(encoding="ascii").splitlines()
    )
    marks.unlink()
    _git(path, "reset", "--quiet", "--hard", BRANCH)
    return [shas_by_mark[f":{index + 1}"].strip() for index in range(len(states))]


def _git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise GitError(f"git {args[0]} did not finish within 120s in {cwd}") from error
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip()
        raise GitError(f"git {args[0]} failed in {cwd}: {detail}")
    return completed.stdout.decode(errors="replace")


def _prepare_empty_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInputError(f"{path} already exists and is not an empty directory")
    path.mkdir(parents=True, exist_ok=True)


def _validate(
    scenario: str,
    good_commits: int,
    commits_after_break: int,
    name: str,
    flake_rate: float,
    untestable_span: int,
) -> None:
    if scenario not in SCENARIOS:
        raise InvalidInputError(f"unknown scenario {scenario!r}; choose one of {SCENARIOS}")
    if not 1 <= good_commits <= MAX_COMMITS:
        raise InvalidInputError(f"good_commits must be between 1 and {MAX_COMMITS}")
    if not 0 <= commits_after_break <= MAX_COMMITS:
        raise InvalidInputError(f"commits_after_break must be between 0 and {MAX_COMMITS}")
    if not 1 <= untestable_span <= MAX_COMMITS:
        raise InvalidInputError(f"untestable_span must be between 1 and {MAX_COMMITS}")
    if not 0.0 <= flake_rate < 1.0:
        raise InvalidInputError("flake_rate must be at least 0 and below 1")
    if not _NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"service name {name!r} must be lowercase letters, digits, '-' or '_', "
            "starting with a letter (at most 64 characters)"
        )


_EXPECTED_SIGNATURES: dict[str, str | None] = {
    "good": None,
    "compile_error": COMPILE_ERROR_SIGNATURE,
    "test_failure": TEST_FAILURE_SIGNATURE,
    "health_failure": HEALTH_FAILURE_SIGNATURE,
    "untestable_window": TEST_FAILURE_SIGNATURE,
    "flaky_break": FLAKY_TEST_SIGNATURE,
}

_CARGO_TOML = """\
[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
{dependencies}

[profile.release]
opt-level = 1
debug = false
incremental = false
"""

_CARGO_LOCK_HEADER = """\
# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 3
"""

_CARGO_LOCK = (
    _CARGO_LOCK_HEADER
    + """
[[package]]
name = "{name}"
version = "0.1.0"
"""
)

_DOCKERFILE = """\
ARG RUST_IMAGE=rust:1.82
FROM ${{RUST_IMAGE}} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --offline && cargo test --release --offline
FROM ${{RUST_IMAGE}}
COPY --from=builder /src/target/release/{binary} /usr/local/bin/{binary}
ENV PORT=8000
EXPOSE 8000
CMD ["/usr/local/bin/{binary}"]
"""

_CACHE_MOUNT_DOCKERFILE = """\
ARG RUST_IMAGE=rust:1.82
FROM ${{RUST_IMAGE}} AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,id={binary}-target,target=/src/target \\
    --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \\
    cargo build --release --offline && cargo test --release --offline \\
    && cp target/release/{binary} /usr/local/bin/{binary}
FROM ${{RUST_IMAGE}}
COPY --from=builder /usr/local/bin/{binary} /usr/local/bin/{binary}
ENV PORT=8000
EXPOSE 8000
CMD ["/usr/local/bin/{binary}"]
"""

_LAYERED_DOCKERFILE = """\
ARG RUST_IMAGE=rust:1.82
FROM ${{RUST_IMAGE}} AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY model ./model
RUN mkdir src && echo 'fn main() {{}}' > src/main.rs && cargo build --release --offline \\
    && rm -rf src
COPY src ./src
RUN touch src/main.rs && cargo build --release --offline && cargo test --release --offline
FROM ${{RUST_IMAGE}}
COPY --from=builder /src/target/release/{binary} /usr/local/bin/{binary}
ENV PORT=8000
EXPOSE 8000
CMD ["/usr/local/bin/{binary}"]
"""

_README = """\
# {name}

A tiny dependency-free HTTP service generated by build-monitor's sample scenarios.

- `GET /health` answers `{{"status": ..., "revision": N}}`
- `GET /predict?x=21` answers `{{"x": 21, "y": 42}}`

Listens on `$PORT` (default 8000).
"""

_REASON_MATCH = """match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    }"""

_FLAKY_TEST = """
    fn random_per_million() -> u64 {{
        use std::collections::hash_map::RandomState;
        use std::hash::{{BuildHasher, Hasher}};
        let mut hasher = RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        hasher.write_u128(nanos);
        hasher.finish() % 1_000_000
    }}

    #[test]
    fn warm_cache_hits() {{
        const FLAKE_PER_MILLION: u64 = {flake_per_million};
        let roll = random_per_million();
        assert!(roll >= FLAKE_PER_MILLION, "cache miss after warm-up");
    }}
"""

_MAIN_RS = """\
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod revision;

const DEFAULT_PORT: u16 = 8000;
const HEALTH_STATUS: u16 = @HEALTH_STATUS@;

fn parse_port(raw: Option<String>) -> u16 {
    match raw {
        @PORT_ARM@
        None => DEFAULT_PORT,
    }
}

fn predict(input: i64) -> i64 {
    @PREDICTION@
}

fn reason_phrase(status: u16) -> &'static str {
    @REASON@
}

fn query_value(query: &str, key: &str) -> Option<i64> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name == key { value.parse().ok() } else { None }
    })
}

fn route(method: &str, target: &str) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (method, path) {
        ("GET", "/health") => {
            let status = if HEALTH_STATUS == 200 { "ok" } else { "degraded" };
            let body = format!(
                "{{\\"status\\":\\"{}\\",\\"revision\\":{}}}",
                status,
                revision::REVISION
            );
            (HEALTH_STATUS, body)
        }
        ("GET", "/predict") => match query_value(query, "x") {
            Some(x) => (200, format!("{{\\"x\\":{},\\"y\\":{}}}", x, predict(x))),
            None => (400, "{\\"error\\":\\"missing x\\"}".to_string()),
        },
        _ => (404, "{\\"error\\":\\"not found\\"}".to_string()),
    }
}

fn handle(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let (status, body) = route(method, target);
    let response = format!(
        "HTTP/1.1 {} {}\\r\\nContent-Type: application/json\\r\\nContent-Length: {}\\r\\n\\
         Connection: close\\r\\n\\r\\n{}",
        status,
        reason_phrase(status),
        body.len(),
        body
    );
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

fn main() {
    let port = parse_port(std::env::var("PORT").ok());
    let listener = TcpListener::bind(("0.0.0.0", port)).expect("cannot bind the port");
    println!("listening on 0.0.0.0:{} (revision {})", port, revision::REVISION);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(error) = handle(stream) {
                    eprintln!("request failed: {}", error);
                }
            }
            Err(error) => eprintln!("accept failed: {}", error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults_to_8000() {
        assert_eq!(parse_port(None), 8000);
        assert_eq!(parse_port(Some("9001".to_string())), 9001);
    }

    #[test]
    fn predict_doubles_input() {
        assert_eq!(predict(21), 42);
    }

    #[test]
    fn health_reports_revision() {
        let (_, body) = route("GET", "/health");
        assert!(body.contains("revision"));
    }

    #[test]
    fn unknown_path_is_not_found() {
        assert_eq!(route("GET", "/nope").0, 404);
        assert_eq!(reason_phrase(404), "Not Found");
    }
@FLAKY_TEST@}
"""
