"""School staff in conversation: the whole booking, each refusal in words, my meetings, move, cancel, add a
colleague, "our senior leader can't attend". Driven through Router.dispatch with the demo LA."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from chatkit import button, choices, facts, input_values, inputs, make_chat, text_of, titles, told
from sqlmodel import select

from tsm.adapters.db.directory import LA, School, SchoolContact
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import MeetingAttendee, MeetingLeaderUnavailable
from tsm.chat import ChatContext
from tsm.chat.common import conversation
from tsm.messaging import Recipient
from tsm.services.actors import Actor

ASHCOMBE = 990001  # primary, below average, officer Alex Carter (an admin)
BROOKFIELD = 990002  # primary, above average, officer Priya Shah
NORTHGATE = 990014  # secondary
BEACON = 990027  # independent: contacted directly
UPTON = 990021  # LA-maintained special: contacted directly
ST_BEDE = 990007  # another of Alex Carter's schools


async def walk_to_dates(chat, person, mode="teams"):
    r = await chat.say(person, "book")
    assert not r.error, text_of(r)
    return await chat.press(person, r, "More dates", mode=mode)


async def walk_to_confirm(chat, person, mode="teams", *, date_index=0, time_index=0, **people):
    dates = await walk_to_dates(chat, person, mode)
    day = choices(dates.card, "date")[date_index]["value"]
    times = await chat.press(person, dates, "Show times", date=day)
    start = choices(times.card, "start")[time_index]["value"]
    who = await chat.press(person, times, "Choose this time", start=start)
    review = await chat.press(person, who, "Next", **people)
    return review, start


async def book_through_chat(chat, person, **kw):
    review, start = await walk_to_confirm(chat, person, **kw)
    return await chat.press(person, review, "Book it"), start


async def test_the_whole_booking_conversation(chat):
    lead = await chat.contact(ASHCOMBE)
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    officer = await chat.officer_of(ASHCOMBE)

    start_card = await chat.say(lead, "book")
    words = text_of(start_card)
    assert "below the national average" in words and "primary schools" in words
    assert "Alex Carter" in words
    # demo: Teams first, and chosen already; the mode is a choice with one Next (Teams cuts a button's title)
    assert [c["title"] for c in choices(start_card.card, "mode")] == [
        "On Microsoft Teams (recommended)",
        "In person at school",
    ]
    assert input_values(start_card.card)["mode"] == "teams"
    assert titles(start_card.card) == ["Choose this time", "More dates", "Stop"]

    dates = await chat.press(lead, start_card, "More dates")
    days = choices(dates.card, "date")
    assert days and all(re.search(r"\(\d+ times?\)$", d["title"]) for d in days)
    # 48 hours' notice from Monday 09:00: the first day on offer is Wednesday 25 November
    assert days[0]["value"] == "2026-11-25"
    times = await chat.press(lead, dates, "Show times", date=days[1]["value"])
    start = choices(times.card, "start")[0]["value"]
    who = await chat.press(lead, times, "Choose this time", start=start)
    leader_input = who.card and [c["value"] for c in choices(who.card, "leader")]
    assert leader_input == [str(leader.id)] and input_values(who.card)["leader"] == str(leader.id)
    review = await chat.press(lead, who, "Next")
    assert facts(review)["Invited"].startswith(f"{leader.name} (senior leader)")
    assert await chat.count_meetings() == 0  # nothing is booked before "Book it"

    done = await chat.press(lead, review, "Book it")
    assert not done.error, text_of(done)
    f = facts(done)
    assert f["When"].startswith("Thursday 26 November 09:00")
    assert f["Where"] == "Microsoft Teams (no joining link yet)"  # the local calendar makes none: no promise
    assert f["Link officer"] == "Alex Carter"
    assert f["Invitation"] == (
        "Being emailed to everyone invited and the link officer; also attached here (.ics): "
        "open it to add the TSM to your calendar"
    )
    ((name, ctype, ics),) = done.files
    assert (name, ctype) == ("tsm-invitation.ics", "text/calendar") and b"BEGIN:VCALENDAR" in ics
    assert leader.email.encode() in ics
    done_told = await told(chat)
    # the officer is told; the colleague invited gets the confirmation card (the lead saw it here)
    assert [r for r, m in done_told if "booked its TSM" in m.text] == [Recipient("officer", officer.id)]
    assert [r for r, m in done_told if m.text.startswith("TSM booked")] == [Recipient("contact", leader.id)]

    meetings = await chat.meetings_of(ASHCOMBE)
    assert len(meetings) == 1 and meetings[0].mode == "teams" and meetings[0].start.isoformat() == start
    async with chat.app.db.reader() as s:
        invited = {
            a.contact_id
            for a in await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meetings[0].id))
        }
    assert invited == {lead.id, leader.id}


async def test_on_site_confirmation_shows_the_school_address(chat):
    lead = await chat.contact(ASHCOMBE)
    done, _ = await book_through_chat(chat, lead, mode="on_site")
    school = await chat.school(ASHCOMBE)
    assert facts(done)["Where"] == school.address
    assert (await chat.meetings_of(ASHCOMBE))[0].mode == "on_site"


async def test_graph_calendar_says_the_invitation_was_emailed(chat):
    chat.app.settings = chat.app.settings.model_copy(update={"calendar_backend": "graph"})
    done, _ = await book_through_chat(chat, await chat.contact(ASHCOMBE))
    assert facts(done)["Invitation"] == "Emailed from Outlook to everyone invited"


async def test_kent_offers_on_site_first(chat):
    async with chat.app.db.transaction() as s:
        la = (await s.exec(select(LA))).first()
        la.policy = "kent"
        s.add(la)
    chat.app.reference.invalidate()
    r = await chat.say(await chat.contact(ASHCOMBE), "book")
    assert choices(r.card, "mode")[0]["title"] == "In person at school (recommended)"
    assert input_values(r.card)["mode"] == "on_site"
    assert "Every Kent school holds one TSM each term" in text_of(r)


@pytest.mark.parametrize(
    "urn, words",
    [
        (ASHCOMBE, "below the national average"),
        (BROOKFIELD, "one TSM this academic year is enough, but you are welcome to meet us termly"),
        (NORTHGATE, "encourage all secondary schools to book a TSM for each term"),
    ],
)
async def test_entitlement_is_said_up_front(chat, urn, words):
    r = await chat.say(await chat.contact(urn), "book")
    assert words in text_of(r)


@pytest.mark.parametrize("urn", [BEACON, UPTON])
async def test_contacted_directly_school_is_told_and_its_officer_too(chat, urn):
    lead = await chat.contact(urn)
    officer = await chat.officer_of(urn)
    r = await chat.say(lead, "book")
    words = text_of(r)
    assert "contact you directly" in words and officer.name in words
    r_told = await told(chat)
    ((recipient, message),) = r_told
    assert recipient == Recipient("officer", officer.id) and "contacted directly" in message.text
    # the buttons lead on (no dead end), and a forged mode step is refused the same way
    assert "My meetings" in titles(r.card)
    forged = await chat.act(lead, "book.pick_mode", {"mode": "teams"})
    forged_told = await told(chat)
    assert "contact you directly" in text_of(forged) and forged_told
    assert await chat.meetings_of(urn) == []


@pytest.mark.parametrize("urn", [BEACON, UPTON])
async def test_a_school_the_la_contacts_is_never_offered_a_booking_and_is_told_who_will_contact_it(chat, urn):
    """Issue 14 item 7g: "my meetings" offered "Book this term's now?", which looped back to "you don't need to
    book". No card such a school sees offers booking; each says who will contact it."""
    lead = await chat.contact(urn)
    officer = await chat.officer_of(urn)
    seen = [await chat.say(lead, "my meetings"), await chat.say(lead, "help"), await chat.say(lead, "book")]
    meetings, help_, refused = seen
    assert "Book this term's now?" not in text_of(meetings)
    assert "contact you directly" in text_of(meetings) and officer.name in text_of(meetings)
    assert officer.name in text_of(help_) and "don't need to book" in text_of(help_)
    assert "**book**" not in [f.split(":")[0] for f in text_of(help_).splitlines()]
    for (
        reply
    ) in seen:  # every button leads somewhere else than a booking (no loop back to "don't need to book")
        assert not {"Book a TSM", "Book it", "Choose this time"} & set(titles(reply.card)), titles(reply.card)
        for title in titles(reply.card):
            pressed = await chat.press(lead, reply, title)
            assert "You don't need to book" not in text_of(pressed), title
    assert "You don't need to book" in text_of(refused)  # typing "book" still says why, with who


