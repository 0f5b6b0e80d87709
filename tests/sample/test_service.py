from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from build_monitor.builders.health import free_port
from build_monitor.builders.signatures import (
    FailureAnalysis,
    analyze_build_output,
    same_failure,
)
from build_monitor.errors import InvalidInputError
from build_monitor.sample.service import (
    AUTHORS,
    SampleRepo,
    add_commit,
    create_sample_service,
)
from tests.repo_fixtures import SampleRepoFactory, build_sample_image

CARGO_TIMEOUT_SECONDS = 180


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def cargo(repo: SampleRepo, sha: str, command: str) -> tuple[int, str]:
    """Run `cargo <command>` at `sha`; each repository keeps its own target dir.

    A target dir shared between repositories with the same package name gives stale results:
    cargo's fingerprints do not include the package path.
    """
    git(repo.path, "checkout", "--quiet", sha)
    env = {
        **os.environ,
        "CARGO_TARGET_DIR": str(repo.path.parent / f"target-{repo.path.name}"),
        "CARGO_TERM_COLOR": "never",
    }
    completed = subprocess.run(
        ["cargo", command, "--release", "--offline"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=CARGO_TIMEOUT_SECONDS,
        check=False,
    )
    return completed.returncode, completed.stderr + completed.stdout


def check(repo: SampleRepo, sha: str) -> FailureAnalysis:
    """`cargo build && cargo test` at `sha`, analysed."""
    code, output = cargo(repo, sha, "build")
    if code != 0:
        return analyze_build_output(output, exit_code=code, assumed_stage="build")
    code, output = cargo(repo, sha, "test")
    return analyze_build_output(output, exit_code=code, assumed_stage="test")


def wait_for_health(url: str, *, timeout_seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_seconds
    for _ in range(int(timeout_seconds / 0.1) + 1):
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_seconds}s")


def health_status_at(repo: SampleRepo, sha: str) -> tuple[int, str]:
    code, output = cargo(repo, sha, "build")
    assert code == 0, output
    binary = repo.path.parent / f"target-{repo.path.name}" / "release" / repo.binary
    port = free_port()
    with subprocess.Popen(
        [str(binary)],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            response = wait_for_health(f"http://127.0.0.1:{port}/health")
            predict = httpx.get(f"http://127.0.0.1:{port}/predict?x=21", timeout=2)
            assert predict.json() == {"x": 21, "y": 42}
            return response.status_code, response.text
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_good_scenario_builds_tests_and_answers_health(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("good", good_commits=3)

    assert len(repo.commits) == 3
    assert repo.good == repo.commits[-1]
    assert repo.culprit is None
    assert repo.expected_signature is None
    analysis = check(repo, repo.commits[-1])
    assert (analysis.stage, analysis.signature) == (None, None)
    status, body = health_status_at(repo, repo.commits[-1])
    assert status == 200
    assert '"revision":3' in body


def test_build_leaves_the_worktree_clean(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("good")

    check(repo, repo.commits[-1])

    assert git(repo.path, "status", "--porcelain") == ""
    assert (repo.path / "Cargo.lock").is_file()


def test_compile_error_breaks_the_build_from_the_culprit_on(
    sample_repo: SampleRepoFactory,
) -> None:
    repo = sample_repo("compile_error", good_commits=2, commits_after_break=2)

    assert repo.culprit == repo.commits[2]
    assert repo.good == repo.commits[1]
    assert check(repo, repo.good).signature is None
    for sha in repo.commits[2:]:
        analysis = check(repo, sha)
        assert analysis.stage == "build"
        assert (
            analysis.signature
            == repo.expected_signature
            == ("error[E0308]: mismatched types (src/main.rs)")
        )


def test_test_failure_fails_only_the_tests(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("test_failure")
    assert repo.culprit is not None and repo.good is not None

    assert check(repo, repo.good).signature is None
    analysis = check(repo, repo.culprit)
    assert analysis.stage == "test"
    assert (
        analysis.signature == repo.expected_signature == "test failed: tests::predict_doubles_input"
    )


def test_health_failure_passes_build_and_tests_but_health_is_500(
    sample_repo: SampleRepoFactory,
) -> None:
    repo = sample_repo("health_failure")
    assert repo.culprit is not None and repo.good is not None

    assert check(repo, repo.culprit).signature is None
    assert health_status_at(repo, repo.culprit)[0] == 500
    assert health_status_at(repo, repo.good)[0] == 200
    assert repo.expected_signature == "health: GET /health returned 500, expected 200"


def test_untestable_window_has_an_unrelated_compile_error_before_the_culprit(
    sample_repo: SampleRepoFactory,
) -> None:
    repo = sample_repo("untestable_window", good_commits=3, untestable_span=2)
    assert repo.culprit is not None and repo.good is not None
    culprit_index = repo.commits.index(repo.culprit)

    assert repo.untestable == repo.commits[3:5]
    assert repo.good == repo.commits[2]
    assert check(repo, repo.good).signature is None
    for sha in repo.untestable:
        analysis = check(repo, sha)
        assert analysis.stage == "build"
        assert analysis.signature == repo.untestable_signature
        assert not same_failure(analysis.signature, repo.expected_signature)
    assert check(repo, repo.commits[culprit_index - 1]).signature is None
    culprit = check(repo, repo.culprit)
    assert (
        culprit.signature == repo.expected_signature == "test failed: tests::predict_doubles_input"
    )


def test_naive_git_bisect_blames_the_window_not_the_culprit(
    sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("untestable_window")
    assert repo.good is not None
    env = {**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "bisect-target")}
    git(repo.path, "bisect", "start", repo.commits[-1], repo.good)

    completed = subprocess.run(
        [
            "git",
            "bisect",
            "run",
            "sh",
            "-c",
            "cargo build --release --offline -q && cargo test --release --offline -q",
        ],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert f"{repo.untestable[0]} is the first bad commit" in completed.stdout
    assert repo.culprit != repo.untestable[0]


def test_flaky_break_fails_randomly_before_and_always_from_the_culprit(
    sample_repo: SampleRepoFactory,
) -> None:
    repo = sample_repo("flaky_break", flake_rate=0.5)
    assert repo.culprit is not None and repo.good is not None

    signatures_before = {check(repo, repo.good).signature}
    for _ in range(40):
        code, output = cargo(repo, repo.good, "test")
        signatures_before.add(analyze_build_output(output, exit_code=code).signature)
        if len(signatures_before) == 2:
            break
    after = {check(repo, repo.culprit).signature for _ in range(3)}

    assert signatures_before == {None, repo.expected_signature}
    assert after == {repo.expected_signature} == {"test failed: tests::warm_cache_hits"}


def test_zero_flake_rate_never_fails_the_good_commits(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("flaky_break", flake_rate=0.0)
    assert repo.good is not None

    assert {check(repo, repo.good).signature for _ in range(3)} == {None}


def test_long_history_is_created_quickly(sample_repo: SampleRepoFactory) -> None:
    started = time.monotonic()
    repo = sample_repo("compile_error", good_commits=512, commits_after_break=10)
    elapsed = time.monotonic() - started

    assert elapsed < 15
    assert len(repo.commits) == 523
    assert git(repo.path, "rev-list", "--count", "HEAD").strip() == "523"
    assert git(repo.path, "rev-parse", "HEAD").strip() == repo.commits[-1]
    assert repo.culprit == repo.commits[512]


def test_histories_are_reproducible_and_authors_vary(tmp_path: Path) -> None:
    first = create_sample_service(tmp_path / "one", scenario="test_failure")
    second = create_sample_service(tmp_path / "two", scenario="test_failure")

    assert first.commits == second.commits
    authors = set(git(first.path, "log", "--format=%an <%ae>").splitlines())
    assert len(authors) == len(AUTHORS)
    assert git(first.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_generated_repository_contains_the_service_files(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("good", name="svc_two")

    tracked = set(git(repo.path, "ls-files").split())
    dockerfile = (repo.path / "Dockerfile").read_text()

    assert {"Cargo.toml", "Cargo.lock", ".gitignore", ".dockerignore", "Dockerfile"} <= tracked
    assert "src/main.rs" in tracked
    assert "COPY --from=builder /src/target/release/svc_two /usr/local/bin/svc_two" in dockerfile
    assert repo.binary == "svc_two"


def test_add_commit_appends_a_reproducible_commit(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("compile_error")
    main_rs = (repo.path / "src/main.rs").read_text()
    fixed = main_rs.replace(
        "Some(text) => text.trim(),", "Some(text) => text.trim().parse().unwrap_or(DEFAULT_PORT),"
    )

    sha = add_commit(repo.path, "Fix the port parsing", {"src/main.rs": fixed}, AUTHORS[2])

    assert git(repo.path, "rev-parse", "HEAD").strip() == sha
    assert git(repo.path, "log", "-1", "--format=%an|%s", sha).strip() == (
        "Linus Pauling|Fix the port parsing"
    )
    head_time = int(git(repo.path, "log", "-1", "--format=%ct", sha))
    parent_time = int(git(repo.path, "log", "-1", "--format=%ct", repo.commits[-1]))
    assert head_time == parent_time + 600
    assert check(repo, sha).signature is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scenario": "explode"}, "unknown scenario"),
        ({"name": "Bad Name"}, "service name"),
        ({"good_commits": 0}, "good_commits"),
        ({"flake_rate": 1.5}, "flake_rate"),
        ({"untestable_span": 0}, "untestable_span"),
    ],
)
def test_bad_arguments_are_rejected_clearly(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        create_sample_service(tmp_path / "repo", **options)  # type: ignore[arg-type]


def test_existing_non_empty_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "keep.txt").write_text("mine")

    with pytest.raises(InvalidInputError, match="not an empty directory"):
        create_sample_service(tmp_path / "repo")


def test_add_commit_rejects_paths_outside_the_repository(sample_repo: SampleRepoFactory) -> None:
    repo = sample_repo("good")

    with pytest.raises(InvalidInputError, match="not inside"):
        add_commit(repo.path, "escape", {"../outside.txt": "x"})


@pytest.fixture
def running_containers(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    container_ids: list[str] = []
    yield container_ids
    for container_id in container_ids:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(container_id).remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_docker_image_of_a_good_repo_answers_health(
    docker_client: docker.DockerClient,
    rust_image: str,
    sample_repo: SampleRepoFactory,
    running_containers: list[str],
) -> None:
    repo = sample_repo("good")

    with build_sample_image(docker_client, repo.path, rust_image=rust_image) as (image, log):
        assert image is not None, log
        own_tags = [tag for tag in image.tags if tag.startswith("bm-test/sample:")]
        container = docker_client.containers.run(
            image.id, detach=True, ports={"8000/tcp": ("127.0.0.1", None)}
        )
        running_containers.append(container.id)
        container.reload()
        host_port = container.ports["8000/tcp"][0]["HostPort"]
        response = wait_for_health(f"http://127.0.0.1:{host_port}/health")
        container.remove(force=True)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "revision": 3}
    assert len(own_tags) == 1
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(own_tags[0])


@pytest.mark.docker
def test_docker_build_of_a_compile_error_gives_the_expected_signature(
    docker_client: docker.DockerClient, rust_image: str, sample_repo: SampleRepoFactory
) -> None:
    repo = sample_repo("compile_error")

    with build_sample_image(docker_client, repo.path, rust_image=rust_image) as (image, log):
        analysis = analyze_build_output(log)

    assert image is None
    assert "returned a non-zero code: 101" in log
    assert analysis.stage == "build"
    assert analysis.signature == repo.expected_signature
