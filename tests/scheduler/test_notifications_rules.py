"""Rows of tsm/notifications.py's RULES table and its edges, through the event sweep (who gets what) and
``Notifications.compose`` (what a message says when it is sent, from the database as it is then): the senior
leader who can't attend and the time kept after all, a moved-since message that says nothing, events naming a
meeting, a person or an LA that is not there, a garbled time in an event, and undelivered messages to an officer."""

from __future__ import annotations

from datetime import UTC

import pytest
from factories import local, make_world
from sqlmodel import select
from test_scheduler_late_install import env_for, install

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.history import DomainEvent
from tsm.clock import FixedClock
from tsm.messaging import Recipient
from tsm.services.actors import Actor
from tsm.services.conversation import ConversationService
from tsm.services.events import EventKind, record


@pytest.fixture
async def env(db):
    e = env_for(db, FixedClock(local(2026, 1, 5, 8)), await make_world(db))
    e.conv = ConversationService(db, e.booking, e.ref, clock=e.clock)
    return e


async def add_event(env, kind: EventKind, actor: Actor | str = "system", **kw) -> int:
    async with env.db.transaction() as s:
        ev = record(s, kind, actor, env.clock(), **kw)
    return ev.id


async def test_the_officer_hears_the_senior_leader_cannot_attend_and_then_that_the_time_is_kept(env):
    w = env.world
    officer = Recipient("officer", w.officers["ann"])
    await install(env.db, officer, env.clock())
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))).meeting
    await env.jobs.events()
    await env.conv.mark_leader_unavailable(lead, m.id, "Head on a course")
    assert (await env.jobs.events()).by_kind == {"ev.leader_unavailable": 1}
    assert env.messenger.to(officer)[-1] == (
        "The senior leader of Low Primary School can't attend the TSM on Tuesday 3 February 10:00–11:00. "
        "The school has been offered other times this term."
    )
    await env.conv.keep_time(lead, m.id)
    assert (await env.jobs.events()).by_kind == {"ev.time_kept": 1}
    assert env.messenger.to(officer)[-1] == (
        "Lead of Low Primary School at Low Primary School is keeping the TSM on Tuesday 3 February 10:00–11:00, "
        "after saying the senior leader couldn't attend: it no longer needs rearranging."
    )
    assert all(to == officer for to, _ in env.messenger.sent[-2:])  # the school, who said it, is not told


async def test_a_kept_time_moved_since_is_not_announced_the_move_says_what_stands(env):
    w = env.world
    officer = Recipient("officer", w.officers["ann"])
    await install(env.db, officer, env.clock())
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))).meeting
    await env.conv.mark_leader_unavailable(lead, m.id)
    await env.conv.keep_time(lead, m.id)
    await env.booking.move(lead, m.id, local(2026, 2, 4, 14))
    swept = await env.jobs.events()
    assert "ev.time_kept" not in swept.by_kind and swept.by_kind["ev.moved"] == 1
    texts = env.messenger.to(officer)
    assert not any("is keeping the TSM" in t for t in texts)
    assert texts[-1] == (
        "The TSM for Low Primary School has moved from Tuesday 3 February 10:00–11:00 to "
        "Wednesday 4 February 14:00–15:00."
    )


async def test_a_cancellation_whose_event_time_is_garbled_names_the_meetings_own_time(env):
    w = env.world
    m = (
        await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    ).meeting
    event_id = await add_event(
        env,
        EventKind.CANCELLED,
        w.contact("low_primary.lead"),
        meeting_id=m.id,
        start="3rd Feb",
        reason="Snow",
    )
    message = await env.jobs.notifications.compose(event_id, "ev.cancelled", Recipient("officer", 1))
    assert message.text == (
        "The TSM for Low Primary School on Tuesday 3 February 10:00–11:00 was cancelled by "
        "Lead of Low Primary School. Reason: Snow"
    )


async def test_the_teams_link_is_sent_only_once_outlook_has_given_one(env):
    w = env.world
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10), mode="teams")).meeting
    event_id = await add_event(env, EventKind.JOIN_LINK, meeting_id=m.id, start="2026-02-03T10:00Z")
    to = Recipient("contact", w.contacts["low_primary.lead"])
    notes = env.jobs.notifications
    assert await notes.compose(event_id, "ev.join_link", to) is None  # no link yet: nothing to send
    from tsm.adapters.db.meetings import Meeting

    async with env.db.transaction() as s:
        row = await s.get(Meeting, m.id)
        row.join_url = "https://teams.example/l/meetup-join/abc"
    message = await notes.compose(event_id, "ev.join_link", to)
    assert message.text == "The Teams link for your TSM is ready: Tuesday 3 February 10:00–11:00"
    assert "https://teams.example/l/meetup-join/abc" in str(message.card)


async def test_events_naming_nobody_who_is_there_tell_nobody(env):
    """An event naming no meeting and no school, a person written wrong, an LA id that is not a number: no
    recipient, no ledger row; and a message asked for an event that is gone is None."""
    w = env.world
    for kind, kw in (
        (EventKind.BOOK_REQUESTED, {}),
        (EventKind.SIGNIN_REQUESTED, {"person": "contact:abc"}),
        (EventKind.SIGNIN_REQUESTED, {"person": "pupil:12"}),
        (EventKind.ACCESS_REQUESTED, {"la_id": str(w.la_id)}),
    ):
        await add_event(env, kind, **kw)
    swept = await env.jobs.events()
    assert swept.claimed == 0 and env.messenger.sent == []
    async with env.db.reader() as s:
        assert list(await s.exec(select(Outbound))) == []
        assert all(e.dispatched_at is not None for e in await s.exec(select(DomainEvent)))
    assert await env.jobs.notifications.compose(987654, "ev.accepted", Recipient("officer", 1)) is None