async def test_a_school_the_la_contacts_cancelling_its_tsm_is_not_offered_a_booking_either(chat):
    """Issue 14 items 7f/7g: the cancellation's Undo and "Book another time" would loop back to "you don't need to
    book" for a school the LA contacts directly: it is told its officer will contact it."""
    school = await chat.school(UPTON)
    start = (await chat.app.booking.free_slots(Actor.system(), school.id, mode="teams")).slots[0].start
    await chat.app.booking.book(Actor.system(), school.id, start, mode="teams")  # the LA arranged it
    lead = await chat.contact(UPTON)
    officer = await chat.officer_of(UPTON)
    r = await chat.say(lead, "cancel")
    confirm = await chat.press(lead, r, "Continue", reason="Ofsted visit that week")
    done = await chat.press(lead, confirm, "Yes, cancel it")
    assert not done.error and titles(done.card) == ["My meetings", "Help"]
    assert f"{officer.name} has been told and will contact you" in text_of(done)


async def test_a_school_the_la_contacts_with_no_link_officer_yet_is_told_who_will_say(chat):
    async with chat.app.db.transaction() as s:
        school = await s.get(School, (await chat.school(UPTON)).id)
        school.link_officer_id = None
        s.add(school)
    lead = await chat.contact(UPTON)
    meetings = await chat.say(lead, "my meetings")
    assert "Your LA's attendance team will tell you who." in text_of(meetings)
    assert not {"Book a TSM"} & set(titles(meetings.card))
    refused = await chat.say(lead, "book")
    assert "We have let them know" not in text_of(refused)  # nobody to tell: nothing recorded
    assert await told(chat) == []


