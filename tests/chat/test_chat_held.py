"""The officer corrects "held": at a meeting's end the scheduler records it held and sends the officer a card with
"It didn't take place"; from there (or from "past meetings") the officer records it as not held with a reason,
and back. Only that meeting's officer (or an admin) may; a school contact, another officer, forged or bad data
are refused and change nothing."""

from __future__ import annotations

from datetime import timedelta

from chatkit import Person, button, text_of, titles
from fakes.messenger import ScriptedMessenger

from scheduler.service import build_jobs
from tsm.chat import Reply, Who
from tsm.messaging import Recipient
from tsm.services.actors import Actor

BROOKFIELD = 990002  # Priya Shah's
ASHCOMBE = 990001  # Alex Carter's (an LA admin too)
TOM = "tom.okafor@demo.example"  # an officer, not an admin, not Brookfield's


async def ended_meeting(chat, *, end_it: bool = True):
    """A TSM of Brookfield (Priya's) booked this week, the clock moved past its end, the scheduler's end run."""
    school = await chat.school(BROOKFIELD)
    offer = await chat.app.booking.free_slots(Actor.system(), school.id, mode="teams")
    m = (await chat.app.booking.book(Actor.system(), school.id, offer.slots[0].start, mode="teams")).meeting
    chat.clock.now = m.end + timedelta(minutes=45)
    outbox = ScriptedMessenger()
    if end_it:
        jobs = build_jobs(chat.app, outbox, worker_id="test")
        await jobs.meeting_ends()
    return m, outbox


async def officer_by_email(chat, email: str) -> Person:
    from sqlmodel import select

    from tsm.adapters.db.directory import Officer

    async with chat.app.db.reader() as s:
        o = (await s.exec(select(Officer).where(Officer.email == email))).one()
    assert not o.is_admin
    return Person(Who(email=o.email, name=o.name, aad_object_id=f"aad-o{o.id}"), o.id, o.name, o.email)


async def status(chat, meeting_id: int) -> str:
    return (await chat.meeting(meeting_id)).status


async def test_the_officer_corrects_held_from_the_meeting_end_card_and_back(chat):
    officer = await chat.officer_of(BROOKFIELD)
    m, outbox = await ended_meeting(chat)
    assert await status(chat, m.id) == "held"
    card = next(msg.card for r, msg in outbox.sent if r == Recipient("officer", officer.id))
    assert "recorded as held" in str(card)
    to_school = [
        msg.card for r, msg in outbox.sent if r.kind == "contact" and msg.text.startswith("Next term")
    ]
    assert to_school and all(
        "It didn't take place" not in titles(c) for c in to_school
    )  # the officer's alone
    ask = await chat.press(officer, Reply(card=card), "It didn't take place")
    assert not ask.error and "Record this TSM as not held?" in text_of(ask)
    assert await status(chat, m.id) == "held"  # asking changes nothing

    done = await chat.press(officer, ask, "Record as not held", reason="Nobody from the school joined")
    assert not done.error, text_of(done)
    assert await status(chat, m.id) == "no_show"
    assert "Nobody from the school joined" in text_of(done) and "open to book again" in text_of(done)
    assert {"Undo: it was held", "Book another time", "Past meetings"} <= set(titles(done.card))

    undone = await chat.press(officer, done, "Undo: it was held")
    assert not undone.error and "Recorded as held" in text_of(undone)
    assert await status(chat, m.id) == "held"
    assert "It didn't take place" in titles(undone.card)


async def test_past_meetings_lists_the_ended_meeting_with_its_correction(chat):
    officer = await chat.officer_of(BROOKFIELD)
    m, _ = await ended_meeting(chat)
    week = await chat.say(officer, "my week")
    past = await chat.press(officer, week, "Past meetings")
    assert not past.error and "Brookfield" in text_of(past) and "Recorded: Held" in text_of(past)
    again = await chat.say(officer, "past meetings")
    assert text_of(again) == text_of(past)

    ask = await chat.press(officer, past, "It didn't take place")
    done = await chat.press(officer, ask, "Record as not held", reason="School closed: snow")
    assert not done.error and await status(chat, m.id) == "no_show"
    listed = await chat.press(officer, done, "Past meetings")
    assert "Recorded: Not held" in text_of(listed)
    held = await chat.press(officer, listed, "It was held")
    assert not held.error and await status(chat, m.id) == "held"


async def test_a_meeting_ended_but_not_marked_yet_can_be_marked_either_way(chat):
    officer = await chat.officer_of(BROOKFIELD)
    m, _ = await ended_meeting(chat, end_it=False)  # the scheduler has not run yet
    past = await chat.say(officer, "past meetings")
    assert "Recorded: Not marked yet" in text_of(past)
    assert {"It was held", "It didn't take place"} <= set(titles(past.card))
    held = await chat.press(officer, past, "It was held")
    assert not held.error and await status(chat, m.id) == "held"


