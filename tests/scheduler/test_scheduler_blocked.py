"""People who blocked the bot (or uninstalled it) and came back: Teams answered 403, the scheduler recorded the
messages ``undeliverable``/``blocked``; once they write to the bot again or reinstall it (which clears
``bot_conversation.blocked_at``), what they missed and is still useful is sent, exactly once across workers, by
the same re-arming as for people who install late (``Jobs.late_installs`` / ``Ledger.rearm``). While they stay
blocked nothing is attempted."""

from __future__ import annotations

import asyncio
from datetime import UTC

from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env
from sqlmodel import select

from bot.store import BotStore, RefInfo
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.adapters.db.teams import BotConversation
from tsm.clock import FixedClock
from tsm.messaging import Recipient
from tsm.services.actors import Actor


async def writes_to_the_bot(store: BotStore, recipient: Recipient, *, installed: bool = True) -> None:
    """A message (or an install) from the person: the conversation reference is stored and blocked_at cleared."""
    ref = RefInfo(
        f"a:{recipient.kind}{recipient.id}",
        "personal",
        "tenant-1",
        f"aad-{recipient.id}",
        f"29:{recipient.id}",
        "https://smba.example/",
        "msteams",
        "28:bot",
        {"conversation": "x"},
    )
    store._refs.clear()  # a fresh process: no "already stored" shortcut
    await store.record_turn(
        ref, activity_id=None, actor=Actor(recipient.kind, recipient.id), installed=installed
    )


def env_for(db: Database, clock: FixedClock, world, worker: str = "w1") -> Env:
    store = BotStore(db, clock=clock)
    e = Env(db, clock, ScriptedMessenger(teams=store), worker)
    e.world, e.store = world, store
    return e


async def blocked_at(db: Database, recipient: Recipient):
    async with db.reader() as s:
        return (
            await s.exec(select(BotConversation.blocked_at).where(BotConversation.contact_id == recipient.id))
        ).one()


async def outbound(db: Database, recipient: Recipient) -> list[tuple[str, str, str]]:
    async with db.reader() as s:
        return sorted(
            (r.kind, r.status, r.last_error)
            for r in await s.exec(
                select(Outbound).where(
                    Outbound.recipient_kind == recipient.kind, Outbound.recipient_id == recipient.id
                )
            )
        )


async def _blocked_head(db: Database):
    """The lead books a TSM on Tuesday 3 February; the head had blocked the bot and misses the confirmation and
    the 7-day reminder."""
    clock = FixedClock(local(2026, 1, 5, 8))
    world = await make_world(db)
    env = env_for(db, clock, world)
    head = Recipient("contact", world.contacts["low_primary.head"])
    lead = Recipient("contact", world.contacts["low_primary.lead"])
    await writes_to_the_bot(env.store, head)
    await writes_to_the_bot(env.store, lead)
    env.messenger.blocked_in_teams.add(head)
    await env.booking.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10)
    )
    first = await env.jobs.events()
    # the booking's messages: the head's confirmation meets a 403; the officer has no app yet (the lead booked it
    # and saw it in the chat: nothing for them)
    assert (first.claimed, first.skipped, first.undeliverable) == (2, 0, 2)
    assert await blocked_at(db, head) is not None
    clock.now = local(2026, 1, 27, 10, 1).astimezone(UTC)
    week = await env.jobs.reminders()
    assert (week.sent, week.undeliverable) == (1, 1) and env.messenger.headlines(lead) == ["TSM in a week"]
    assert env.messenger.teams_calls == 2  # the 403, then the lead's: a recorded block is not tried again
    assert await outbound(db, head) == [
        ("ev.confirm", "undeliverable", "blocked"),
        ("remind_7d", "undeliverable", "blocked"),
    ]
    return env, clock, world, head, lead


async def test_blocked_and_not_back_nothing_is_sent(any_db_url):
    db = Database(any_db_url)
    try:
        env, clock, _world, head, _lead = await _blocked_head(db)
        for day in (28, 30, 31):
            clock.now = local(2026, 1, day, 9).astimezone(UTC)
            res = await env.jobs.late_installs()
            assert res.claimed == 0
        assert env.messenger.headlines(head) == [] and env.messenger.teams_calls == 2
        assert await outbound(db, head) == [
            ("ev.confirm", "undeliverable", "blocked"),
            ("remind_7d", "undeliverable", "blocked"),
        ]
    finally:
        await db.dispose()


