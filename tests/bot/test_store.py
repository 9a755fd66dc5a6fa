"""The claim and the conversation upsert are atomic on SQLite and PostgreSQL, across engines (processes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.store import BotStore, RefInfo
from tsm.adapters.db.engine import Database
from tsm.adapters.db.teams import BotConversation, BotProcessedActivity


def _ref(conv="a:c1", user="29:u1") -> RefInfo:
    return RefInfo(
        conversation_id=conv,
        conversation_type="personal",
        tenant_id="t1",
        aad_object_id="aad-1",
        user_id=user,
        service_url="https://smba.example/",
        channel_id="msteams",
        bot_id="28:bot",
        reference={"conversation": {"id": conv}, "serviceUrl": "https://smba.example/"},
    )


async def test_one_claim_wins_across_instances(any_db_url):
    dbs = [Database(any_db_url) for _ in range(4)]  # four "bot instances" on one database
    try:
        stores = [BotStore(db) for db in dbs]
        results = await asyncio.gather(
            *(stores[i % 4].record_turn(_ref(), activity_id="f:1", actor=None) for i in range(24))
        )
        assert sorted(results) == [False] * 23 + [True]
        # Different activities in one brand-new conversation: all claimed, one conversation row.
        results = await asyncio.gather(
            *(stores[i % 4].record_turn(_ref("a:c2"), activity_id=f"f:{i}", actor=None) for i in range(12))
        )
        assert all(results)
        async with dbs[0].reader() as s:
            convs = list(await s.exec(select(BotConversation)))
            claims = list(await s.exec(select(BotProcessedActivity)))
        assert sorted(c.conversation_id for c in convs) == ["a:c1", "a:c2"]
        assert len(claims) == 13
    finally:
        for db in dbs:
            await db.dispose()


async def test_release_and_stored_response_and_purge(any_db_url):
    db = Database(any_db_url)
    now = [datetime(2026, 11, 25, 10, tzinfo=UTC)]
    store = BotStore(db, clock=lambda: now[0])
    try:
        assert await store.record_turn(_ref(), activity_id="f:1", actor=None)
        await store.release("a:c1", "f:1")  # the turn failed: a redelivery may try again
        assert await store.record_turn(_ref(), activity_id="f:1", actor=None)
        await store.save_response("a:c1", "f:1", {"statusCode": 200, "value": {"n": 1}})
        assert await store.stored_response("a:c1", "f:1", wait=0) == {"statusCode": 200, "value": {"n": 1}}
        assert await store.stored_response("a:c1", "f:unknown", wait=0) is None
        now[0] += timedelta(days=4)
        assert await store.purge_processed() == 1
        assert await store.record_turn(_ref(), activity_id="f:1", actor=None)  # long forgotten: new again
    finally:
        await db.dispose()
