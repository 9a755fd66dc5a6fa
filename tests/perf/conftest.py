from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The conversation tests' driver (the demo LA, a fixed clock, the real Router and services).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from chatkit import make_chat  # noqa: E402


@pytest.fixture
async def chat(sqlite_url, tmp_path):
    c = await make_chat(sqlite_url, tmp_path)
    yield c
    await c.app.close()
