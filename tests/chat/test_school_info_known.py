"""The first booking card's free times take the school and its officer from the turn's school-info read
(``SchoolInfo.known``, issue 15 item 5) instead of reading them again: the same times as a read of their own, on
SQLite and PostgreSQL, with the access rule and the checks still run on them, and the school's booked terms read
with it."""

from __future__ import annotations

import pytest

from tsm.domain.errors import BookingRefused, NotAllowed

ASHCOMBE, BROOKFIELD = 990001, 990002


@pytest.fixture
def chat(chat_any_db):
    return chat_any_db


async def test_known_school_gives_the_same_times_and_is_still_checked(chat):
    app = chat.app
    lead = await chat.contact(ASHCOMBE)
    actor = await chat.identify(lead.who)
    info = await app.conversation.school_info(actor, lead_school := actor.school_id)
    known = info.known
    assert known is not None and [s.id for s in known.schools] == [lead_school]
    assert known.officer is not None and known.officer.id == info.officer_id
    assert known.officer.name == info.officer_name

    read = await app.booking.free_slots(actor, [lead_school], term="current", limit=24)
    given = await app.booking.free_slots(actor, [lead_school], term="current", limit=24, known=known)
    assert given.slots and given == read

    # Another school's contact handed this school's entities is refused as before: the rule runs on them.
    other = await chat.contact(BROOKFIELD)
    stranger = await chat.identify(other.who)
    with pytest.raises(NotAllowed):
        await app.booking.free_slots(stranger, [lead_school], term="current", known=known)
    # Entities for other ids than those asked for are not used: the schools asked for are read.
    theirs = await app.conversation.school_info(stranger, stranger.school_id)
    assert await app.booking.free_slots(stranger, [stranger.school_id], known=known) == (
        await app.booking.free_slots(stranger, [stranger.school_id], known=theirs.known)
    )

    # An officer who has left: the known officer (inactive) is refused as a read one is.
    known.officer.active = False
    with pytest.raises(BookingRefused, match="not available"):
        await app.booking.free_slots(actor, [lead_school], known=known)


async def test_booked_terms_come_with_the_school(chat):
    lead = await chat.contact(ASHCOMBE)
    actor = await chat.identify(lead.who)
    before = await chat.app.conversation.school_info(actor, actor.school_id)
    assert before.booked_term_ids == frozenset()
    offer = await chat.app.booking.free_slots(actor, [actor.school_id], term="current", limit=1)
    result = await chat.app.booking.book(actor, [actor.school_id], offer.slots[0].start, mode=offer.mode)
    after = await chat.app.conversation.school_info(actor, actor.school_id)
    assert after.booked_term_ids == frozenset({offer.term_id})
    await chat.app.booking.cancel(actor, result.meeting.id, reason="Test cancel")
    again = await chat.app.conversation.school_info(actor, actor.school_id)
    assert again.booked_term_ids == frozenset()


async def test_known_school_with_its_las_reference_data_in_memory_opens_no_session(chat, monkeypatch):
    """The first card's free times on the in-database calendar: the school and officer from the turn's read, the
    LA's policy and terms from memory, the officer's diary in one statement of its own; a session (and its setup and
    close) only when the LA's data has to be read, and then the same times."""
    app = chat.app
    lead = await chat.contact(ASHCOMBE)
    actor = await chat.identify(lead.who)
    info = await app.conversation.school_info(actor, actor.school_id)
    app.booking.ref.invalidate()
    assert app.booking.ref.cached_for_la(info.known.schools[0].la_id) is None
    first = await app.booking.free_slots(actor, [actor.school_id], limit=24, known=info.known)  # reads the LA
    assert app.booking.ref.cached_for_la(info.known.schools[0].la_id) is not None

    def no_session():
        raise AssertionError("a session was opened")

    monkeypatch.setattr(app.booking.db, "reader", no_session)
    again = await app.booking.free_slots(actor, [actor.school_id], limit=24, known=info.known)
    assert again == first and first.slots
    app.booking.ref.ttl = 0  # the terms are due to be read again: a session, the same times
    with pytest.raises(AssertionError, match="a session was opened"):
        await app.booking.free_slots(actor, [actor.school_id], limit=24, known=info.known)