async def test_a_school_contact_cannot_use_the_verbs(chat):
    m, _ = await ended_meeting(chat)
    lead = await chat.contact(BROOKFIELD)
    before = await chat.snapshot()
    for verb, data in (
        ("meeting.mark_no_show_start", {"meetingId": m.id}),
        ("meeting.mark_no_show", {"meetingId": m.id, "reason": "We did not come"}),
        ("meeting.mark_held", {"meetingId": m.id}),
        ("officer.past", {}),
    ):
        r = await chat.act(lead, verb, data)
        assert r.error, verb
    r = await chat.say(lead, "past meetings")
    assert r.error, text_of(r)
    assert await chat.snapshot() == before


async def test_another_officer_cannot_correct_someone_elses_meeting(chat):
    m, _ = await ended_meeting(chat)
    tom = await officer_by_email(chat, TOM)
    before = await chat.snapshot()
    r = await chat.act(tom, "meeting.mark_no_show", {"meetingId": m.id, "reason": "It did not happen"})
    assert r.error and "not on your list" in text_of(r)
    r = await chat.act(tom, "meeting.mark_no_show_start", {"meetingId": m.id})
    assert r.error and "not on your list" in text_of(r)
    assert (await chat.act(tom, "meeting.mark_held", {"meetingId": m.id})).error
    past = await chat.say(tom, "past meetings")
    assert "Brookfield" not in text_of(past)
    assert await chat.snapshot() == before


async def test_forged_or_bad_data_is_refused_and_changes_nothing(chat):
    officer = await chat.officer_of(BROOKFIELD)
    m, _ = await ended_meeting(chat)
    before = await chat.snapshot()
    for data, words in (
        ({"meetingId": "abc", "reason": "Nobody came"}, "meeting"),
        ({"reason": "Nobody came"}, "meeting"),
        ({"meetingId": m.id}, "why it did not take place"),
        ({"meetingId": m.id, "reason": "x"}, "briefly why"),
        ({"meetingId": m.id, "reason": "y" * 301}, ""),
        ({"meetingId": 999999, "reason": "Nobody came"}, ""),
    ):
        r = await chat.act(officer, "meeting.mark_no_show", data)
        assert r.error, data
        assert words.lower() in text_of(r).lower(), (data, text_of(r))
    assert await chat.snapshot() == before

    # a meeting that has not started yet cannot be recorded either way
    school = await chat.school(BROOKFIELD)
    offer = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="teams")
    future = (
        await chat.app.booking.book(Actor.system(), school.id, offer.slots[0].start, mode="teams")
    ).meeting
    for verb in ("meeting.mark_no_show_start", "meeting.mark_held"):
        r = await chat.act(officer, verb, {"meetingId": future.id})
        assert r.error and "not started yet" in text_of(r)
    r = await chat.act(officer, "meeting.mark_no_show", {"meetingId": future.id, "reason": "Nobody came"})
    assert r.error and "not started yet" in text_of(r)
    assert (await chat.meeting(future.id)).status == "booked"


async def test_an_admin_may_correct_it(chat):
    m, _ = await ended_meeting(chat)
    admin = await chat.officer_of(ASHCOMBE)  # Alex Carter: an LA admin, not Brookfield's officer
    r = await chat.act(admin, "meeting.mark_no_show", {"meetingId": m.id, "reason": "The school was closed"})
    assert not r.error, text_of(r)
    assert await status(chat, m.id) == "no_show"
    assert button(r.card, "Undo: it was held")


async def test_a_cancelled_meeting_has_nothing_to_record_either_way(chat):
    officer = await chat.officer_of(BROOKFIELD)
    school = await chat.school(BROOKFIELD)
    offer = await chat.app.booking.free_slots(Actor.system(), school.id, mode="teams")
    m = (await chat.app.booking.book(Actor.system(), school.id, offer.slots[0].start, mode="teams")).meeting
    await chat.app.booking.cancel(Actor.system(), m.id, "The school closed for the day")
    chat.clock.now = m.end + timedelta(minutes=45)
    before = await chat.snapshot()
    for verb, data in (
        ("meeting.mark_no_show_start", {"meetingId": m.id}),
        ("meeting.mark_no_show", {"meetingId": m.id, "reason": "Nobody came"}),
        ("meeting.mark_held", {"meetingId": m.id}),
    ):
        r = await chat.act(officer, verb, data)
        assert r.error and text_of(r) == "This meeting was cancelled, so there is nothing to record.", verb
    assert await chat.snapshot() == before
    assert await status(chat, m.id) == "cancelled"


async def test_asking_again_for_a_meeting_recorded_not_held_offers_only_the_way_back(chat):
    officer = await chat.officer_of(BROOKFIELD)
    m, _ = await ended_meeting(chat)
    done = await chat.act(officer, "meeting.mark_no_show", {"meetingId": m.id, "reason": "Nobody joined"})
    assert not done.error and await status(chat, m.id) == "no_show"
    again = await chat.act(officer, "meeting.mark_no_show_start", {"meetingId": m.id})
    assert not again.error and "Already recorded as not held" in text_of(again)
    assert "Record as not held" not in titles(again.card) and "It was held" in titles(again.card)
    assert await status(chat, m.id) == "no_show"  # asking changes nothing
    held = await chat.press(officer, again, "It was held")
    assert not held.error and await status(chat, m.id) == "held"