async def test_already_booked_this_term_offers_next_term_then_refuses_a_second(chat):
    lead = await chat.contact(ASHCOMBE)
    dates = await walk_to_dates(chat, lead)  # an autumn offer, kept on the card
    await book_through_chat(chat, lead)
    again = await chat.say(lead, "book")
    nxt = await chat.press(lead, again, "More dates", mode="teams")
    words = text_of(nxt)
    assert (
        "You already have the Autumn term 2026-27 TSM" in words
        and "These dates are for the Spring term 2026-27" in words
    )
    assert choices(nxt.card, "date")[0]["value"] >= "2027-01-05"
    # the old autumn card, used again: refused in words, nothing changed
    before = await chat.snapshot()
    times = await chat.press(lead, dates, "Show times", date=choices(dates.card, "date")[3]["value"])
    who = await chat.press(lead, times, "Choose this time")
    review = await chat.press(lead, who, "Next")
    r = await chat.press(lead, review, "Book it")
    assert (
        r.error
        and "already booked for the autumn term" in text_of(r)
        and "Only one TSM per term" in text_of(r)
    )
    assert "My meetings" in titles(r.card)
    assert await chat.snapshot() == before


async def test_outside_term_time_is_refused_in_words(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    # the scheduler's next-TSM card carries schoolId + start + mode: a start in the Christmas holidays
    r = await chat.act(
        lead,
        "offer.pick_slot",
        {"schoolId": school.id, "start": "2026-12-29T10:00:00+00:00", "mode": "teams"},
    )
    assert r.error and "is outside term time" in text_of(r)
    r = await chat.act(
        lead,
        "offer.pick_slot",
        {"schoolId": school.id, "start": "2026-10-28T10:00:00+00:00", "mode": "teams"},
    )
    assert "half term" in text_of(r)
    assert await chat.meetings_of(ASHCOMBE) == []


async def test_just_taken_shows_fresh_times(chat):
    lead = await chat.contact(ASHCOMBE)
    review, start = await walk_to_confirm(chat, lead)
    # meanwhile another school of the same officer takes that very time
    other = await chat.school(ST_BEDE)
    await chat.app.booking.book(Actor.system(), other.id, datetime.fromisoformat(start), mode="teams")
    r = await chat.press(lead, review, "Book it")
    assert r.error and "has just been taken" in text_of(r) and "Just taken" in text_of(r)
    fresh = [c["value"] for c in choices(r.card, "start")]
    assert fresh and start not in fresh
    assert await chat.meetings_of(ASHCOMBE) == []
    # one of the fresh times goes on to the attendees step and books
    who = await chat.press(lead, r, "Choose this time")
    done = await chat.press(lead, await chat.press(lead, who, "Next"), "Book it")
    assert not done.error and len(await chat.meetings_of(ASHCOMBE)) == 1


async def test_stop_and_help_are_never_a_dead_end(chat):
    lead = await chat.contact(ASHCOMBE)
    dates = await walk_to_dates(chat, lead)
    r = await chat.press(lead, dates, "Stop")
    assert "nothing was changed" in text_of(r) and "Book a TSM" in titles(r.card)
    r = await chat.say(lead, "what is this")
    assert "didn't understand" in text_of(r) and "book" in text_of(r)


async def test_a_flow_continues_on_another_instance(chat, sqlite_url, tmp_path):
    lead = await chat.contact(ASHCOMBE)
    dates = await walk_to_dates(chat, lead)
    second = await make_chat(sqlite_url, tmp_path / "second")  # a restart: same database, new App and router
    try:
        times = await second.press(lead, dates, "Show times")
        who = await second.press(lead, times, "Choose this time")
        done = await second.press(lead, await second.press(lead, who, "Next"), "Book it")
        assert not done.error and len(await second.meetings_of(ASHCOMBE)) == 1
    finally:
        await second.app.close()


async def test_an_expired_card_gives_fresh_dates(chat):
    lead = await chat.contact(ASHCOMBE)
    dates = await walk_to_dates(chat, lead)
    chat.clock.now += timedelta(days=4)
    r = await chat.press(lead, dates, "Show times")
    assert "expired" in text_of(r)
    assert choices(r.card, "date")[0]["value"] >= "2026-11-29"
    assert (
        button(r.card, "Show times")["data"]["offerId"] != button(dates.card, "Show times")["data"]["offerId"]
    )


async def test_book_it_on_a_card_left_open_for_days_still_books_when_free(chat):
    lead = await chat.contact(ASHCOMBE)
    review, start = await walk_to_confirm(chat, lead, date_index=5)
    chat.clock.now += timedelta(days=4)
    done = await chat.press(lead, review, "Book it")
    assert not done.error, text_of(done)
    assert (await chat.meetings_of(ASHCOMBE))[0].start.isoformat() == start


# ---------------------------------------------------------------------- my meetings


async def booked(chat, urn=ASHCOMBE):
    lead = await chat.contact(urn)
    done, start = await book_through_chat(chat, lead)
    assert not done.error, text_of(done)
    await told(chat)  # what the booking told others is the booking test's business: start from a clean slate
    return lead, (await chat.meetings_of(urn))[-1]


async def test_my_meetings_lists_with_actions(chat):
    lead, m = await booked(chat)
    r = await chat.say(lead, "my meetings")
    assert "Your upcoming TSMs" in text_of(r)
    assert {"Move", "Cancel", "Add a colleague", "Senior leader can't attend"} <= set(titles(r.card))
    assert button(r.card, "Move")["data"]["meetingId"] == m.id


async def test_move_within_the_term(chat):
    lead, m = await booked(chat)
    officer = await chat.officer_of(ASHCOMBE)
    r = await chat.say(lead, "move")
    assert "within its own term" in text_of(r)
    day = choices(r.card, "date")[-1]["value"]
    times = await chat.press(lead, r, "Show times", date=day)
    new = choices(times.card, "start")[0]["value"]
    review = await chat.press(lead, times, "Choose this time", start=new)
    assert "Move the TSM to this time?" in text_of(review)
    done = await chat.press(lead, review, "Move it")
    assert not done.error, text_of(done)
    after = await chat.meeting(m.id)
    assert after.start.isoformat() == new and after.status == "moved" and after.term_id == m.term_id
    assert facts(done)["Was"].startswith("Thursday 26 November") or facts(done)["Was"].startswith("Wednesday")
    done_told = await told(chat)
    [to_officer] = [m for r, m in done_told if r == Recipient("officer", officer.id)]
    assert "has moved" in to_officer.text
    assert done.files and b"SEQUENCE:1" in done.files[0][2]


async def test_move_to_another_term_is_refused(chat):
    lead, m = await booked(chat)
    before = await chat.snapshot()
    r = await chat.act(lead, "meeting.move", {"meetingId": m.id, "start": "2027-01-12T10:00:00+00:00"})
    assert r.error and "not one of this meeting's free times in its term" in text_of(r)
    assert await chat.snapshot() == before


async def test_cancel_with_reason_and_confirmation(chat):
    lead, m = await booked(chat)
    r = await chat.say(lead, "cancel")
    assert inputs(r.card)["reason"]["isRequired"] is True
    short = await chat.press(lead, r, "Continue", reason="no")
    assert short.error and "short reason" in text_of(short)
    confirm = await chat.press(lead, r, "Continue", reason="Ofsted visit that week")
    assert "Cancel this TSM for good?" in text_of(confirm) and (await chat.meeting(m.id)).status == "booked"
    done = await chat.press(lead, confirm, "Yes, cancel it")
    assert not done.error and (await chat.meeting(m.id)).status == "cancelled"
    done_told = await told(chat)
    assert "Ofsted visit that week" in done_told[0][1].text
    assert "Book another time" in titles(done.card)  # the cheap undo: book again
    again = await chat.press(lead, done, "Book another time")
    assert inputs(again.card)["mode"]["label"] == "How would you like to meet?"


async def _cancelled(chat):
    lead, m = await booked(chat)
    r = await chat.say(lead, "cancel")
    confirm = await chat.press(lead, r, "Continue", reason="Ofsted visit that week")
    done = await chat.press(lead, confirm, "Yes, cancel it")
    assert not done.error and (await chat.meeting(m.id)).status == "cancelled"
    await told(chat)
    return lead, m, done


async def test_undo_after_cancelling_books_the_same_time_again_while_it_is_free(chat):
    """Issue 14 item 7f: the cancellation offers Undo; pressing it books the same time again, with the same people,
    through the booking service's checks (so the officer is told of a booking), and only once."""
    lead, m, done = await _cancelled(chat)
    assert titles(done.card)[0] == "Undo" and len(titles(done.card)) <= 3
    invited = sorted(a.email for a in await _attendees(chat, m.id))
    # Another school's staff, with this card's data: refused, nothing booked.
    stranger = await chat.contact(BROOKFIELD)
    forged = await chat.act(stranger, "meeting.undo_cancel", {"meetingId": m.id})
    assert forged.error and await chat.count_meetings() == 1
    undone = await chat.press(lead, done, "Undo")
    assert not undone.error, text_of(undone)
    assert "Cancellation undone" in text_of(undone)
    again = [x for x in await chat.meetings_of(ASHCOMBE) if x.status == "booked"]
    assert [(x.start, x.mode) for x in again] == [(m.start, m.mode)] and again[0].id != m.id
    assert sorted(a.email for a in await _attendees(chat, again[0].id)) == invited
    officer = await chat.officer_of(ASHCOMBE)
    assert any(
        r == Recipient("officer", officer.id) and "booked its TSM" in msg.text for r, msg in await told(chat)
    )
    twice = await chat.press(lead, done, "Undo")  # an old card pressed again: no second booking
    assert twice.error and "already booked" in text_of(twice)
    assert len([x for x in await chat.meetings_of(ASHCOMBE) if x.status == "booked"]) == 1


async def test_undo_says_clearly_when_the_time_has_gone(chat):
    lead, m, done = await _cancelled(chat)
    other = await chat.contact(ST_BEDE)  # the same officer's school takes the time meanwhile
    taken = await chat.app.booking.book(
        await chat.identify(other.who), [(await chat.school(ST_BEDE)).id], m.start, mode=m.mode
    )
    assert taken.meeting.start == m.start
    gone = await chat.press(lead, done, "Undo")
    assert gone.error and "is no longer free" in text_of(gone) and "the cancellation stands" in text_of(gone)
    assert {"Book another time", "My meetings"} <= set(titles(gone.card))
    assert [x.status for x in await chat.meetings_of(ASHCOMBE)] == ["cancelled"]


async def test_undo_of_a_tsm_not_cancelled_or_past_books_nothing(chat):
    other, booked_one = await booked(chat, ST_BEDE)
    r = await chat.act(other, "meeting.undo_cancel", {"meetingId": booked_one.id})
    assert r.error and "not cancelled, so there is nothing to undo" in text_of(r)
    lead, m, done = await _cancelled(chat)
    chat.clock.now = m.start + timedelta(minutes=5)
    late = await chat.press(lead, done, "Undo")
    assert late.error and "has passed" in text_of(late) and "Book another time" in titles(late.card)
    assert [x.status for x in await chat.meetings_of(ASHCOMBE)] == ["cancelled"]


async def test_an_officers_undo_books_the_time_again_as_their_booking_for_the_school(chat):
    """The officer cancelled: Undo books the same time for the school, which is asked to accept it as for any time
    the officer books."""
    lead, m = await booked(chat)
    officer = await chat.officer_of(ASHCOMBE)
    done = await chat.act(officer, "meeting.cancel", {"meetingId": m.id, "reason": "Taken ill that week"})
    assert not done.error and titles(done.card)[0] == "Undo"
    await told(chat)
    undone = await chat.press(officer, done, "Undo")
    assert not undone.error and "Booked for Ashcombe Primary School" in text_of(undone)
    [again] = [x for x in await chat.meetings_of(ASHCOMBE) if x.status == "booked"]
    assert again.start == m.start and again.id != m.id
    assert any(
        r == Recipient("contact", lead.id) for r, _ in await told(chat)
    )  # the school is asked to accept


async def test_keep_the_meeting_changes_nothing(chat):
    lead, m = await booked(chat)
    before = await chat.snapshot()
    r = await chat.act(lead, "meeting.cancel_start", {"meetingId": m.id})
    kept = await chat.press(lead, r, "Keep the meeting")
    assert "Your upcoming TSMs" in text_of(kept) and await chat.snapshot() == before


async def test_add_a_colleague_existing_or_new(chat):
    lead, m = await booked(chat)
    school = await chat.school(ASHCOMBE)
    async with chat.app.db.transaction() as s:
        s.add(
            SchoolContact(
                school_id=school.id, name="Pat Pastoral", email="pat.pastoral@demo.example", role="other"
            )
        )
    r = await chat.say(lead, "add colleague")
    pat = next(c for c in choices(r.card, "contactId") if c["title"].startswith("Pat Pastoral"))
    done = await chat.press(lead, r, "Invite them", contactId=pat["value"])
    assert not done.error and "Pat Pastoral" in facts(done)["Invited"]
    bad = await chat.act(
        lead, "meeting.add_colleague", {"meetingId": m.id, "name": "Sam New", "email": "not-an-email"}
    )
    assert bad.error and "not a valid work email" in text_of(bad)
    done = await chat.act(
        lead, "meeting.add_colleague", {"meetingId": m.id, "name": "Sam New", "email": "sam.new@demo.example"}
    )
    assert "Sam New" in facts(done)["Invited"]
    async with chat.app.db.reader() as s:
        emails = {
            a.email for a in await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == m.id))
        }
    assert {"pat.pastoral@demo.example", "sam.new@demo.example"} <= emails


