"""build-monitor: build-failure detection, commit isolation and rollback for Rust services."""

from __future__ import annotations

__version__ = "0.1.0"
