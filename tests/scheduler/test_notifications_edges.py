"""The edges of tsm/notifications.py that a whole run reached only by chance (issue 17): who each rule reaches and who
it leaves out (the person who made the change, someone already told by an earlier rule, the other side of a change),
the proposal card when no other time can be offered, the web page's home list of proposals waiting for an answer and
its next-term offer, the sign-in link, the calendar invitation by email and which change sends it, and an LA admin
told of an access request with the asking school's row first. Each test drives the services (or records the event
the service records) and asserts what each person is, or is not, sent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta

import pytest
from cardtree import actions, inputs
from factories import local, make_world
from icalendar import Calendar
from sqlmodel import select
from test_scheduler_late_install import env_for

from scheduler.retention import Retention
from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import Officer, School, SchoolContact
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import Meeting
from tsm.clock import FixedClock
from tsm.messaging import Recipient
from tsm.notifications import Notifications
from tsm.services.actors import Actor
from tsm.services.booking import BookingService
from tsm.services.conversation import ConversationService
from tsm.services.events import EventKind, record
from tsm.services.records import Records
from tsm.services.signin import SignInLinks

FEB_3 = local(2026, 2, 3, 10)  # a Tuesday of the spring term (Norfolk 2025-26)
FEB_3_TEXT = "Tuesday 3 February 10:00–11:00"


@pytest.fixture
async def env(db):
    e = env_for(db, FixedClock(local(2026, 1, 5, 8)), await make_world(db))
    e.conv = ConversationService(db, e.booking, e.ref, clock=e.clock)
    return e


def notes_of(env, **kw) -> Notifications:
    """The notifications module as the app composes it, with the options under test (sign-in links, invitations)."""
    return Notifications(env.db, env.booking, env.conv, Records(env.db, clock=env.clock), **kw)


async def add_event(env, kind: EventKind, actor: Actor | str = "system", **kw) -> int:
    async with env.db.transaction() as s:
        ev = record(s, kind, actor, env.clock(), **kw)
    return ev.id


async def told(env, notes: Notifications | None = None) -> set[tuple[str, Recipient]]:
    """Who the pending events tell what (message kind, recipient); the events are then marked dispatched. A person
    gets one message per event: no (event, recipient) twice."""
    notes = notes or env.jobs.notifications
    pending = await notes.pending()
    out = await notes.outgoing(pending)
    each = [(o.event_id, o.recipient) for o in out if o.kind != "ev.invitation"]
    assert len(each) == len(set(each)), out
    await notes.mark_dispatched([e.id for e in pending], env.clock())
    return {(o.kind, o.recipient) for o in out}


async def last_event(env, kind: EventKind) -> int:
    async with env.db.reader() as s:
        return (
            await s.exec(
                select(DomainEvent.id).where(DomainEvent.kind == kind.value).order_by(DomainEvent.id.desc())
            )
        ).first()


def contact(env, key: str) -> Recipient:
    return Recipient("contact", env.world.contacts[key])


def officer(env, key: str = "ann") -> Recipient:
    return Recipient("officer", env.world.officers[key])


async def set_row(env, model, ident: int, **values) -> None:
    async with env.db.transaction() as s:
        row = await s.get(model, ident)
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)


# ---------------------------------------------------------------------------------------------------- who is told


async def test_a_schools_booking_confirms_to_the_colleague_invited_and_tells_the_officer_not_the_booker(env):
    await env.booking.book(env.world.contact("low_primary.lead"), env.world.schools["low_primary"], FEB_3)
    assert await told(env) == {
        ("ev.confirm", contact(env, "low_primary.head")),
        ("ev.school_booked", officer(env)),
    }
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.BOOKED), "ev.school_booked", officer(env)
    )
    assert said.text.startswith(f"Low Primary School booked its TSM: {FEB_3_TEXT}, ")


async def test_the_officers_own_proposal_goes_to_the_schools_staff_once_each_and_not_back_to_the_officer(env):
    """The school's staff are the proposal's audience and its attendees: the proposal reaches each once, not a second
    message (the confirmation) from the later rule; the officer who booked it is not told they did."""
    await env.booking.book(env.world.officer("ann"), env.world.schools["low_primary"], FEB_3)
    assert await told(env) == {
        ("ev.proposal", contact(env, "low_primary.lead")),
        ("ev.proposal", contact(env, "low_primary.head")),
    }


async def test_an_la_admins_proposal_tells_the_schools_officer_it_is_in_their_calendar(env):
    w = env.world
    await set_row(env, Officer, w.officers["bob"], is_admin=True)
    await env.booking.book(w.admin("bob"), w.schools["low_primary"], FEB_3)
    assert await told(env) == {
        ("ev.proposal", contact(env, "low_primary.lead")),
        ("ev.proposal", contact(env, "low_primary.head")),
        ("ev.booked_for_officer", officer(env, "ann")),
    }
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.PROPOSED), "ev.booked_for_officer", officer(env, "ann")
    )
    assert said.text.startswith(
        f"Bob Officer booked a TSM for Low Primary School in your calendar: {FEB_3_TEXT}, "
    )
    assert said.text.endswith("The school has been asked to accept it or pick another time.")


async def test_a_proposal_accepted_by_the_school_is_told_to_the_officer_by_name(env):
    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    await env.conv.accept(w.contact("low_primary.head"), m.id)
    assert await told(env) == {("ev.accepted", officer(env))}
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.ACCEPTED), "ev.accepted", officer(env)
    )
    assert said.text == f"Head of Low Primary School accepted the TSM for Low Primary School: {FEB_3_TEXT}."


async def test_a_move_by_the_school_tells_the_officer_and_confirms_the_new_time_to_the_colleague(env):
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    await env.booking.move(w.contact("low_primary.lead"), m.id, local(2026, 2, 4, 14))
    assert await told(env) == {("ev.confirm", contact(env, "low_primary.head")), ("ev.moved", officer(env))}


async def test_a_move_by_the_officer_tells_the_schools_staff_not_invited_that_it_moved(env):
    """The invited colleague gets the confirmation of the new time; a colleague the officer did not invite hears of
    the move all the same (the other side of an officer's change is the whole school); the officer is not told."""
    w = env.world
    head = w.contacts["low_primary.head"]
    m = (
        await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3, attendee_contact_ids=[head])
    ).meeting
    await told(env)
    await env.booking.move(w.officer("ann"), m.id, local(2026, 2, 4, 14))
    assert await told(env) == {
        ("ev.confirm", contact(env, "low_primary.head")),
        ("ev.moved", contact(env, "low_primary.lead")),
    }


