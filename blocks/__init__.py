"""Prefect blocks of build-monitor: one module per external system."""