async def test_undelivered_messages_name_the_officer_and_the_invited_guest(env):
    w = env.world
    m = (
        await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    ).meeting
    await env.jobs.events()  # the officer has no app: "booked" is undeliverable
    async with env.db.transaction() as s:
        s.add(
            Outbound(
                kind="ev.invitation",
                ref="2026-02-03T10:00Z",
                subject_kind="meeting",
                subject_id=m.id,
                recipient_kind="attendee",
                recipient_id=424242,
                status="failed",
                last_error="smtp",
                created_at=env.clock().astimezone(UTC),
            )
        )
    listed = await env.jobs.notifications.undelivered(since=local(2026, 1, 1))
    assert {(u.kind, u.recipient) for u in listed} >= {
        ("school booked", "Ann Officer (officer)"),
        ("invitation", "attendee 424242"),
    }
    mine = await env.jobs.notifications.undelivered(since=local(2026, 1, 1), officer_id=w.officers["ann"])
    # an officer's list: their own and their schools' staff's, not a guest's invitation
    assert sorted(u.recipient for u in mine) == [
        "Ann Officer (officer)",
        "Head of Low Primary School (Low Primary School)",
    ]


async def test_a_message_the_event_cannot_carry_is_not_sent(env):
    w = env.world
    m = (
        await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    ).meeting
    notes, to = env.jobs.notifications, Recipient("officer", w.officers["ann"])
    school_only = await add_event(
        env, EventKind.BOOK_REQUESTED, w.contact("low_primary.lead"), school_id=w.schools["low_primary"]
    )
    nobody = await add_event(env, EventKind.BOOK_REQUESTED)
    notice = await add_event(env, EventKind.CALENDAR_FAILED, meeting_id=m.id)
    assert await notes.compose(school_only, "ev.confirm", to) is None  # a meeting's message, no meeting
    assert await notes.compose(nobody, "ev.book_requested", to) is None  # no school to name
    assert await notes.compose(notice, "ev.officer_notice", to) is None  # nothing to say
    asked = await notes.compose(school_only, "ev.book_requested", to)
    assert asked.text.startswith("Lead of Low Primary School at Low Primary School asked to book a TSM.")
    with pytest.raises(ValueError, match="unknown event message ev.fanfare"):
        await notes.compose(notice, "ev.fanfare", to)


async def test_a_cancellation_with_no_time_in_its_event_names_the_meetings_own(env):
    w = env.world
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))).meeting
    event_id = await add_event(env, EventKind.CANCELLED, lead, meeting_id=m.id, reason="Snow")
    message = await env.jobs.notifications.compose(event_id, "ev.cancelled", Recipient("officer", 1))
    assert "Low Primary School on Tuesday 3 February 10:00–11:00 was cancelled by" in message.text


async def test_the_invitation_to_book_goes_only_to_an_open_school_and_says_why_it_comes(env):
    from tsm.adapters.db.directory import School
    from tsm.notifications import invite_message

    w = env.world
    async with env.db.reader() as s:
        school = await s.get(School, w.schools["low_primary"])
    assert await invite_message(env.db, None) is None
    plain = await invite_message(env.db, school)
    chaser = await invite_message(env.db, school, chaser=True)
    term = await invite_message(env.db, school, term_start=True)
    assert plain.text == "Ann Officer invites Low Primary School to book this term's TSM."
    assert (
        chaser.text
        == "Low Primary School has no TSM booked this term yet: please pick a time with Ann Officer."
    )
    assert term.text == "A new term has started: please book Low Primary School's TSM with Ann Officer."
    assert "It takes a minute" in str(plain.card)
    school.open = False
    assert await invite_message(env.db, school) is None
    school.open, school.link_officer_id = True, None
    assert await invite_message(env.db, school) is None


async def test_a_confirmation_of_a_time_moved_since_is_not_sent_the_moves_is(env):
    w = env.world
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))).meeting
    await env.booking.move(lead, m.id, local(2026, 2, 4, 14))
    async with env.db.reader() as s:
        booked, moved = [
            e.id
            for e in await s.exec(
                select(DomainEvent).where(DomainEvent.meeting_id == m.id).order_by(DomainEvent.id)
            )
        ]
    head = Recipient("contact", w.contacts["low_primary.head"])
    notes = env.jobs.notifications
    assert await notes.compose(booked, "ev.confirm", head) is None
    confirm = await notes.compose(moved, "ev.confirm", head)
    assert "Wednesday 4 February" in confirm.text


async def test_a_proposal_offers_six_other_times_beside_accept(env):
    from cardtree import walk

    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))).meeting
    async with env.db.reader() as s:
        [event] = [e.id for e in await s.exec(select(DomainEvent).where(DomainEvent.meeting_id == m.id))]
    proposal = await env.jobs.notifications.compose(
        event, "ev.proposal", Recipient("contact", w.contacts["low_primary.lead"])
    )
    [times] = [n for n in walk(proposal.card) if n.get("type") == "Input.ChoiceSet"]
    assert len(times["choices"]) == 6