async def test_a_move_by_an_la_admin_tells_both_sides(env):
    w = env.world
    await set_row(env, Officer, w.officers["bob"], is_admin=True)
    head = w.contacts["low_primary.head"]
    m = (
        await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3, attendee_contact_ids=[head])
    ).meeting
    await told(env)
    await env.booking.move(w.admin("bob"), m.id, local(2026, 2, 4, 14))
    assert await told(env) == {
        ("ev.confirm", contact(env, "low_primary.head")),
        ("ev.moved", contact(env, "low_primary.lead")),
        ("ev.moved", officer(env, "ann")),
    }
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.MOVED), "ev.moved", officer(env, "ann")
    )
    assert said.text == (
        f"The TSM for Low Primary School has moved from {FEB_3_TEXT} to Wednesday 4 February 14:00–15:00."
    )


async def test_a_cancellation_by_the_officer_tells_the_schools_staff_and_not_the_officer(env):
    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    await env.booking.cancel(w.officer("ann"), m.id, "Officer unwell")
    assert await told(env) == {
        ("ev.cancelled", contact(env, "low_primary.lead")),
        ("ev.cancelled", contact(env, "low_primary.head")),
    }
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.CANCELLED), "ev.cancelled", contact(env, "low_primary.lead")
    )
    assert said.text == (
        f"The TSM for Low Primary School on {FEB_3_TEXT} was cancelled by Ann Officer. Reason: Officer unwell"
    )