async def test_senior_leader_cannot_attend(chat):
    lead, m = await booked(chat)
    officer = await chat.officer_of(ASHCOMBE)
    ask = await chat.say(lead, "senior leader unavailable")
    r = await chat.press(lead, ask, "Find another time")
    assert not r.error, text_of(r)
    assert "Alex Carter has been told" in text_of(r)
    r_told = await told(chat)
    ((recipient, message),) = r_told
    assert recipient == Recipient("officer", officer.id) and "can't attend" in message.text
    async with chat.app.db.reader() as s:
        mark = await s.get(MeetingLeaderUnavailable, m.id)
    assert mark is not None and mark.reported_by == f"contact:{lead.id}"
    offered = [c["value"] for c in choices(r.card, "start")]
    assert offered and all("2026-11-" in v or "2026-12-" in v for v in offered)  # the same (autumn) term
    listed = await chat.say(lead, "my meetings")
    assert "Senior leader can't attend: please pick another time." in text_of(listed)
    moved = await chat.press(lead, r, "Move to this time", start=offered[1])
    assert not moved.error and (await chat.meeting(m.id)).start.isoformat() == offered[1]
    async with chat.app.db.reader() as s:
        assert await s.get(MeetingLeaderUnavailable, m.id) is None  # a new time is a new invitation


