"""Choosing Prefect settings for nested flow runs: heartbeats off, one settings copy."""

from __future__ import annotations

from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)

from build_monitor.prefect_runtime import without_flow_heartbeat


def test_heartbeat_is_off_inside_and_back_after() -> None:
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        with without_flow_heartbeat():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == 60


def test_a_nested_block_makes_no_second_settings_copy() -> None:
    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}),
        without_flow_heartbeat(),
    ):
        outer = get_current_settings()
        with without_flow_heartbeat():
            assert get_current_settings() is outer
        assert get_current_settings() is outer