async def test_a_cancellation_by_the_system_tells_both_sides_and_a_cancelled_meeting_gets_no_confirmation(
    env,
):
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    booked = await last_event(env, EventKind.BOOKED)
    await told(env)
    await env.booking.cancel(Actor.system(), m.id, "The school closed")
    assert await told(env) == {
        ("ev.cancelled", contact(env, "low_primary.lead")),
        ("ev.cancelled", contact(env, "low_primary.head")),
        ("ev.cancelled", officer(env)),
    }
    said = await env.jobs.notifications.compose(
        await last_event(env, EventKind.CANCELLED), "ev.cancelled", officer(env)
    )
    assert said.text.endswith("was cancelled by the TSM service. Reason: The school closed")
    # the booking's messages, delivered late, say nothing now: the cancellation says what stands
    assert (
        await env.jobs.notifications.compose(booked, "ev.confirm", contact(env, "low_primary.head")) is None
    )
    assert await env.jobs.notifications.compose(booked, "ev.school_booked", officer(env)) is None


async def test_a_joint_tsm_booked_by_one_school_tells_every_schools_staff_it_is_their_tsm(env, monkeypatch):
    w = env.world
    norfolk = env.ref.policy("norfolk")
    monkeypatch.setattr(
        env.ref, "policy", lambda name: dataclasses.replace(norfolk, trust_contacts_book_joint=True)
    )
    a, b = w.schools["trust_a"], w.schools["trust_b"]
    lead_a, head_a, head_b = (w.contacts[k] for k in ("trust_a.lead", "trust_a.head", "trust_b.head"))
    await env.booking.book(
        w.contact("trust_a.lead"),
        [a, b],
        FEB_3,
        mode="teams",
        attendee_contact_ids=[head_a, lead_a, head_b],
        senior_leader_ids=[head_a, head_b],
    )
    event = await last_event(env, EventKind.BOOKED)
    assert await told(env) == {
        ("ev.confirm", contact(env, "trust_a.head")),
        ("ev.confirm", contact(env, "trust_b.head")),
        ("ev.joint_booked", contact(env, "trust_b.lead")),
        ("ev.school_booked", officer(env)),
    }
    notes = env.jobs.notifications
    sibling = await notes.compose(event, "ev.joint_booked", contact(env, "trust_b.lead"))
    assert sibling.text.startswith(
        "Lead of Trust A Primary booked a joint TSM for Trust A Primary, Trust B Primary with Ann Officer: "
        f"{FEB_3_TEXT}, "
    )
    assert sibling.text.endswith(
        "It is your school's TSM for the Spring term 2025-26: you can add a colleague, move or cancel it under my "
        "meetings."
    )
    to_officer = await notes.compose(event, "ev.school_booked", officer(env))
    assert to_officer.text.startswith(
        f"Lead of Trust A Primary booked a joint TSM for Trust A Primary, Trust B Primary: {FEB_3_TEXT}, "
    )


async def test_the_tsm_record_reaches_the_other_side_by_who_wrote_it(env):
    """The school wrote it: the officer; the officer wrote it first: the school's staff invited; the officer's later
    edits, and the school's first write, tell no one else (the officer is not told a colleague's is ready)."""
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    lead, ann = w.contact("low_primary.lead"), w.officer("ann")
    by_school = await add_event(env, EventKind.RECORD_SAVED, lead, meeting_id=m.id, created=True)
    assert await told(env) == {("ev.record_from_school", officer(env))}
    by_officer = await add_event(env, EventKind.RECORD_SAVED, ann, meeting_id=m.id, created=True)
    assert await told(env) == {
        ("ev.record_ready", contact(env, "low_primary.lead")),
        ("ev.record_ready", contact(env, "low_primary.head")),
    }
    await add_event(env, EventKind.RECORD_SAVED, ann, meeting_id=m.id)
    assert await told(env) == set()
    notes = env.jobs.notifications
    from_school = await notes.compose(by_school, "ev.record_from_school", officer(env))
    assert from_school.text == "Low Primary School updated the TSM record of 3 February."
    ready = await notes.compose(by_officer, "ev.record_ready", contact(env, "low_primary.head"))
    assert ready.text == (
        "The record of your TSM of 3 February is ready: figures, agreed actions and who leads."
    )
    assert ready.card["type"] == "AdaptiveCard"


async def test_events_that_tell_nobody_write_no_message(env):
    """Held, no-show and the like are kept for the history and the reports; with the local calendar off, a colleague
    added sends nothing either (Outlook sends its own invitation)."""
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    for kind in (EventKind.HELD, EventKind.NO_SHOW, EventKind.ATTENDEE_ADDED, EventKind.ENDED):
        await add_event(env, kind, w.officer("ann"), meeting_id=m.id)
    assert await told(env) == set()


