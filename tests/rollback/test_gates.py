"""The gates and plans as pure functions: each gate alone, and properties over all inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from build_monitor.rollback.gates import GateInput, decide, kill_switch_value_is_on
from build_monitor.rollback.outcome import RollbackReport
from build_monitor.rollback.plan import mainline_parent, revert_branch_name

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def automatic(**changes: object) -> GateInput:
    base = {"automatic": True, "now": NOW, "target_passes": True}
    return GateInput(**{**base, **changes})  # type: ignore[arg-type]


def failed_gates(facts: GateInput) -> list[str]:
    return [v.gate for v in decide(facts).verdicts if not v.passed]


def test_an_automatic_rollback_with_nothing_against_it_is_allowed() -> None:
    decision = decide(automatic(culprit_committed_at=NOW - timedelta(hours=1)))
    assert decision.allowed and decision.refusal is None
    assert [v.gate for v in decision.verdicts] == [
        "kill_switch",
        "no_loop",
        "daily_limit",
        "culprit_age",
        "target_passes",
    ]


def test_the_kill_switch_stops_automatic_rollbacks() -> None:
    assert failed_gates(automatic(kill_switch="file /x exists")) == ["kill_switch"]
    assert "file /x exists" in (decide(automatic(kill_switch="file /x exists")).refusal or "")


def test_the_daily_limit() -> None:
    assert failed_gates(automatic(automatic_today=2, max_auto_per_day=3)) == []
    assert failed_gates(automatic(automatic_today=3, max_auto_per_day=3)) == ["daily_limit"]
    assert failed_gates(automatic(automatic_today=0, max_auto_per_day=0)) == ["daily_limit"]


def test_a_culprit_older_than_the_limit_is_never_rolled_back_past() -> None:
    limit = timedelta(hours=72)
    young = automatic(culprit_committed_at=NOW - timedelta(hours=71), max_culprit_age=limit)
    old = automatic(culprit_committed_at=NOW - timedelta(hours=73), max_culprit_age=limit)
    assert failed_gates(young) == []
    assert failed_gates(old) == ["culprit_age"]
    assert "3.0 d old" in (decide(old).refusal or "")


def test_a_culprit_rolled_back_automatically_once_is_not_again() -> None:
    assert failed_gates(automatic(culprit="c" * 40, already_rolled_back="#4 failed")) == ["no_loop"]


def test_a_target_that_does_not_pass_is_refused_even_manually() -> None:
    manual = GateInput(automatic=False, now=NOW, target_passes=False, target_failure="boom")
    assert failed_gates(manual) == ["target_passes"]
    assert "boom" in (decide(manual).refusal or "")
    unknown = GateInput(automatic=False, now=NOW, target_passes=None)
    assert decide(unknown).allowed


@given(
    kill=st.one_of(st.none(), st.text(min_size=1)),
    used=st.integers(0, 20),
    limit=st.integers(0, 20),
    age_hours=st.floats(0, 10_000),
    passes=st.one_of(st.none(), st.booleans()),
    earlier=st.one_of(st.none(), st.just("#1 succeeded")),
)
def test_manual_rollbacks_only_need_a_passing_target(
    kill: str | None,
    used: int,
    limit: int,
    age_hours: float,
    passes: bool | None,
    earlier: str | None,
) -> None:
    facts = GateInput(
        automatic=False,
        now=NOW,
        kill_switch=kill,
        automatic_today=used,
        max_auto_per_day=limit,
        culprit_committed_at=NOW - timedelta(hours=age_hours),
        target_passes=passes,
        already_rolled_back=earlier,
    )
    assert decide(facts).allowed == (passes is not False)
    auto = decide(GateInput(**{**facts.__dict__, "automatic": True}))
    expected = (
        kill is None
        and earlier is None
        and used < limit
        and age_hours <= 72
        and passes is not False
    )
    assert auto.allowed == expected


def test_kill_switch_variable_values() -> None:
    for on in (True, 1, "true", "YES", " on ", "1", "disabled"):
        assert kill_switch_value_is_on(on), on
    for off in (False, 0, None, "", "false", "no", "0", [], {}):
        assert not kill_switch_value_is_on(off), off


def test_the_mainline_of_a_merge_is_the_parent_on_the_branch() -> None:
    assert mainline_parent(["a"], {"a"}) is None
    assert mainline_parent(["a", "b"], {"a", "x"}) == 1
    assert mainline_parent(["a", "b"], {"b", "x"}) == 2
    assert mainline_parent(["a", "b"], set()) == 1


def test_revert_branch_name() -> None:
    assert (
        revert_branch_name("build-monitor/revert-", "ab" * 20)
        == "build-monitor/revert-abababababab"
    )


def test_the_outcome_json_keys_round_trip() -> None:
    outcome = RollbackReport(
        service="svc",
        action="rollback",
        strategy="redeploy",
        trigger="cli",
        from_commit="a" * 40,
        to_commit="b" * 40,
        status="succeeded",
    )
    document = outcome.to_json()
    assert {
        "service",
        "strategy",
        "from",
        "to",
        "status",
        "dry_run",
        "steps",
        "verification",
    } <= set(document)
    assert document["verification"] == {"status": None, "detail": None}
    assert RollbackReport.from_json(document) == outcome


def test_the_rollback_deployments_have_typed_parameters() -> None:
    from deployments.rollback import rollback_deployments

    deployments = {d.name: d for d in rollback_deployments("/etc/build-monitor/config.toml")}
    assert set(deployments) == {"rollback", "emergency-rollback", "deploy"}
    schema = deployments["rollback"]._parameter_openapi_schema.properties
    assert {"service", "commit", "reason", "strategy", "culprit", "dry_run"} <= set(schema)
    assert schema["strategy"]["anyOf"][0]["enum"] == ["redeploy", "revert", "both"]
    assert deployments["emergency-rollback"].parameters["config_path"] == (
        "/etc/build-monitor/config.toml"
    )
