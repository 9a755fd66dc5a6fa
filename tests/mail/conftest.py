"""Fixtures of the email tests; the helpers live in ``mailkit`` (a unique module name)."""

from __future__ import annotations

import pytest
from mailkit import mail_world


@pytest.fixture
async def mw(sqlite_url, tmp_path):
    world = await mail_world(sqlite_url, tmp_path)
    yield world
    await world.app.close()