async def test_an_event_whose_meeting_was_purged_since_it_was_read_tells_nobody(env):
    """The sweep reads the pending events, then who they tell: a meeting deleted in between (the retention purge
    deletes a meeting with its events) leaves nobody to tell and nothing to say."""
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    notes = env.jobs.notifications
    pending = await notes.pending()
    assert [e.meeting_id for e in pending] == [m.id]
    purge = Retention(env.db, clock=lambda: local(2027, 3, 1), years=1, policy=env.ref.policy)
    assert (await purge.purge()).meetings == 1
    assert await notes.outgoing(pending) == []
    assert await notes.compose(pending[0].id, "ev.confirm", contact(env, "low_primary.head")) is None


async def test_an_event_naming_a_school_but_no_meeting_confirms_nothing(env):
    """A booking's messages need its meeting: an event that names only the school reaches its officer's rule, and
    the message, composed when sent, is nothing; no attendee is looked for."""
    w = env.world
    event = await add_event(
        env, EventKind.BOOKED, w.contact("low_primary.lead"), school_id=w.schools["low_primary"]
    )
    assert await told(env) == {("ev.school_booked", officer(env))}
    assert await env.jobs.notifications.compose(event, "ev.school_booked", officer(env)) is None


async def test_marking_no_events_dispatched_leaves_the_pending_ones_pending(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)
    notes = env.jobs.notifications
    await notes.mark_dispatched([], env.clock())
    assert [e.kind for e in await notes.pending()] == ["booked"]
    await notes.mark_dispatched([e.id for e in await notes.pending()], env.clock())
    assert await notes.pending() == []


async def test_the_officer_is_told_what_outlook_refused_or_changed_in_at_most_500_characters(env):
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    await told(env)
    declined = "Head of Low Primary School declined the TSM on Tuesday 3 February 10:00–11:00."
    changed = await add_event(
        env, EventKind.OUTLOOK_CHANGE, "system:outlook", meeting_id=m.id, notice="declined", text=declined
    )
    failed = await add_event(
        env, EventKind.CALENDAR_FAILED, meeting_id=m.id, text="Outlook refused: " + "x" * 600
    )
    assert await told(env) == {("ev.officer_notice", officer(env))}
    notes = env.jobs.notifications
    assert (await notes.compose(changed, "ev.officer_notice", officer(env))).text == declined
    refused = await notes.compose(failed, "ev.officer_notice", officer(env))
    assert refused.text == ("Outlook refused: " + "x" * 600)[:500] and refused.card is None


# ------------------------------------------------------------------------------------- the proposal card


async def test_a_proposal_whose_officer_has_left_since_still_carries_accept_without_other_times(env):
    """The other times are worked out when the proposal is sent; when none can be offered any more (here: the
    officer was made inactive, so no time of theirs is free), the school can still accept the time booked."""
    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    event = await last_event(env, EventKind.PROPOSED)
    await set_row(env, Officer, w.officers["ann"], active=False)
    proposal = await env.jobs.notifications.compose(event, "ev.proposal", contact(env, "low_primary.lead"))
    assert proposal.text == f"Ann Officer booked your TSM: {FEB_3_TEXT}. Accept it or pick another time."
    assert [(a["title"], a["verb"]) for a in actions(proposal.card)] == [("Accept", "offer.accept")]
    assert str(m.id) in str(actions(proposal.card)[0]["data"])
    assert "start" not in inputs(proposal.card)


# ------------------------------------------------------------- the web page's home: what waits for an answer


async def test_an_la_admins_or_officers_waiting_list_is_empty(env):
    w = env.world
    await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)
    notes = env.jobs.notifications
    assert await notes.waiting(w.officer("ann")) == []
    assert await notes.waiting(w.admin("bob")) == []
    assert await notes.waiting(Actor("contact", w.contacts["low_primary.lead"], None, la_id=w.la_id)) == []
    assert len(await notes.waiting(w.contact("low_primary.lead"))) == 1  # the same proposal, to its school