async def test_back_after_blocking_missed_messages_go_once_across_workers(any_db_url):
    db = Database(any_db_url)
    try:
        env, clock, world, head, lead = await _blocked_head(db)
        clock.now = local(2026, 2, 1, 9).astimezone(UTC)  # the head unblocks the bot and says hello
        env.messenger.blocked_in_teams.discard(head)
        await writes_to_the_bot(env.store, head)
        assert await blocked_at(db, head) is None
        workers = [env] + [env_for(db, clock, world, f"w{i}") for i in range(2, 5)]
        results = await asyncio.gather(*(w.jobs.late_installs() for w in workers))
        assert sum(r.sent for r in results) == 1 and sum(r.claimed for r in results) == 1, results
        # the checklist reminder, once, saying the real lead time; the confirmation, four weeks old, is past the
        # 14 days a missed message is kept for (LATE_INSTALL_WINDOW): the reminder carries the same facts
        assert [t for w in workers for t in w.messenger.headlines(head)] == ["TSM in 2 days"]
        assert await outbound(db, head) == [
            ("ev.confirm", "undeliverable", "blocked"),
            ("remind_7d", "sent", ""),
        ]
        again = await asyncio.gather(*(w.jobs.late_installs() for w in workers))
        assert sum(r.claimed for r in again) == 0
        assert sum(len(w.messenger.sent) for w in workers) == 2  # + the lead's on-time reminder
        assert env.messenger.headlines(lead) == ["TSM in a week"]
    finally:
        await db.dispose()


async def test_uninstalled_then_reinstalled_gets_the_confirmation_then_reminders_on_time(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        world = await make_world(db)
        env = env_for(db, clock, world)
        head = Recipient("contact", world.contacts["low_primary.head"])
        await writes_to_the_bot(env.store, head)
        env.messenger.blocked_in_teams.add(head)  # uninstalled in Teams: the first send meets a 403
        await env.booking.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10)
        )
        assert (await env.jobs.events()).undeliverable == 2  # the head (403) and the officer (no app)
        await env.store.set_installed(f"a:contact{head.id}", False)  # the uninstall event arrives
        clock.now = local(2026, 1, 8, 9).astimezone(UTC)
        assert (await env.jobs.late_installs()).claimed == 0  # not back: nothing
        clock.now = local(2026, 1, 10, 9).astimezone(UTC)  # reinstalls
        env.messenger.blocked_in_teams.discard(head)
        await writes_to_the_bot(env.store, head, installed=True)
        res = await env.jobs.late_installs()
        assert (res.claimed, res.sent) == (1, 1)
        assert env.messenger.headlines(head) == ["TSM booked"]
        assert (await env_for(db, clock, world, "w2").jobs.late_installs()).claimed == 0
        clock.now = local(2026, 1, 27, 10, 1).astimezone(UTC)
        assert (await env.jobs.reminders()).by_kind == {"remind_7d": 1}
        assert env.messenger.headlines(head) == ["TSM booked", "TSM in a week"]
        assert await outbound(db, head) == [("ev.confirm", "sent", ""), ("remind_7d", "sent", "")]
    finally:
        await db.dispose()


async def test_still_blocked_after_coming_back_is_bounded(any_db_url):
    """Teams still answers 403 after the person wrote (e.g. blocked again at once): each retry re-records the block,
    so the next sweep has nothing to re-arm, and rows re-armed max_attempts times are left alone."""
    db = Database(any_db_url)
    try:
        env, clock, _world, head, _lead = await _blocked_head(db)
        clock.now = local(2026, 1, 28, 9).astimezone(UTC)
        for _ in range(8):
            await writes_to_the_bot(env.store, head)  # writes again, but Teams still refuses
            await env.jobs.late_installs()
        # two rows, each sent at most max_attempts times in all (the first send included)
        assert env.messenger.teams_calls - 2 <= 2 * (env.jobs.settings.max_attempts - 1)
        assert env.messenger.headlines(head) == []
        assert [s for _k, s, _e in await outbound(db, head)] == ["undeliverable", "undeliverable"]
    finally:
        await db.dispose()
