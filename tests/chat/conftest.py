from __future__ import annotations

import pytest
from chatkit import make_chat


@pytest.fixture
async def chat(sqlite_url, tmp_path):
    c = await make_chat(sqlite_url, tmp_path)
    yield c
    await c.app.close()


@pytest.fixture
async def chat_any_db(any_db_url, tmp_path):
    """The demo chat on SQLite and on PostgreSQL."""
    c = await make_chat(any_db_url, tmp_path)
    yield c
    await c.app.close()