async def test_the_web_pages_home_lists_a_proposal_nobody_at_the_school_has_answered_and_not_one_they_accepted(
    env,
):
    w = env.world
    notes = env.jobs.notifications
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    [waiting] = await notes.waiting(w.contact("low_primary.lead"))
    assert waiting.text == f"Ann Officer booked your TSM: {FEB_3_TEXT}. Accept it or pick another time."
    assert [a["verb"] for a in actions(waiting.card)][:2] == ["offer.accept", "offer.pick_slot"]
    await env.conv.accept(w.contact("low_primary.head"), m.id)  # a colleague answered it
    assert await notes.waiting(w.contact("low_primary.lead")) == []
    # a time the school booked itself waits for nobody's answer
    await env.booking.book(
        w.contact("high_primary.lead"), w.schools["high_primary"], FEB_3 + timedelta(hours=2)
    )
    assert await notes.waiting(w.contact("high_primary.head")) == []


async def test_a_proposal_the_school_moved_no_longer_waits_for_an_answer(env):
    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    await env.booking.move(w.contact("low_primary.lead"), m.id, local(2026, 2, 4, 14))
    assert await env.jobs.notifications.waiting(w.contact("low_primary.head")) == []


async def test_the_home_lists_proposals_soonest_first_and_no_more_than_asked(env):
    w = env.world
    notes = env.jobs.notifications
    await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 4, 21, 10))
    await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)
    lead = w.contact("low_primary.lead")
    assert [m.text.split(": ")[1] for m in await notes.waiting(lead)] == [
        f"{FEB_3_TEXT}. Accept it or pick another time.",
        "Tuesday 21 April 10:00–11:00. Accept it or pick another time.",
    ]
    [first] = await notes.waiting(lead, limit=1)
    assert FEB_3_TEXT in first.text


async def test_next_terms_offer_comes_after_the_proposals_and_only_while_the_list_has_room(env):
    """Held in the autumn, nothing booked in the spring, a proposal for the summer: the proposal, then the offer of
    spring times; a list of one has no room for the offer."""
    w = env.world
    notes = env.jobs.notifications
    env.clock.now = local(2025, 10, 6, 9).astimezone(UTC)
    autumn = (
        await env.booking.book(
            w.contact("low_primary.lead"), w.schools["low_primary"], local(2025, 11, 4, 10)
        )
    ).meeting
    env.clock.now = local(2026, 1, 5, 8).astimezone(UTC)
    await set_row(env, Meeting, autumn.id, status="held")
    await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 4, 21, 10))
    lead = w.contact("low_primary.lead")
    proposal, offer = await notes.waiting(lead)
    assert proposal.text.startswith("Ann Officer booked your TSM: Tuesday 21 April 10:00–11:00.")
    assert offer.text == "Next TSM for Low Primary School"
    assert "Book your Spring term 2025-26 TSM now?" in str(offer.card)
    assert [m.text for m in await notes.waiting(lead, limit=1)] == [proposal.text]


async def test_a_tsm_marked_held_before_its_end_waits_for_no_answer_and_next_terms_is_offered(env):
    w = env.world
    m = (await env.booking.book(w.officer("ann"), w.schools["low_primary"], FEB_3)).meeting
    env.clock.now = local(2026, 2, 3, 10, 30).astimezone(UTC)  # the TSM is on
    await set_row(env, Meeting, m.id, status="held")
    [offer] = await env.jobs.notifications.waiting(w.contact("low_primary.lead"))
    assert offer.text == "Next TSM for Low Primary School"
    assert "Book your Summer term 2025-26 TSM now?" in str(offer.card)


# --------------------------------------------------------------------------------------- next term's offer


async def held_spring_tsm(env) -> int:
    """Low Primary's spring TSM, booked by the school and held; the clock the day after."""
    w = env.world
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    env.clock.now = local(2026, 2, 4, 9).astimezone(UTC)
    await set_row(env, Meeting, m.id, status="held")
    return m.id


async def test_the_home_offers_five_of_next_terms_free_times_once_this_terms_tsm_is_held(env):
    await held_spring_tsm(env)
    [offer] = await env.jobs.notifications.waiting(env.world.contact("low_primary.lead"))
    assert offer.text == "Next TSM for Low Primary School"
    card = str(offer.card)
    assert "Book your Summer term 2025-26 TSM now?" in card and "Ann Officer" in card
    assert "offer.pick_slot" in [a["verb"] for a in actions(offer.card)]
    times = [c["value"] for c in inputs(offer.card)["start"]["choices"]]
    assert len(times) == 5 and times == sorted(times) and times[0] >= "2026-04-15"


