"""Thin Prefect tasks around build_monitor's plain functions."""
