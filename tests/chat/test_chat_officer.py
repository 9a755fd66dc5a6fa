"""Officers in conversation (my week, my schools, book for a school, add a contact), the school answering a
time its officer booked, and the verbs of the scheduler's cards (officer.offer_slots, offer.pick_slot,
meeting.move)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chatkit import Person, button, choices, facts, text_of, titles, told
from sqlmodel import select
from test_chat_cards import dates_written_another_way

from tsm.adapters.db.meetings import MeetingAttendee
from tsm.chat import Who
from tsm.domain.text import moment_text
from tsm.messaging import Recipient
from tsm.services.actors import Actor

LONDON = ZoneInfo("Europe/London")

BROOKFIELD = 990002  # Priya Shah's, above average (one a year is enough)
ELMSTEAD = 990005  # Priya Shah's, no attendance figure
UPTON = 990021  # Priya Shah's, LA-maintained special: contacted directly
ASHCOMBE = 990001  # Alex Carter's


async def free_start(chat, school_id, mode="teams", *, after: datetime | None = None) -> datetime:
    offer = await chat.app.booking.free_slots(Actor.system(), school_id, mode=mode)
    return next(sl.start for sl in offer.slots if after is None or sl.start >= after)


async def priya(chat) -> Person:
    return await chat.officer_of(BROOKFIELD)


async def test_officer_books_for_a_school_and_the_school_accepts(chat):
    officer = await priya(chat)
    school = await chat.school(BROOKFIELD)
    picker = await chat.say(officer, "book for school")
    assert str(school.id) in [c["value"] for c in choices(picker.card, "schoolId")]
    start = await chat.press(officer, picker, "Next", schoolId=str(school.id))
    assert "needs one TSM this academic year (termly is welcome)" in text_of(start)  # the officer's words
    assert "The school's attendance: 97.7%" in text_of(start)  # 2024/25 autumn+spring: 94.84 + 2.9
    dates = await chat.press(officer, start, "More dates", mode="on_site")
    times = await chat.press(officer, dates, "Show times")
    review = await chat.press(officer, times, "Choose this time")
    assert "Book this TSM for the school?" in text_of(review)
    done = await chat.press(officer, review, "Book it")
    assert not done.error, text_of(done)
    assert facts(done)["Where"] == school.address
    (m,) = await chat.meetings_of(BROOKFIELD)
    assert m.booked_by == f"officer:{officer.id}"

    # each of the school's contacts (attendance lead, senior leader) gets a card to accept or pick another time
    lead = await chat.contact(BROOKFIELD)
    leader = await chat.contact(BROOKFIELD, "senior_leader")
    done_told = await told(chat)
    assert {r for r, _ in done_told} == {Recipient("contact", lead.id), Recipient("contact", leader.id)}
    card = done_told[0][1].card
    assert {"Accept", "Move to this time", "Other dates"} <= set(titles(card))
    from tsm.chat import Reply

    proposal = Reply(card=card)
    accepted = await chat.press(lead, proposal, "Accept")
    assert not accepted.error and "Priya Shah has been told" in text_of(accepted)
    accepted_told = await told(chat)
    assert accepted_told[0][0] == Recipient("officer", officer.id)
    async with chat.app.db.reader() as s:
        answer = (
            await s.exec(
                select(MeetingAttendee.response).where(
                    MeetingAttendee.meeting_id == m.id, MeetingAttendee.contact_id == lead.id
                )
            )
        ).one()
    assert answer == "accepted"

    # the senior leader picks another time from the same card: the meeting moves, the officer is told
    other = choices(card, "start")[2]["value"]
    moved = await chat.press(leader, proposal, "Move to this time", start=other)
    assert not moved.error, text_of(moved)
    assert (await chat.meeting(m.id)).start.isoformat() == other
    moved_told = await told(chat)
    assert [r for r, m in moved_told if "has moved" in m.text] == [Recipient("officer", officer.id)]


async def test_a_proposal_card_is_for_that_school_only(chat):
    officer = await priya(chat)
    school = await chat.school(BROOKFIELD)
    start = await chat.act(officer, "officer.pick_school", {"schoolId": school.id})
    dates = await chat.press(officer, start, "More dates", mode="teams")
    done = await chat.press(
        officer,
        await chat.press(officer, await chat.press(officer, dates, "Show times"), "Choose this time"),
        "Book it",
    )
    assert not done.error, text_of(done)
    from tsm.chat import Reply

    done_told = await told(chat)
    card = Reply(card=done_told[0][1].card)
    stranger = await chat.contact(ASHCOMBE)
    before = await chat.snapshot()
    r = await chat.press(stranger, card, "Move to this time", start=choices(card.card, "start")[0]["value"])
    assert r.error and "sent to another school" in text_of(r)
    r = await chat.press(stranger, card, "Accept")
    assert r.error and "another school's meeting" in text_of(r)
    assert await chat.snapshot() == before


async def test_officer_cannot_book_for_a_school_not_on_their_list(chat):
    officer = await priya(chat)
    ashcombe = await chat.school(ASHCOMBE)
    r = await chat.act(officer, "officer.pick_school", {"schoolId": ashcombe.id})
    assert r.error and "not on your list" in text_of(r)
    r = await chat.act(officer, "officer.offer_slots", {"schoolId": ashcombe.id})
    assert r.error and "not on your list" in text_of(r)


async def test_unbooked_card_offer_times_sends_a_self_booking_school_its_invitation(chat):
    """Issue 13, item 13: "Offer times" sends the school something it can answer, not the officer's own booking."""
    officer = await priya(chat)
    brookfield = await chat.school(BROOKFIELD)
    r = await chat.act(officer, "officer.offer_slots", {"schoolId": brookfield.id})
    assert not r.error and "Invitation to book on its way" in text_of(r)
    assert len(await chat.meetings_of(BROOKFIELD)) == 0  # nothing booked by the officer