async def test_where_the_officer_proposes_next_terms_tsm_the_offer_says_so(env, monkeypatch):
    norfolk = env.ref.policy("norfolk")
    monkeypatch.setattr(
        env.ref,
        "policy",
        lambda name: dataclasses.replace(norfolk, next_tsm_at_meeting_end="officer_proposes"),
    )
    await held_spring_tsm(env)
    [offer] = await env.jobs.notifications.waiting(env.world.contact("low_primary.lead"))
    card = str(offer.card)
    assert "Your link officer will propose your Summer term 2025-26 TSM" in card
    assert "Book your" not in card and "offer.pick_slot" not in card


async def test_no_next_term_offer_when_next_term_is_already_booked(env):
    await held_spring_tsm(env)
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 4, 21, 10))
    assert await env.jobs.notifications.waiting(w.contact("low_primary.head")) == []


async def test_no_next_term_offer_once_next_term_is_over(env):
    await held_spring_tsm(env)
    env.clock.now = local(2026, 7, 20, 9).astimezone(UTC)  # the summer term ended on 17 July
    assert await env.jobs.notifications.waiting(env.world.contact("low_primary.lead")) == []


async def test_no_next_term_offer_after_the_last_term_whose_dates_are_set(env):
    w = env.world
    m = (
        await env.booking.book(
            w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 7, 14, 10)
        )
    ).meeting
    env.clock.now = local(2026, 7, 15, 9).astimezone(UTC)
    await set_row(env, Meeting, m.id, status="held")
    assert await env.jobs.notifications.waiting(w.contact("low_primary.lead")) == []


async def test_a_school_whose_officer_has_left_is_offered_no_next_term_times(env):
    w = env.world
    await held_spring_tsm(env)
    await set_row(env, Officer, w.officers["ann"], active=False)
    assert await env.jobs.notifications.waiting(w.contact("low_primary.lead")) == []


# ------------------------------------------------------------------------------------------ the sign-in link


async def test_a_sign_in_link_goes_to_the_person_who_asked_made_when_it_is_sent(env):
    w = env.world
    links = SignInLinks(env.db, base_url="https://tsm.example/", clock=env.clock)
    notes = notes_of(env, signin=links)
    lead = contact(env, "low_primary.lead")
    event = await add_event(env, EventKind.SIGNIN_REQUESTED, person=f"contact:{lead.id}")
    assert await told(env, notes) == {("ev.signin", lead)}
    message = await notes.compose(event, "ev.signin", lead)
    assert message.email_only and message.card is None
    assert message.text.startswith(
        "Here is your link to sign in to the TSM booking page: https://tsm.example/web/link/"
    )
    assert "It works once, for 7 days." in message.text
    # a link kept for half a day is said to work for a day, not for none
    short = notes_of(
        env, signin=SignInLinks(env.db, base_url="https://tsm.example", link_ttl=timedelta(hours=12))
    )
    assert "It works once, for 1 day." in (await short.compose(event, "ev.signin", lead)).text
    await add_event(env, EventKind.SIGNIN_REQUESTED, person=f"officer:{w.officers['bob']}")
    assert await told(env, notes) == {("ev.signin", officer(env, "bob"))}


async def test_no_sign_in_link_is_sent_without_the_page_or_to_someone_no_longer_there(env):
    w = env.world
    lead = contact(env, "low_primary.lead")
    event = await add_event(env, EventKind.SIGNIN_REQUESTED, person=f"contact:{lead.id}")
    assert await notes_of(env).compose(event, "ev.signin", lead) is None  # no web page: no links
    off = SignInLinks(env.db, base_url="https://tsm.example", enabled=False)
    assert await notes_of(env, signin=off).compose(event, "ev.signin", lead) is None
    await set_row(env, SchoolContact, w.contacts["low_primary.lead"], active=False)
    on = SignInLinks(env.db, base_url="https://tsm.example")
    assert await notes_of(env, signin=on).compose(event, "ev.signin", lead) is None


# -------------------------------------------------------------- the calendar invitation (the local calendar)