async def test_keeping_the_current_time_clears_the_senior_leader_mark_and_tells_the_officer(chat):
    """Issue 14 item 7e: "Keep the current time" after "senior leader can't attend" left the meeting flagged for
    ever (my meetings, the officer's schools, the overdue nudge). Keeping the time clears the mark with its event,
    in the same transaction, and the officer is told as tsm.notifications says."""
    lead, m = await booked(chat)
    officer = await chat.officer_of(ASHCOMBE)
    ask = await chat.say(lead, "senior leader unavailable")
    offered = await chat.press(lead, ask, "Find another time")
    await told(chat)  # the officer heard that the senior leader can't attend
    assert "rearrange" in text_of(await chat.say(officer, "my week"))
    before = await chat.snapshot()
    kept = await chat.press(lead, offered, "Keep the current time")
    assert not kept.error and "Your TSM stays at this time" in text_of(kept)
    assert "Alex Carter has been told you are keeping it" in text_of(kept)
    assert await chat.snapshot() == before  # nothing moved
    async with chat.app.db.reader() as s:
        assert await s.get(MeetingLeaderUnavailable, m.id) is None
        kinds = [e.kind for e in await s.exec(select(DomainEvent).where(DomainEvent.meeting_id == m.id))]
    assert kinds[-1] == "time_kept"
    ((recipient, message),) = await told(chat)
    assert recipient == Recipient("officer", officer.id) and "is keeping the TSM" in message.text
    listed = await chat.say(lead, "my meetings")
    assert "Senior leader can't attend" in titles(listed.card)  # offered again, the mark gone
    assert "please pick another time" not in text_of(listed)
    assert "rearrange" not in text_of(await chat.say(officer, "my week"))
    # Pressed again (an old card), nothing more happens and nobody is told twice.
    again = await chat.press(lead, offered, "Keep the current time")
    assert not again.error and "has been told" not in text_of(again) and await told(chat) == []