async def test_unbooked_card_offer_times_for_a_contacted_directly_school_starts_the_officers_proposal(chat):
    officer = await priya(chat)
    upton = await chat.school(UPTON)
    r = await chat.act(officer, "officer.offer_slots", {"schoolId": upton.id})
    assert not r.error and "contacted directly: you arrange its TSMs" in text_of(r)
    dates = await chat.press(officer, r, "More dates", mode="teams")
    done = await chat.press(
        officer,
        await chat.press(officer, await chat.press(officer, dates, "Show times"), "Choose this time"),
        "Book it",
    )
    assert (
        not done.error and len(await chat.meetings_of(UPTON)) == 1
    )  # the officer books a contacted-directly school


async def test_my_schools_shows_each_status(chat):
    officer = await priya(chat)
    brookfield, elmstead = await chat.school(BROOKFIELD), await chat.school(ELMSTEAD)
    first = await free_start(chat, brookfield.id, after=chat.clock.now + timedelta(days=3))
    m = (await chat.app.booking.book(Actor.system(), brookfield.id, first, mode="teams")).meeting
    held = (
        await chat.app.booking.book(
            Actor.system(), elmstead.id, await free_start(chat, elmstead.id), mode="teams"
        )
    ).meeting
    chat.clock.now = held.end + timedelta(hours=1)
    await chat.app.booking.mark_held(Actor.system(), held.id)
    r = await chat.say(officer, "my schools")
    f = facts(r)
    # One way of writing a date and time (issue 14, item 7d): not "Wed 09 Dec 09:00" here and "Wednesday 9 December"
    # on the school's cards.
    assert f["Brookfield Infant School (990002)"] == f"Booked: {moment_text(first, LONDON)}, Teams"
    assert not dates_written_another_way(text_of(r))
    assert f["Elmstead Primary School (990005)"].startswith("Held")
    assert f["Upton Lodge School (990021)"] == "Not booked (contacted directly: you arrange it)"
    assert f["Fernley CE VC Primary School (990008)"] == "Not booked (one a year is enough)"
    assert "1 booked, 1 held" in text_of(r)
    to_book = {c["title"] for c in choices(r.card, "schoolId")}
    assert "Upton Lodge School" in to_book and "Brookfield Infant School" not in to_book
    assert m.id


async def test_my_week_lists_the_coming_week_and_messages_that_could_not_be_delivered(chat):
    officer = await priya(chat)
    brookfield = await chat.school(BROOKFIELD)
    await chat.app.booking.book(
        Actor.system(), brookfield.id, await free_start(chat, brookfield.id, "on_site"), mode="on_site"
    )
    later = await chat.school(990008)
    await chat.app.booking.book(
        Actor.system(),
        later.id,
        await free_start(chat, later.id, after=chat.clock.now + timedelta(days=9)),
        mode="teams",
    )
    # The proposals to Brookfield's staff find no app installed: delivered through the ledger, undeliverable.
    from fakes.messenger import ScriptedMessenger

    from scheduler.service import build_jobs

    jobs = build_jobs(chat.app, ScriptedMessenger(installs=chat.app.db), worker_id="w1")
    assert (await jobs.events()).undeliverable >= 2
    r = await chat.say(officer, "my week")
    words = text_of(r)
    assert "Your coming week: 1 TSM" in words and "Brookfield Infant School" in words
    assert "School: Fernley" not in words  # 10 December is beyond the coming week
    assert f"On site: {brookfield.address}" in words
    assert (
        "Not delivered: proposal to" in words and "(Brookfield Infant School), who has not installed" in words
    )