async def invitations_of(env, notes, event_id: int) -> dict[Recipient, object]:
    """Each invitation an event calls for, as composed now, by recipient."""
    async with env.db.reader() as s:
        ev = await s.get(DomainEvent, event_id)
    return {
        o.recipient: await notes.compose(o.event_id, o.kind, o.recipient)
        for o in await notes.outgoing([ev])
        if o.kind == "ev.invitation"
    }


def ics_description(ics: bytes) -> str:
    """The calendar entry's description, as a calendar program shows it."""
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    return str(event["description"])


async def test_a_booking_sends_the_invitation_to_every_attendee_and_the_officer_the_booker_too(env):
    w = env.world
    notes = notes_of(env, invitations=True)
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)
    booked = await last_event(env, EventKind.BOOKED)
    sent = await invitations_of(env, notes, booked)
    assert len(sent) == 3 and officer(env) in sent  # the lead who booked, the head, the officer
    assert {r.kind for r in sent} == {"attendee", "officer"}
    message = sent[officer(env)]
    assert message.invitation.method == "REQUEST"
    assert message.text.startswith("Invitation: ") and FEB_3_TEXT in message.text
    assert message.text.endswith(
        "Open the attached invite.ics to add it to your calendar (or to update it there)."
    )
    assert b"METHOD:REQUEST" in message.invitation.ics


async def test_only_the_latest_change_of_a_meeting_sends_its_invitation(env):
    w = env.world
    notes = notes_of(env, invitations=True)
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], FEB_3)).meeting
    booked = await last_event(env, EventKind.BOOKED)
    await env.booking.add_attendee(lead, m.id, name="Sam Helper", email="sam.helper@elsewhere.example")
    added = await last_event(env, EventKind.ATTENDEE_ADDED)
    assert set((await invitations_of(env, notes, booked)).values()) == {None}  # the later change's carries it
    after_adding = await invitations_of(env, notes, added)
    assert len(after_adding) == 4 and None not in after_adding.values()  # the colleague added is invited too
    await env.booking.move(lead, m.id, local(2026, 2, 4, 14))
    moved = await last_event(env, EventKind.MOVED)
    assert set((await invitations_of(env, notes, added)).values()) == {
        None
    }  # its time is not the meeting's now
    update = (await invitations_of(env, notes, moved))[officer(env)]
    assert (
        update.text.startswith("Updated invitation: ") and "Wednesday 4 February 14:00–15:00" in update.text
    )


async def test_a_cancellation_sends_cancel_with_its_reason_and_stops_the_earlier_invitations(env):
    w = env.world
    notes = notes_of(env, invitations=True)
    lead = w.contact("low_primary.lead")
    m = (await env.booking.book(lead, w.schools["low_primary"], FEB_3)).meeting
    booked = await last_event(env, EventKind.BOOKED)
    await env.booking.cancel(lead, m.id, "Ofsted visit")
    cancelled = await last_event(env, EventKind.CANCELLED)
    assert set((await invitations_of(env, notes, booked)).values()) == {
        None
    }  # not a request for a cancelled TSM
    message = (await invitations_of(env, notes, cancelled))[officer(env)]
    assert message.invitation.method == "CANCEL" and b"METHOD:CANCEL" in message.invitation.ics
    assert message.text.startswith("Cancelled: ")
    assert "Reason for cancelling: Ofsted visit" in message.text
    assert ics_description(message.invitation.ics).endswith("\n\nReason: Ofsted visit")  # in the calendar too
    assert message.text.endswith("Open the attached cancel.ics to take it out of your calendar.")


async def test_a_cancellation_without_a_reason_says_none(env):
    w = env.world
    notes = notes_of(env, invitations=True)
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    await set_row(env, Meeting, m.id, status="cancelled")
    event = await add_event(env, EventKind.CANCELLED, w.officer("ann"), meeting_id=m.id)
    message = (await invitations_of(env, notes, event))[officer(env)]
    assert message.invitation.method == "CANCEL" and "Reason" not in message.text
    assert "Reason" not in ics_description(message.invitation.ics)


async def test_a_cancellation_for_a_meeting_not_cancelled_sends_no_cancel(env):
    w = env.world
    notes = notes_of(env, invitations=True)
    m = (await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)).meeting
    event = await add_event(env, EventKind.CANCELLED, w.officer("ann"), meeting_id=m.id, reason="typo")
    assert set((await invitations_of(env, notes, event)).values()) == {None}