async def test_the_officer_keeping_the_time_clears_the_mark_and_tells_nobody(chat):
    lead, m = await booked(chat)
    officer = await chat.officer_of(ASHCOMBE)
    await chat.press(lead, await chat.say(lead, "senior leader unavailable"), "Find another time")
    await told(chat)
    kept = await chat.act(officer, "meeting.keep_time", {"meetingId": m.id})
    assert not kept.error and "has been told" not in text_of(kept)
    async with chat.app.db.reader() as s:
        assert await s.get(MeetingLeaderUnavailable, m.id) is None
    assert await told(chat) == []  # the officer made the change: nobody else is told by the rules
    chat.clock.now = m.start + timedelta(minutes=1)
    started = await chat.act(lead, "meeting.keep_time", {"meetingId": m.id})
    assert started.error and "already started" in text_of(started)


async def test_commands_without_a_meeting_lead_somewhere(chat):
    lead = await chat.contact(ASHCOMBE)
    for text in ("move", "cancel", "add colleague", "senior leader unavailable"):
        r = await chat.say(lead, text)
        assert "Book a TSM" in titles(r.card), text


async def test_old_offers_are_purged_and_live_ones_kept(chat):
    lead = await chat.contact(ASHCOMBE)
    old = await walk_to_dates(chat, lead)
    chat.clock.now += timedelta(days=40)
    live = await walk_to_dates(chat, lead)
    ctx = ChatContext(Actor("contact", lead.id, None), None, chat.app, chat.clock)  # type: ignore[arg-type]
    assert (
        await conversation(ctx).purge_offers() == 2
    )  # the old walk's: its first card's times, then its dates
    gone = await chat.press(lead, old, "Show times")
    assert gone.error and "no longer on offer" in text_of(gone)
    assert not (await chat.press(lead, live, "Show times")).error


