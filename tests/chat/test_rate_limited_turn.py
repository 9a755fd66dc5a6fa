"""A turn refused by the per-user rate limit costs no database work, end to end through the Teams transport.

Literal Teams activities go through the real aiohttp server, CloudAdapter and bot (``tests/bot/botkit.py``) and
SQLite reports every statement it runs (``tests/driver_trace.py``). The rate limit is the
router's first guard and needs only the ids in the activity: identify (a directory read) and the transport's
claim of the activity (a write) come after it, so a flood is answered without touching the database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bot"))

from botkit import make_harness
from driver_trace import DriverTrace
from fakes.connector import invoke, member, message
from sqlalchemy import text  # noqa: E402

RATE_LIMITED_TURN = (
    0  # statements a turn refused by the rate limit may run (7 when the transport identified and
)
# claimed before the router: BEGIN, 2 SELECTs of the directory, ROLLBACK, BEGIN IMMEDIATE, the claim's INSERT, COMMIT)


@pytest.fixture
async def harness(sqlite_url, connector):
    h = await make_harness(
        sqlite_url, connector, chat_burst_turns=2, chat_burst_seconds=600, chat_sustained_turns=0
    )
    yield h
    await h.client.close()
    await h.app.close()


async def _known_user(h, user_id="29:user-1", aad="aad-1"):
    async with h.app.db.engine.connect() as conn:
        email, name = (
            await conn.execute(
                text("SELECT email, name FROM school_contact WHERE id = :id"),
                {"id": h.world.contacts["low_primary.lead"]},
            )
        ).one()
    h.connector.members[user_id] = member(user_id, email, aad, name)


async def _count(h, trace: DriverTrace, activity: dict):
    async def post():
        r = await h.post(activity)
        assert r.status == 200
        return r

    return await trace.count(post)


@pytest.mark.parametrize("kind", ["message", "invoke"])
async def test_a_rate_limited_turn_runs_no_sql_statement(harness, kind):
    h = harness
    await _known_user(h)
    trace = await DriverTrace().install(h.app.db)
    turn = (
        (lambda: message(h.connector, "ping"))
        if kind == "message"
        else (lambda: invoke(h.connector, "test.card", {"n": 1}))
    )
    for _ in range(2):  # within the limit: identified, claimed and handled (and the pool's connection made)
        assert (await h.post(turn())).status == 200
    await h.runtime.store.flush()  # the claims' group commit is done: nothing of theirs lands in the count
    handled = dict(h.counter.calls)

    r, stmts = await _count(h, trace, turn())
    await h.runtime.store.flush()
    assert len(stmts) <= RATE_LIMITED_TURN, stmts
    assert h.counter.calls == handled  # nothing handled
    if kind == "message":
        assert "faster than I can take them" in h.connector.texts()[-1]
    else:
        body = await r.json()
        assert "faster than I can take them" in body["value"]["body"][0]["text"]

    # The count sees what a handled turn does: someone else, within their limit, is identified and claimed.
    _, stmts2 = await _count(
        h, trace, message(h.connector, "ping", user_id="29:user-2", aad="aad-2", conv="a:conv-2")
    )
    await h.runtime.store.flush()
    assert stmts2, "a handled turn reads the directory and claims its activity"
