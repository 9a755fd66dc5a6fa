"""Who is told what, delivered through the one durable path: domain events → tsm.notifications → the ledger.

A change records its event in its own transaction, whoever made it (the chat, the CLI, Outlook); the scheduler's
event sweep claims one ledger row per (event, recipient) and sends it, exactly once across workers and restarts;
people who have not installed the app get it when they do, while it is still useful.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from cardtree import actions
from factories import local, make_world
from sqlmodel import select
from test_scheduler_late_install import env_for, install

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import DomainEvent
from tsm.clock import FixedClock
from tsm.messaging import Recipient
from tsm.services.actors import Actor
from tsm.services.conversation import ConversationService


@pytest.fixture
async def env(db):
    return env_for(db, FixedClock(local(2026, 1, 5, 8)), await make_world(db))


def card_titles(card: dict | None) -> list[str]:
    return [a["title"] for a in actions(card) if "title" in a]


async def ledger(db: Database, kind: str) -> list[tuple[str, str, int]]:
    async with db.reader() as s:
        return sorted(
            (r.status, r.last_error, r.recipient_id)
            for r in await s.exec(select(Outbound).where(Outbound.kind == kind))
        )


async def test_a_proposal_reaches_staff_who_install_later_with_its_accept_card_and_the_officer_learns_the_answer(
    env,
):
    w = env.world
    officer = Recipient("officer", w.officers["ann"])
    lead = Recipient("contact", w.contacts["low_primary.lead"])
    head = Recipient("contact", w.contacts["low_primary.head"])
    await install(env.db, officer, env.clock())
    booked = await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))

    first = await env.jobs.events()
    assert first.by_kind == {} and first.undeliverable == 2  # neither the lead nor the head has the app yet
    assert [(st, why) for st, why, _ in await ledger(env.db, "ev.proposal")] == [
        ("undeliverable", "no_conversation")
    ] * 2
    assert env.messenger.sent == []  # and the officer, who booked it, is not told of their own booking

    env.clock.now = local(2026, 1, 12, 9).astimezone(UTC)  # a week later the lead installs the app
    await install(env.db, lead, env.clock())
    late = await env.jobs.late_installs()
    assert late.by_kind == {"ev.proposal": 1}
    [(to, message)] = env.messenger.sent
    assert to == lead and "Ann Officer booked your TSM" in message.text
    assert {"Accept", "Move to this time"} <= set(card_titles(message.card))

    conv = ConversationService(env.db, env.booking, env.ref, clock=env.clock)
    await conv.accept(w.contact("low_primary.lead"), booked.meeting.id)
    answered = await env.jobs.events()
    assert answered.by_kind == {"ev.accepted": 1}
    assert env.messenger.to(officer)[-1].startswith(
        "Lead of Low Primary School accepted the TSM for Low Primary School: Tuesday 3 February"
    )
    assert (await env.jobs.events()).claimed == 0 and (await env.jobs.late_installs()).claimed == 0
    assert [r for r, _ in env.messenger.sent].count(head) == 0  # the head still has no app: nothing forced


async def test_a_schools_cancellation_with_its_reason_reaches_an_officer_who_installs_after_it(env):
    w = env.world
    officer = Recipient("officer", w.officers["ann"])
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.booking.cancel(w.contact("low_primary.lead"), r.meeting.id, "Ofsted visit that week")
    result = await env.jobs.events()
    # Messages are composed from the database as it is when sent: the booking's (the officer's "booked", the head's
    # confirmation) are skipped, cancelled since; the cancellation finds no conversation yet.
    assert (result.skipped, result.undeliverable, env.messenger.sent) == (2, 1, [])
    env.clock.now = local(2026, 1, 6, 9).astimezone(UTC)
    await install(env.db, officer, env.clock())
    late = await env.jobs.late_installs()
    assert late.by_kind == {"ev.cancelled": 1}
    [text] = env.messenger.to(officer)
    assert "was cancelled by Lead of Low Primary School" in text and "Reason: Ofsted visit that week" in text


async def test_a_change_made_by_an_admin_tells_both_the_school_and_the_officer(env):
    w = env.world
    for key in ("low_primary.lead", "low_primary.head"):
        await install(env.db, Recipient("contact", w.contacts[key]), env.clock())
    officer = Recipient("officer", w.officers["ann"])
    await install(env.db, officer, env.clock())
    r = await env.booking.book(
        Actor("admin", None, None, "cli"), w.schools["low_primary"], local(2026, 2, 3, 10)
    )
    result = await env.jobs.events()
    assert result.by_kind == {"ev.proposal": 2, "ev.booked_for_officer": 1}
    assert "booked a TSM for Low Primary School in your calendar" in env.messenger.to(officer)[0]
    await env.booking.move(w.officer("ann"), r.meeting.id, local(2026, 2, 4, 14))
    moved = await env.jobs.events()
    # the officer moved it: the staff invited get the confirmation card with the new time (one message each, not
    # a second "has moved" note too); the officer, who moved it, nothing
    assert moved.by_kind == {"ev.confirm": 2}
    assert all(
        to.kind == "contact" and "Your TSM has moved" in str(m.card) and "Wednesday 4 February" in m.text
        for to, m in env.messenger.sent[-2:]
    )


async def test_every_event_message_goes_once_across_two_workers_and_a_restart(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        world = await make_world(db)
        a, b = env_for(db, clock, world, "w1"), env_for(db, clock, world, "w2")
        b.messenger = a.messenger
        b.jobs.messenger = a.messenger
        officer = Recipient("officer", world.officers["ann"])
        await install(db, officer, clock())
        schools = ("low_primary", "high_primary", "secondary")
        for i, key in enumerate(schools):
            contact = next(k for k in world.contacts if k.startswith(key + "."))
            await a.booking.book(world.contact(contact), world.schools[key], local(2026, 2, 3 + i, 10))
        results = await asyncio.gather(a.jobs.events(), b.jobs.events())
        assert sum(r.sent for r in results) == 3  # each (event, recipient) row once
        # The officer hears of each booking once: one message each, or several in one "news" digest when a worker's
        # batch holds more than one (scheduler/digests.py).
        told = [m for r, m in a.messenger.sent if r == officer]
        words = [m.text + str(m.card or "") for m in told]
        names = ("Low Primary School", "High Primary School", "Town High School")
        assert 1 <= len(told) <= 3 and [
            sum(w.count(n + " booked its TSM") for w in words) for n in names
        ] == [1, 1, 1]
        assert (await a.restart("w3").jobs.events()).claimed == 0
        async with db.reader() as s:
            pending = list(await s.exec(select(DomainEvent).where(DomainEvent.dispatched_at == None)))  # noqa: E711
        assert pending == []
    finally:
        await db.dispose()


async def test_a_rolled_back_change_records_no_event(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(Exception, match="already booked"):
        await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 4, 10))
    async with env.db.reader() as s:
        kinds = [e.kind for e in await s.exec(select(DomainEvent))]
    assert kinds == ["booked"]


async def test_undelivered_messages_are_listed_for_the_officer_and_the_la_admin(env):
    w = env.world
    await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.jobs.events()  # nobody at Low Primary has the app
    notes = env.jobs.notifications
    since = local(2026, 1, 1)
    mine = await notes.undelivered(since=since, officer_id=w.officers["ann"])
    assert sorted(u.recipient for u in mine) == [
        "Head of Low Primary School (Low Primary School)",
        "Lead of Low Primary School (Low Primary School)",
    ]
    assert {(u.kind, u.status, u.why) for u in mine} == {
        ("proposal", "undeliverable", "has not installed the TSM app yet")
    }
    assert await notes.undelivered(since=since, officer_id=w.officers["bob"]) == []  # not Bob's schools
    assert len(await notes.undelivered(since=since)) == 2  # the LA admin sees everything


async def test_every_change_of_a_meeting_records_its_event_whoever_makes_it(env):
    """Booked, moved, ended (the system saw its end), a no-show and its undo: each in the change's transaction,
    with who made it; none of these last three tells anyone."""
    w = env.world
    lead, officer = w.contact("low_primary.lead"), w.officer("ann")
    r = await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.booking.move(lead, r.meeting.id, local(2026, 2, 4, 10))
    env.clock.now = local(2026, 2, 4, 11, 30).astimezone(UTC)
    await env.booking.mark_held(Actor.system(), r.meeting.id)
    await env.booking.mark_no_show(officer, r.meeting.id, "Nobody came")
    await env.booking.mark_held(officer, r.meeting.id)
    async with env.db.reader() as s:
        events = [(e.kind, e.actor) for e in await s.exec(select(DomainEvent).order_by(DomainEvent.id))]
    assert events == [
        ("booked", lead.key),
        ("moved", lead.key),
        ("ended", "system"),
        ("no_show", officer.key),
        ("no_show_undone", officer.key),
    ]
    await env.jobs.events()
    async with env.db.reader() as s:
        claimed = {r.kind for r in await s.exec(select(Outbound))}
    # the booking's and the move's messages were claimed (composed now: the meeting has ended, so skipped); the
    # end, the no-show and its undo tell nobody
    assert claimed == {"ev.confirm", "ev.school_booked", "ev.moved"}
