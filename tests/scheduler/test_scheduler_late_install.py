"""Messages to people who install the app later: recorded undeliverable (no bot conversation) at first, sent once
they have a conversation while still useful, exactly once across workers, never for a cancelled meeting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env
from sqlmodel import select

from scheduler.jobs import useful_until
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.adapters.db.teams import BotConversation
from tsm.clock import FixedClock
from tsm.messaging import Recipient


async def install(db: Database, recipient: Recipient, now: datetime) -> None:
    async with db.transaction() as s:
        s.add(
            BotConversation(
                conversation_id=f"a:{recipient.kind}{recipient.id}",
                service_url="https://smba.example/",
                reference={},
                updated_at=now,
                contact_id=recipient.id if recipient.kind == "contact" else None,
                officer_id=recipient.id if recipient.kind == "officer" else None,
            )
        )


def env_for(db: Database, clock: FixedClock, world, worker: str = "w1") -> Env:
    e = Env(db, clock, ScriptedMessenger(installs=db), worker)
    e.world = world
    return e


@pytest.fixture
async def env(db):
    clock = FixedClock(local(2026, 1, 5, 8))
    return env_for(db, clock, await make_world(db))


async def statuses(db: Database, kind: str) -> list[tuple[str, str]]:
    async with db.reader() as s:
        return [(r.status, r.last_error) for r in await s.exec(select(Outbound).where(Outbound.kind == kind))]


async def test_a_contact_who_installs_later_gets_the_confirmation_then_the_reminders_once(env):
    w = env.world
    head = Recipient("contact", w.contacts["low_primary.head"])
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    first = await env.jobs.events()
    # the booking's messages: the head's confirmation and the officer's "booked" (the lead booked it and saw it in
    # the chat); neither the head nor the officer has installed the app
    assert (first.claimed, first.skipped, first.undeliverable, first.sent) == (2, 0, 2, 0)
    assert await statuses(env.db, "ev.confirm") == [("undeliverable", "no_conversation")]
    assert (
        await env.jobs.late_installs()
    ).claimed == 0  # still no conversation: nothing re-armed, nothing sent
    assert env.messenger.attempts == 2

    env.clock.now = local(2026, 1, 10, 9).astimezone(UTC)
    await install(env.db, head, env.clock.now)
    late = await env.jobs.late_installs()
    assert (late.claimed, late.sent) == (1, 1)
    assert env.messenger.to(head) == ["TSM booked: Low Primary School, Tuesday 3 February 10:00–11:00"]
    assert await statuses(env.db, "ev.confirm") == [("sent", "")]
    # once: again, after a restart, and neither the event sweep nor the reminder sweep offers it again
    assert (await env.jobs.late_installs()).claimed == 0
    assert (await env.restart("w2").jobs.late_installs()).claimed == 0
    assert (await env.jobs.events()).claimed == 0 and (await env.jobs.reminders()).claimed == 0
    assert len(env.messenger.to(head)) == 1

    env.clock.now = local(2026, 1, 27, 10, 1).astimezone(UTC)  # a week before: the head now gets it on time
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 1}
    assert [t.split(":")[0] for t in env.messenger.to(head)] == ["TSM booked", "TSM in a week"]


async def test_nothing_is_sent_late_once_it_is_no_use_or_the_meeting_is_cancelled(env):
    w = env.world
    lead_actor = w.contact("low_primary.lead")
    head = Recipient("contact", w.contacts["low_primary.head"])
    lead = Recipient("contact", w.contacts["low_primary.lead"])
    r = await env.booking.book(lead_actor, w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.jobs.events()  # confirm to the head: undeliverable
    env.clock.now = local(2026, 1, 27, 10, 1).astimezone(UTC)
    res = await env.jobs.reminders()  # the week's reminder to both: neither has installed
    assert (res.claimed, res.undeliverable) == (2, 2)

    # the lead installs two days before: the checklist reminder is still useful, nothing else is pending for them
    env.clock.now = local(2026, 2, 1, 9).astimezone(UTC)
    await install(env.db, lead, env.clock.now)
    assert (await env.jobs.late_installs()).sent == 1
    assert [t.split(":")[0] for t in env.messenger.to(lead)] == ["TSM in 2 days"]  # the real lead time

    # the head installs after the meeting has started: the confirmation and the checklist are no use any more
    env.clock.now = local(2026, 2, 3, 10, 5).astimezone(UTC)
    await install(env.db, head, env.clock.now)
    assert (await env.jobs.late_installs()).claimed == 0
    assert env.messenger.to(head) == []
    assert r.meeting.id


async def test_a_meeting_cancelled_before_the_person_installs_sends_nothing_late(env):
    w = env.world
    other = await env.booking.book(
        w.contact("high_primary.lead"), w.schools["high_primary"], local(2026, 2, 10, 10)
    )
    await env.jobs.events()
    await env.booking.cancel(w.contact("high_primary.lead"), other.meeting.id, "Ofsted visit that week")
    hp_head = Recipient("contact", w.contacts["high_primary.head"])
    await install(env.db, hp_head, env.clock.now)
    res = await env.jobs.late_installs()
    assert (res.claimed, res.sent, res.skipped) == (1, 0, 1)
    assert env.messenger.to(hp_head) == []
    assert await statuses(env.db, "ev.confirm") == [("skipped", "")]


async def test_late_sends_are_bounded_when_the_conversation_still_cannot_be_used(env):
    w = env.world
    head = Recipient("contact", w.contacts["low_primary.head"])
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.jobs.events()  # the head's confirmation and the officer's message: neither has the app
    await install(env.db, head, env.clock.now)
    env.messenger.always_missing = True  # the table says installed, Teams says otherwise
    for _ in range(10):
        await env.jobs.late_installs()
    # the head's first send and 4 late tries, then no more; + the officer's one send (never installed)
    assert env.messenger.attempts == env.jobs.settings.max_attempts + 1
    assert await statuses(env.db, "ev.confirm") == [("undeliverable", "no_conversation")]


async def test_two_workers_send_a_late_message_exactly_once(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        world = await make_world(db)
        workers = [env_for(db, clock, world, f"w{i}") for i in range(4)]
        for day, school in enumerate(("low_primary", "high_primary", "secondary")):
            await workers[0].booking.book(
                world.contact(f"{school}.lead"), world.schools[school], local(2026, 2, 3 + day, 10)
            )
        first = await workers[0].jobs.events()
        assert first.undeliverable == 6  # each head's confirmation, and the officer told of each booking
        for school in ("low_primary", "high_primary", "secondary"):
            await install(db, Recipient("contact", world.contacts[f"{school}.head"]), clock.now)
        results = await asyncio.gather(*(e.jobs.late_installs() for e in workers))
        assert sum(r.sent for r in results) == 3
        assert sum(len(e.messenger.sent) for e in workers) == 3
        assert sorted(r.id for e in workers for r, _ in e.messenger.sent) == sorted(
            world.contacts[f"{s}.head"] for s in ("low_primary", "high_primary", "secondary")
        )
        again = await asyncio.gather(*(e.jobs.late_installs() for e in workers))
        assert sum(r.claimed for r in again) == 0
    finally:
        await db.dispose()


def test_useful_life_of_each_kind():
    start = datetime(2026, 2, 3, 10, tzinfo=UTC)
    made = datetime(2026, 1, 5, 8, tzinfo=UTC)
    ref = "2026-02-03T10:00Z"
    assert useful_until("confirm", ref, made) == start
    assert useful_until("remind_1d", ref, made) == start
    assert useful_until("remind_7d", ref, made) == start - timedelta(days=1)
    assert useful_until("leader_rebook", ref, made) == start
    assert useful_until("next_tsm_offer", ref, made) == start + timedelta(days=14)
    assert useful_until("agenda", "2026-02-03", made) == datetime(2026, 2, 4, tzinfo=UTC)
    assert useful_until("unbooked_weekly", "7:2026-W02", made) == made + timedelta(days=7)
    assert useful_until("term_start", "7", made) == made + timedelta(days=7)


async def test_rearm_gives_each_undeliverable_row_to_exactly_one_worker(any_db_url):
    from scheduler.ledger import Due, Ledger

    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        ledgers = [Ledger(db, f"w{i}", clock=clock) for i in range(4)]
        claims = await ledgers[0].claim(
            [Due("agenda", "officer", 1, Recipient("officer", i), "2026-01-06") for i in range(1, 41)]
        )
        for c in claims[:30]:
            await ledgers[0].finish(c, "undeliverable", "no_conversation")
        ids = [c.id for c in claims]  # 10 of them still claimed (in flight): never re-armed
        got = await asyncio.gather(*(lg.rearm(ids, max_attempts=5) for lg in ledgers))
        won = [c.id for g in got for c in g]
        assert sorted(won) == sorted(c.id for c in claims[:30])  # each once, across the four
        assert all(c.attempts == 2 for g in got for c in g)
        assert await ledgers[0].counts() == {"claimed": 40}
        assert await ledgers[1].rearm(ids, max_attempts=5) == []
    finally:
        await db.dispose()
