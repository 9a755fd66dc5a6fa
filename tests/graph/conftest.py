"""Fixtures of the Graph tests; the helpers live in ``graph_stack`` (a unique module name, so ``conftest`` imports
from other test folders cannot shadow them)."""

from __future__ import annotations

import pytest
from graph_stack import make_stack


@pytest.fixture
async def stack(sqlite_url):
    async with make_stack(sqlite_url) as st:
        yield st


@pytest.fixture
async def any_stack(any_db_url):
    async with make_stack(any_db_url) as st:
        yield st