async def test_without_a_calendar_to_read_the_entry_from_no_invitation_is_sent(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], FEB_3)
    bare = BookingService(env.db, LocalCalendar(env.db), env.ref, clock=env.clock)  # no calendar sync
    notes = Notifications(env.db, bare, env.conv, Records(env.db, clock=env.clock), invitations=True)
    sent = await invitations_of(env, notes, await last_event(env, EventKind.BOOKED))
    assert len(sent) == 3 and set(sent.values()) == {None}


# ------------------------------------------------------------------------------ an LA admin, a school invited


async def test_an_access_request_reaches_the_las_active_admins_with_the_asking_school_first(env):
    w = env.world
    await set_row(env, Officer, w.officers["bob"], is_admin=True)
    kw = {"la_id": w.la_id, "name": "Sam Guest", "email": "sam@100007.sch.example", "tenant": "t-1"}
    event = await add_event(env, EventKind.ACCESS_REQUESTED, "guest", school_id=w.schools["trust_b"], **kw)
    assert await told(env) == {("ev.access_request", officer(env, "bob"))}  # not the school's officer, Ann
    message = await env.jobs.notifications.compose(event, "ev.access_request", officer(env, "bob"))
    assert message.text == "Sam Guest asks for access to the TSM bot"
    schools = [c["title"] for c in inputs(message.card)["urn"]["choices"]]
    by_name = [
        "Allocated Trust Academy",
        "Bob's Primary",
        "High Primary School",
        "Low Primary School",
        "Oak Independent School",
        "Town High School",
        "Trust A Primary",
        "Trust B Primary",
        "Willow Special School",
    ]
    assert schools == ["Trust B Primary", *(n for n in by_name if n != "Trust B Primary")]
    # without a school, the LA's schools by name; an address and no name: the address
    nameless = await add_event(env, EventKind.ACCESS_REQUESTED, "guest", la_id=w.la_id, email="x@y.example")
    message = await env.jobs.notifications.compose(nameless, "ev.access_request", officer(env, "bob"))
    assert message.text == "x@y.example asks for access to the TSM bot"
    assert [c["title"] for c in inputs(message.card)["urn"]["choices"]] == by_name
    await set_row(env, Officer, w.officers["bob"], active=False)
    await add_event(env, EventKind.ACCESS_REQUESTED, "guest", **kw)
    assert await told(env) == set()  # no active admin: nobody


async def test_an_invitation_to_book_goes_to_the_schools_staff_from_its_officer(env):
    w = env.world
    event = await add_event(env, EventKind.INVITED, w.officer("ann"), school_id=w.schools["low_primary"])
    assert await told(env) == {
        ("ev.invite", contact(env, "low_primary.lead")),
        ("ev.invite", contact(env, "low_primary.head")),
    }
    message = await env.jobs.notifications.compose(event, "ev.invite", contact(env, "low_primary.lead"))
    assert message.text == "Ann Officer invites Low Primary School to book this term's TSM."
    assert [(a["title"], a["verb"]) for a in actions(message.card)] == [("Book a TSM", "book.start")]


async def test_an_invitation_to_a_school_with_no_link_officer_yet_waits_for_its_staff_until_one_is_linked(
    env,
):
    """The event still names the school's staff (no officer is no reason to tell nobody); the message is composed
    when it is sent, so it says nothing while no officer is linked and names the officer once one is."""
    w = env.world
    await set_row(env, School, w.schools["low_primary"], link_officer_id=None)
    event = await add_event(env, EventKind.INVITED, "admin", school_id=w.schools["low_primary"])
    assert await told(env) == {
        ("ev.invite", contact(env, "low_primary.lead")),
        ("ev.invite", contact(env, "low_primary.head")),
    }
    notes = env.jobs.notifications
    assert await notes.compose(event, "ev.invite", contact(env, "low_primary.lead")) is None
    await set_row(env, School, w.schools["low_primary"], link_officer_id=w.officers["bob"])
    message = await notes.compose(event, "ev.invite", contact(env, "low_primary.lead"))
    assert message.text == "Bob Officer invites Low Primary School to book this term's TSM."
