"""Fixtures of the transport tests: a fake Bot Connector on loopback, and the bot's server in front of it."""

from __future__ import annotations

import pytest
from botkit import make_harness


@pytest.fixture
async def harness(sqlite_url, connector):
    h = await make_harness(sqlite_url, connector)
    yield h
    await h.client.close()
    await h.app.close()