async def test_officer_adds_a_contact_who_can_then_book(chat):
    officer = await priya(chat)
    r = await chat.say(officer, "add contact")
    added = await chat.press(
        officer,
        r,
        "Add contact",
        urn=str(BROOKFIELD),
        name="Jo Newhead",
        email="jo.newhead@demo.example",
        role="senior_leader",
    )
    assert not added.error and facts(added)["Role"] == "senior leader"
    dup = await chat.press(
        officer,
        r,
        "Add contact",
        urn=str(BROOKFIELD),
        name="Jo Newhead",
        email="jo.newhead@demo.example",
        role="senior_leader",
    )
    assert dup.error and "already a contact" in text_of(dup)
    not_mine = await chat.press(
        officer,
        r,
        "Add contact",
        urn=str(ASHCOMBE),
        name="Al Other",
        email="al.other@demo.example",
        role="other",
    )
    assert not_mine.error and "not on your list" in text_of(not_mine)
    jo = Person(
        Who(email="jo.newhead@demo.example", name="Jo Newhead"), 0, "Jo Newhead", "jo.newhead@demo.example"
    )
    book = await chat.say(jo, "book")
    assert "Book your TSM" in text_of(book)
    lead = await chat.contact(BROOKFIELD)
    r = await chat.act(lead, "contact.add", {"urn": BROOKFIELD, "name": "X Y", "email": "x.y@demo.example"})
    assert r.error and "not open to you" in text_of(r)


# ---------------------------------------------------------------------- the scheduler's cards


async def test_next_tsm_offer_pick_slot_by_the_school(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    free = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="teams", limit=3)
    data = {"schoolId": school.id, "start": free.slots[1].start.isoformat(), "mode": "teams"}
    r = await chat.act(lead, "offer.pick_slot", data)
    assert "Who will attend?" in text_of(r)  # the school still says who attends, then confirms
    done = await chat.press(lead, await chat.press(lead, r, "Next"), "Book it")
    assert not done.error and (await chat.meetings_of(ASHCOMBE))[0].start == free.slots[1].start


async def test_next_tsm_offer_pick_slot_by_the_officer_books_and_asks_the_school(chat):
    officer = await priya(chat)
    school = await chat.school(BROOKFIELD)
    free = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="on_site", limit=2)
    r = await chat.act(
        officer,
        "offer.pick_slot",
        {"schoolId": school.id, "start": free.slots[0].start.isoformat(), "mode": "on_site"},
    )
    assert not r.error and "Booked for Brookfield Infant School" in text_of(r)
    r_told = await told(chat)
    assert len(r_told) == 2 and all(rc.kind == "contact" for rc, _ in r_told)


async def test_pick_slot_of_a_time_no_longer_free_shows_fresh_times(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    free = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="teams", limit=1)
    taken = free.slots[0].start
    await chat.app.booking.book(Actor.system(), (await chat.school(990007)).id, taken, mode="teams")
    before = await chat.snapshot()
    r = await chat.act(
        lead, "offer.pick_slot", {"schoolId": school.id, "start": taken.isoformat(), "mode": "teams"}
    )
    assert r.error and "no longer free" in text_of(r)
    assert taken.isoformat() not in [c["value"] for c in choices(r.card, "start")]
    assert await chat.snapshot() == before


async def test_leader_rebook_card_meeting_move(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    m = (
        await chat.app.booking.book(
            Actor.system(), school.id, await free_start(chat, school.id), mode="teams"
        )
    ).meeting
    free = await chat.app.booking.free_slots(
        Actor.system(), school.id, term=m.term_id, mode="teams", limit=5, exclude_meeting_id=m.id
    )
    r = await chat.act(lead, "meeting.move", {"meetingId": m.id, "start": free.slots[3].start.isoformat()})
    assert not r.error and "Your TSM has moved" in text_of(r)
    assert (await chat.meeting(m.id)).start == free.slots[3].start
    # not a free time (a Sunday): refused, nothing changed
    before = await chat.snapshot()
    r = await chat.act(lead, "meeting.move", {"meetingId": m.id, "start": "2026-12-06T10:00:00+00:00"})
    assert r.error and await chat.snapshot() == before
    assert button(r.card, "Move to this time")


async def test_officer_moves_and_cancels_and_the_school_is_told(chat):
    officer = await priya(chat)
    school = await chat.school(BROOKFIELD)
    m = (
        await chat.app.booking.book(
            Actor.system(), school.id, await free_start(chat, school.id), mode="teams"
        )
    ).meeting
    r = await chat.say(officer, "my meetings")
    assert "Add a colleague" not in titles(r.card) and "Move" in titles(r.card)
    r = await chat.act(officer, "meeting.cancel", {"meetingId": m.id, "reason": "Officer off sick"})
    assert not r.error and (await chat.meeting(m.id)).status == "cancelled"
    r_told = await told(chat)
    assert {rc.kind for rc, _ in r_told} == {"contact"} and "Officer off sick" in r_told[0][1].text
    assert button(r.card, "Book another time")["verb"] == "officer.pick_school"


async def test_the_officers_booking_card_speaks_to_the_officer_not_to_the_school(chat):
    """Issue 13, item 13: the school's entitlement message ("Your attendance ... meet us termly") is the school's;
    the officer booking for it reads what the LA expects of that school, and why."""
    officer = await priya(chat)
    r = await chat.say(officer, "book")
    start = (
        await chat.press(officer, r, "Next", schoolId=str((await chat.school(BROOKFIELD)).id))
        if "schoolId" in str(r.card)
        else r
    )
    text = text_of(start)
    assert "Your attendance" not in text and "meet us termly" not in text
    assert "Brookfield Infant School needs one TSM this academic year (termly is welcome)" in text
    assert "its attendance is not below the national average" in text
