"""The Prefect UI as build-monitor's dashboard, in a real headless Chromium (Debian's, driven by
Playwright; no browser is downloaded): after a service turns red, is bisected to its culprit,
rolled back and green again, the runs list, the artifacts and the rollback deployment's Run
form tell that story, and a rollback started from the form is recorded with trigger `ui`.
The screenshots it takes are the README's (docs/dashboard-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from sqlmodel import col

from build_monitor.history.db import session_scope
from build_monitor.history.models import Rollback, RollbackStatus
from tests.ui.story import (
    OTHER_SERVICE,
    PROJECT_DIR,
    SERVICE,
    Story,
    create_story,
    git,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = PROJECT_DIR / "docs"
UI_WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "apt-get install chromium (./run setup does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1440, "height": 1000})
    opened.set_default_timeout(UI_WAIT_MS)
    yield opened
    opened.close()


def show(page: Page, url: str, *texts: str) -> str:
    """Open `url` and wait until every one of `texts` shows; the page's text."""
    page.goto(url)
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for()
    return page.inner_text("body")


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)


def latest_artifact_id(api_url: str, key: str) -> str:
    reply = httpx.post(
        f"{api_url}/artifacts/filter",
        json={"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1},
        timeout=10,
    )
    reply.raise_for_status()
    found = reply.json()
    assert found, f"no artifact {key}"
    return str(found[0]["id"])


def deployment_id(api_url: str, name: str) -> str | None:
    reply = httpx.get(f"{api_url}/deployments/name/{name}", timeout=10)
    return str(reply.json()["id"]) if reply.status_code == 200 else None


def author_of(repo: Path, sha: str) -> str:
    return git(repo, "log", "-1", "--format=%an", sha)


def play_the_story(story: Story) -> dict[str, str]:
    """check (last good) -> monitor (red, bisected to the culprit) -> rollback (the culprit
    reverted on the branch, tested first) -> green at once, without another push. The commits
    involved."""
    repo = story.repo
    assert repo.good and repo.culprit
    assert story.cli("check", SERVICE, "--commit", repo.good)["status"] == "passed"
    red = story.cli("monitor", SERVICE)
    assert red["state"] == "failing", red
    assert red["bisection"]["culprit"] == repo.culprit, red["bisection"]
    rolled = story.cli("rollback", SERVICE, repo.good, "tests fail", "--culprit", repo.culprit)
    assert rolled["status"] == "succeeded", rolled
    assert rolled["pushed_ref"] == repo.branch, rolled
    status = story.cli("status")
    assert [s["state"] for s in status["services"] if s["name"] == SERVICE] == ["healthy"]
    return {"good": repo.good, "culprit": repo.culprit, "revert": rolled["revert_commit"]}


# Every table of the page whose content is wider than some box around it (the UI clips it).
CLIPPED_TABLES = """() => Array.from(document.querySelectorAll("table")).flatMap((table) => {
  const clipped = [];
  for (let box = table.parentElement; box && box !== document.body; box = box.parentElement) {
    if (box.scrollWidth > box.clientWidth + 1) clipped.push(table.innerText.slice(0, 40));
  }
  return clipped;
})"""


def artifact_url(ui_url: str, key: str) -> str:
    return f"{ui_url}/artifacts/artifact/{latest_artifact_id(f'{ui_url}/api', key)}"


def test_the_prefect_ui_tells_the_story_and_rolls_back(
    prefect_ui_url: str, page: Page, tmp_path: Path
) -> None:
    api_url = f"{prefect_ui_url}/api"
    story = create_story(tmp_path, api_url)
    system = story.start_system(tmp_path / "start.log")
    try:
        commits = play_the_story(story)
        good, culprit, revert = commits["good"][:7], commits["culprit"][:7], commits["revert"][:7]

        # The runs list: readable names, and the tags that filter one service's story.
        runs = show(
            page,
            f"{prefect_ui_url}/runs",
            f"monitor {SERVICE} @ {culprit}",
            f"bisect {SERVICE} {good}..{culprit}",
            f"rollback {SERVICE} -> {good}",
        )
        for tag in (f"service:{SERVICE}", "build-monitor:bisect", "build-monitor:rollback"):
            assert tag in runs
        screenshot(page, "runs")

        # The fleet dashboard: green again at the revert, right after the rollback; its tables
        # fit the artifact pane at a laptop's width.
        fleet = show(
            page,
            artifact_url(prefect_ui_url, "build-monitor-dashboard"),
            "build-monitor fleet",
            revert,
            "Metrics: last 7 days / last 30 days",
        )
        row = next(line for line in fleet.splitlines() if line.startswith(SERVICE))
        assert "healthy" in row and revert in row
        assert "Kill switch: off" in fleet
        assert page.evaluate(CLIPPED_TABLES) == []
        metrics_row = [line for line in fleet.splitlines() if line.startswith(SERVICE)][1]
        assert "/" in metrics_row  # 7 days / 30 days
        screenshot(page, "fleet")

        # The service's status: green at the revert; the culprit is its last bad commit.
        status = show(
            page,
            artifact_url(prefect_ui_url, f"service-status-{SERVICE}"),
            f"{SERVICE}: 🟢 healthy",
        )
        good_line = next(line for line in status.splitlines() if "Last good commit" in line)
        assert revert in good_line
        bad_line = next(line for line in status.splitlines() if "Last bad commit" in line)
        assert culprit in bad_line and author_of(story.repo.path, commits["culprit"]) in bad_line
        assert page.evaluate(CLIPPED_TABLES) == []
        screenshot(page, "service-status")

        # The rollback's progress artifact lists every step it took.
        progress = show(
            page,
            artifact_url(prefect_ui_url, f"rollback-progress-{SERVICE}"),
            "succeeded: create_revert done, build_revert done, push_revert done, "
            "verify_revert done",
        )
        assert "100" in progress
        screenshot(page, "rollback-progress")

        # The culprit report: its excerpt starts at the failing test, not at cargo's output.
        report = show(
            page,
            artifact_url(prefect_ui_url, f"culprit-{SERVICE}"),
            "assertion `left == right` failed",
        )
        assert f"culprit {commits['culprit'][:10]}" in report
        assert "Compiling sample-svc" not in report
        screenshot(page, "culprit")

        # The rollback deployment's Run form offers the configured services.
        rollback_id = wait_for(
            lambda: deployment_id(api_url, "rollback/rollback"),
            timeout=120,
            what="build-monitor start to serve the rollback deployment",
        )
        show(
            page,
            f"{prefect_ui_url}/deployments/deployment/{rollback_id}/run",
            "The service, one of those configured",
        )

        def field(description: str) -> Locator:
            return page.locator(".schema-form-property").filter(has_text=description).first

        service_choice = field("The service, one of").locator("button.p-select-button__control")
        service_choice.focus()
        service_choice.press("ArrowDown")
        options = page.locator(".p-select-option")
        options.first.wait_for()
        assert options.all_inner_texts() == [SERVICE, OTHER_SERVICE]
        options.filter(has_text=SERVICE).click()
        field("The commit to go back to").locator("textarea").fill(commits["good"])
        field("Why: recorded").locator("textarea").fill("rolled back from the dashboard")
        screenshot(page, "rollback-form")
        page.get_by_role("button", name="Submit").click()

        # The rollback the form started runs in `build-monitor start`, recorded as from the UI.
        def recorded() -> Rollback | None:
            with session_scope(story.database_url) as session:
                return (
                    session.query(Rollback)
                    .filter(
                        col(Rollback.trigger) == "ui",
                        col(Rollback.status) != RollbackStatus.running,
                    )
                    .one_or_none()
                )

        from_ui = wait_for(recorded, timeout=600, what="the rollback started from the UI")
        assert (from_ui.service, from_ui.to_commit) == (SERVICE, commits["good"])
        assert from_ui.reason == "rolled back from the dashboard"
        assert from_ui.status in (RollbackStatus.succeeded, RollbackStatus.noop), from_ui.error
        assert from_ui.flow_run_id
        run_page = show(
            page,
            f"{prefect_ui_url}/runs/flow-run/{from_ui.flow_run_id}",
            f"rollback {SERVICE} -> {good}",
            "Completed",
        )
        assert f"service:{SERVICE}" in run_page
        screenshot(page, "rollback-run")
    finally:
        stop(system)
        if system.returncode not in (0, -15):
            print((tmp_path / "start.log").read_text()[-4000:])
