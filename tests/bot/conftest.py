"""Fixtures of the transport tests: a fake Bot Connector on loopback, and the bot's server in front of it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from botkit import make_harness
from fakes.connector import FakeConnector


@pytest.fixture
async def connector():
    fake = FakeConnector()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/") + "/"
    yield fake
    await server.close()


@pytest.fixture
async def harness(sqlite_url, connector):
    h = await make_harness(sqlite_url, connector)
    yield h
    await h.client.close()
    await h.app.close()