async def test_book_a_typed_date(chat):
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "book 25 December")
    assert r.error and "Friday 25 December 2026 is a bank holiday" in text_of(r)
    assert inputs(r.card)["mode"]["label"] == "How would you like to meet?"  # and the normal start, to go on
    r = await chat.say(lead, "book 29/12")
    assert r.error and "outside term time" in text_of(r)
    r = await chat.say(lead, "book 28 October 2026")
    assert r.error and "Wednesday 28 October has passed" in text_of(r)  # said so, with the nearest dates
    r = await chat.say(lead, "book Thursday 3rd December")
    assert "Free times on **Thursday 3 December**" in text_of(r)
    r = await chat.say(lead, "book 2027-01-12")
    assert "Free times on **Tuesday 12 January**" in text_of(r)  # a spring-term day: that term's offer
    done = await chat.press(
        lead, await chat.press(lead, await chat.press(lead, r, "Choose this time"), "Next"), "Book it"
    )
    assert not done.error and (await chat.meetings_of(ASHCOMBE))[0].start.date().isoformat() == "2027-01-12"
    r = await chat.say(lead, "book 13 January 2027")
    assert "already have the Spring term 2026-27 TSM" in text_of(r)
    r = await chat.say(lead, "book 32/13")
    assert r.error and "couldn't read that date" in text_of(r)
    r = await chat.say(lead, "book soon please")  # no date in it: the normal start
    assert not r.error and inputs(r.card)["mode"]["label"] == "How would you like to meet?"


