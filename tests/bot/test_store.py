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


async def test_one_greeting_claim_wins_across_instances_and_a_reinstall_claims_none(any_db_url):
    """Issue 14 item 7a: the greeting is claimed once per conversation, whichever instance asks first; uninstalling
    and reinstalling leaves it claimed."""
    dbs = [Database(any_db_url) for _ in range(3)]
    try:
        stores = [BotStore(db) for db in dbs]
        assert await stores[0].record_turn(_ref("a:g1"), activity_id="f:1", actor=None)
        won = await asyncio.gather(*(stores[i % 3].claim_greeting("a:g1") for i in range(9)))
        assert sorted(won) == [False] * 8 + [True]
        await stores[1].set_installed("a:g1", False)
        await stores[2].record_turn(_ref("a:g1"), activity_id="f:2", actor=None)  # installed again
        assert not await stores[2].claim_greeting("a:g1")
        await stores[0].unclaim_greeting("a:g1")  # the greeting could not be sent: the next install may greet
        assert await stores[1].claim_greeting("a:g1")
        assert not await stores[0].claim_greeting("a:nobody")  # no conversation stored: nothing to greet
    finally:
        for db in dbs:
            await db.dispose()


async def test_conversations_stored_before_migration_0017_count_as_greeted(any_db_url):
    """They were greeted at install (the bot greeted every personal install): a reinstall says nothing."""
    import sqlalchemy as sa

    from tsm.adapters.db.engine import driver_urls
    from tsm.adapters.db.migrate import downgrade, upgrade

    downgrade(any_db_url, "0016")
    engine = sa.create_engine(driver_urls(any_db_url)[0])
    with engine.begin() as conn:
        for conv, kind in (("a:old", "personal"), ("19:group", "groupChat")):
            conn.execute(
                sa.text(
                    "INSERT INTO bot_conversation (conversation_id, conversation_type, tenant_id, user_id, "
                    "service_url, channel_id, bot_id, reference, installed, last_error, updated_at) VALUES "
                    "(:c, :k, 't1', '29:u1', 'https://smba.example/', 'msteams', '28:bot', '{}', true, '', "
                    "'2026-11-30 10:00:00')"
                ),
                {"c": conv, "k": kind},
            )
    engine.dispose()
    upgrade(any_db_url)
    db = Database(any_db_url)
    try:
        store = BotStore(db)
        assert not await store.claim_greeting("a:old")
        assert await store.claim_greeting("19:group")  # never greeted (no greeting in group chats)
    finally:
        await db.dispose()
    downgrade(any_db_url, "0016")
    engine = sa.create_engine(driver_urls(any_db_url)[0])
    try:
        assert "greeted_at" not in {c["name"] for c in sa.inspect(engine).get_columns("bot_conversation")}
    finally:
        engine.dispose()