async def test_a_school_without_a_link_officer_is_told_whom_to_contact(chat):
    from tsm.adapters.db.directory import School

    lead = await chat.contact(ASHCOMBE)
    async with chat.app.db.transaction() as s:
        school = (await s.exec(select(School).where(School.urn == ASHCOMBE))).one()
        school.link_officer_id = None
        s.add(school)
    r = await chat.say(lead, "book")
    assert "has no link officer yet" in text_of(r) and "Demoshire attendance team" in text_of(r)
    assert "Help" in titles(r.card)


async def test_one_mode_allowed_skips_the_mode_step(chat, tmp_path):
    from importlib import resources

    text = (resources.files("tsm.policies") / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'modes_allowed = ["teams", "on_site"]\ndefault_mode = "teams"',
        'modes_allowed = ["on_site"]\ndefault_mode = "on_site"',
    )
    assert 'modes_allowed = ["on_site"]' in text
    policy = tmp_path / "onsite_only.toml"
    policy.write_text(text, encoding="utf-8")
    async with chat.app.db.transaction() as s:
        la = (await s.exec(select(LA))).first()
        la.policy = str(policy)
        s.add(la)
    chat.app.reference.invalidate()
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "book")
    # one way to meet: said, not asked, and straight to the times
    assert (
        "How: In person at school." in text_of(r)
        and choices(r.card, "start")
        and "mode" not in inputs(r.card)
    )
    forged = await chat.act(lead, "book.pick_mode", {"mode": "teams"})
    assert forged.error and "offers TSMs in person at school only" in text_of(forged)


async def _attendees(chat, meeting_id: int) -> list[MeetingAttendee]:
    async with chat.app.db.reader() as s:
        return list(await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id)))
