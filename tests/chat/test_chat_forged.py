"""Card data is never trusted: forged or broken actions are refused with a clear message and change nothing."""

from __future__ import annotations

import pytest
from chatkit import button, choices, text_of
from test_chat_booking import ASHCOMBE, book_through_chat, walk_to_confirm, walk_to_dates

from tsm.services.actors import Actor

NORTHGATE = 990014  # Tom Okafor's


@pytest.fixture
async def world(chat):
    """Ashcombe's lead with a booked TSM, Northgate's lead with one too, and an open Ashcombe offer."""
    a = await chat.contact(ASHCOMBE)
    n = await chat.contact(NORTHGATE)
    await book_through_chat(chat, n)
    northgate_meeting = (await chat.meetings_of(NORTHGATE))[0]
    return a, n, northgate_meeting


async def refused(chat, person, verb, data, *words):
    before = await chat.snapshot()
    count = await chat.count_meetings()
    r = await chat.act(person, verb, data)
    assert r.error, f"{verb} {data} was not refused: {text_of(r)}"
    said = text_of(r)
    for w in words:
        assert w in said, f"{w!r} not in {said!r}"
    assert await chat.snapshot() == before and await chat.count_meetings() == count
    return r


@pytest.mark.parametrize(
    "verb, extra",
    [
        ("meeting.cancel", {"reason": "forged"}),
        ("meeting.cancel_start", {}),
        ("meeting.cancel_confirm", {"reason": "forged"}),
        ("meeting.move_start", {}),
        ("meeting.add_colleague", {"name": "Eve", "email": "eve@evil.example"}),
        ("meeting.add_colleague_start", {}),
        ("meeting.leader_unavailable", {}),
        ("offer.accept", {}),
        ("meeting.move", {"start": "2026-12-09T10:00:00+00:00"}),
    ],
)
async def test_another_schools_meeting_id(chat, world, verb, extra):
    ashcombe_lead, _, theirs = world
    await refused(chat, ashcombe_lead, verb, {"meetingId": theirs.id, **extra}, "another school's meeting")


async def test_a_slot_never_offered(chat, world):
    lead, _, _ = world
    review, start = await walk_to_confirm(chat, lead)
    data = dict(button(review.card, "Book it")["data"])
    data.pop("verb")
    for forged in ("2026-11-25T09:15:00+00:00", "2026-11-28T10:00:00+00:00", "2027-01-12T10:00:00+00:00"):
        await refused(chat, lead, "book.confirm", {**data, "start": forged}, "not one of the times offered")
    await refused(
        chat,
        lead,
        "book.pick_time",
        {"offerId": data["offerId"], "start": "2026-11-25T09:15:00+00:00"},
        "not one of the times offered",
    )
    await refused(
        chat,
        lead,
        "book.pick_date",
        {"offerId": data["offerId"], "date": "2026-12-25"},
        "no free time on offer",
    )


async def test_another_persons_offer(chat, world):
    lead, other, _ = world
    dates = await walk_to_dates(chat, lead)
    offer_id = button(dates.card, "Show times")["data"]["offerId"]
    await refused(
        chat,
        other,
        "book.pick_date",
        {"offerId": offer_id, "date": choices(dates.card, "date")[0]["value"]},
        "made for someone else",
    )
    officer = await chat.officer_of(ASHCOMBE)
    await refused(chat, officer, "book.dates", {"offerId": offer_id}, "made for someone else")


async def test_unknown_and_malformed_offer_ids(chat, world):
    lead, _, _ = world
    await refused(chat, lead, "book.dates", {"offerId": "0" * 32}, "no longer on offer")
    await refused(chat, lead, "book.dates", {"offerId": "'; drop table meeting; --"}, "missing the times")
    await refused(chat, lead, "book.dates", {}, "missing the times")
    await refused(
        chat,
        lead,
        "book.confirm",
        {"offerId": 12345, "start": "2026-11-25T09:00:00+00:00"},
        "missing the times",
    )


async def test_the_wrong_senior_leader_or_colleagues(chat, world):
    lead, other, _ = world
    review, start = await walk_to_confirm(chat, lead)
    data = dict(button(review.card, "Book it")["data"])
    data.pop("verb")
    stranger = await chat.contact(NORTHGATE, "senior_leader")
    await refused(
        chat, lead, "book.confirm", {**data, "leader": str(stranger.id)}, "not a contact of your school"
    )
    await refused(
        chat, lead, "book.confirm", {**data, "colleagues": f"{stranger.id}"}, "not contacts of your school"
    )
    await refused(chat, lead, "book.confirm", {**data, "colleagues": "1;2"}, "not in the expected form")
    await refused(chat, lead, "book.confirm", {**data, "leader": None}, "senior leader")


@pytest.mark.parametrize(
    "verb, data, words",
    [
        ("meeting.cancel", {"reason": "x y z"}, "The meeting is missing"),
        ("meeting.cancel", {"meetingId": "abc", "reason": "x y z"}, "not in the expected form"),
        ("meeting.cancel", {"meetingId": True, "reason": "x y z"}, "not in the expected form"),
        ("meeting.cancel", {"meetingId": 999999, "reason": "x y z"}, "No such meeting"),
        ("meeting.move", {"meetingId": 1, "start": 12}, "The time is missing"),
        ("meeting.move", {"meetingId": 1, "start": "next tuesday"}, "not a valid date and time"),
        ("meeting.move", {"meetingId": 1, "start": "2026-12-09T10:00:00"}, "has no time zone"),
        ("book.pick_mode", {"mode": "carrier pigeon"}, "offers TSMs"),
        ("book.pick_mode", {}, "Please fill in how to meet"),
        (
            "offer.pick_slot",
            {"schoolId": [1], "start": "2026-12-09T10:00:00+00:00", "mode": "teams"},
            "school",
        ),
        (
            "offer.pick_slot",
            {"schoolId": 1, "start": "2026-12-09T10:00:00+00:00", "mode": "fax"},
            "mode is not one",
        ),
        ("meeting.add_colleague", {"meetingId": 1, "contactId": "x"}, "not in the expected form"),
    ],
)
async def test_missing_or_wrong_typed_fields(chat, world, verb, data, words):
    lead, _, _ = world
    await refused(chat, lead, verb, data, words)


async def test_forged_school_in_the_next_tsm_card(chat, world):
    lead, _, _ = world
    northgate = await chat.school(NORTHGATE)
    await refused(
        chat,
        lead,
        "offer.pick_slot",
        {"schoolId": northgate.id, "start": "2026-12-09T10:00:00+00:00", "mode": "teams"},
        "not on your list",
    )


async def test_a_contact_cannot_act_for_another_school_through_mode_data(chat, world):
    lead, _, _ = world
    northgate = await chat.school(NORTHGATE)
    # a contact's school comes from who they are, never from card data: schoolId is ignored
    r = await chat.act(lead, "book.pick_mode", {"mode": "teams", "schoolId": northgate.id})
    assert not r.error and "Alex Carter" in text_of(r)  # Ashcombe's officer, not Northgate's (Tom Okafor)


async def test_unknown_verb_and_roles(chat, world):
    lead, _, _ = world
    await refused(chat, lead, "meeting.delete_everything", {"meetingId": 1}, "not one I know")
    await refused(chat, lead, "officer.schools", {}, "not open to you")
    await refused(
        chat,
        lead,
        "contact.add",
        {"urn": ASHCOMBE, "name": "A B", "email": "a.b@demo.example"},
        "not open to you",
    )
    officer = await chat.officer_of(NORTHGATE)
    await refused(chat, officer, "meeting.leader_unavailable", {"meetingId": 1}, "not open to you")


async def test_an_offer_cannot_be_used_by_another_flow(chat, world):
    lead, _, _ = world
    dates = await walk_to_dates(chat, lead)
    offer_id = button(dates.card, "Show times")["data"]["offerId"]
    start = (
        (
            await chat.app.booking.free_slots(
                Actor.system(), (await chat.school(ASHCOMBE)).id, mode="teams", limit=1
            )
        )
        .slots[0]
        .start.isoformat()
    )
    m = (await chat.meetings_of(NORTHGATE))[0]
    # a booking offer presented to the move verb: refused, the other school's meeting untouched
    await refused(
        chat, lead, "meeting.move", {"offerId": offer_id, "start": start}, "does not belong to this step"
    )
    assert (await chat.meeting(m.id)).status == "booked"


async def test_an_unknown_user_is_told_whom_to_ask(chat):
    from chatkit import Person

    from tsm.chat import Who

    nobody = Person(Who(email="nobody@nowhere.example", name="Nobody"), 0, "Nobody", "nobody@nowhere.example")
    r = await chat.say(nobody, "book")
    assert r.error and "link officer" in text_of(r)


async def attendees(chat, meeting_id: int) -> list[tuple[str, bool]]:
    from sqlmodel import select

    from tsm.adapters.db.meetings import MeetingAttendee

    async with chat.app.db.reader() as s:
        rows = await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id))
        return [(a.email, a.required) for a in rows]


async def test_colleagues_in_any_form_a_card_may_send_are_read_or_refused_whole(chat, world):
    """Teams sends a multi-select as "1,2", a client may send a list or nothing; anything else is refused before
    any booking, and the people booked are the senior leader once and each colleague once."""
    lead, _, _ = world
    review, _ = await walk_to_confirm(chat, lead)
    data = dict(button(review.card, "Book it")["data"])
    data.pop("verb")
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    for colleagues in (12, "x" * 2001, f"{lead.id},abc", "12345678901", "１２"):
        await refused(
            chat, lead, "book.confirm", {**data, "colleagues": colleagues}, "colleagues chosen are not"
        )
    booked = await chat.act(
        lead,
        "book.confirm",
        {**data, "leader": str(leader.id), "colleagues": [leader.id, lead.id, f"{lead.id}", " "]},
    )
    assert not booked.error, text_of(booked)
    [m] = await chat.meetings_of(ASHCOMBE)
    people = await attendees(chat, m.id)
    assert sorted(people) == sorted([(leader.email, True), (lead.email, False)])


async def test_colleagues_left_out_book_the_senior_leader_and_the_person_booking(chat, world):
    lead, _, _ = world
    review, _ = await walk_to_confirm(chat, lead)
    data = dict(button(review.card, "Book it")["data"])
    data.pop("verb")
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    booked = await chat.act(lead, "book.confirm", {**data, "leader": str(leader.id), "colleagues": None})
    assert not booked.error, text_of(booked)
    [m] = await chat.meetings_of(ASHCOMBE)
    assert sorted(await attendees(chat, m.id)) == sorted([(leader.email, True), (lead.email, False)])


async def test_a_cancelled_meeting_cannot_be_moved_cancelled_again_or_added_to(chat, world):
    _, northgate_lead, meeting = world
    await chat.app.booking.cancel(Actor.system(), meeting.id, "The school closed")
    mid = {"meetingId": meeting.id}
    for verb, extra, words in (
        ("meeting.move_start", {}, "so it cannot be moved"),
        ("meeting.move", {"start": meeting.start.isoformat()}, "so it cannot be moved"),
        ("meeting.cancel_start", {}, "so it cannot be cancelled"),
        ("meeting.cancel_confirm", {"reason": "again"}, "so it cannot be cancelled"),
        ("meeting.add_colleague_start", {}, "no one can be added now"),
    ):
        r = await refused(chat, northgate_lead, verb, {**mid, **extra}, "This meeting is cancelled")
        assert words in text_of(r), verb


async def test_a_colleague_needs_a_name_of_two_letters_or_more(chat, world):
    _, northgate_lead, meeting = world
    await refused(
        chat,
        northgate_lead,
        "meeting.add_colleague",
        {"meetingId": meeting.id, "name": "J", "email": "j@northgate.example"},
        "Please give your colleague's name.",
    )


async def test_the_people_step_refuses_a_leader_or_colleague_from_another_school(chat, world):
    lead, _, _ = world
    dates = await walk_to_dates(chat, lead)
    day = choices(dates.card, "date")[0]["value"]
    times = await chat.press(lead, dates, "Show times", date=day)
    who = await chat.press(lead, times, "Choose this time", start=choices(times.card, "start")[0]["value"])
    data = dict(button(who.card, "Next")["data"])
    data.pop("verb")
    own_leader = await chat.contact(ASHCOMBE, "senior_leader")
    stranger = await chat.contact(NORTHGATE, "senior_leader")
    await refused(
        chat, lead, "book.attendees", {**data, "leader": str(stranger.id)}, "not a contact of your school"
    )
    await refused(
        chat,
        lead,
        "book.attendees",
        {**data, "leader": str(own_leader.id), "colleagues": str(stranger.id)},
        "not contacts of your school",
    )


async def test_other_dates_from_the_times_card_and_an_expired_card_give_the_dates_afresh(chat, world):
    from datetime import timedelta

    lead, _, _ = world
    dates = await walk_to_dates(chat, lead)
    day = choices(dates.card, "date")[0]["value"]
    times = await chat.press(lead, dates, "Show times", date=day)
    again = await chat.press(lead, times, "Other dates")
    assert not again.error and [c["value"] for c in choices(again.card, "date")] == [
        c["value"] for c in choices(dates.card, "date")
    ]
    chat.clock.now = chat.clock.now + timedelta(days=4)  # the card's offer has expired (3 days)
    late = await chat.press(lead, times, "Choose this time", start=choices(times.card, "start")[0]["value"])
    assert not late.error and choices(late.card, "date"), text_of(late)
    assert "That card has expired (its times may have gone). Here are fresh ones." in text_of(late)
    assert await chat.meetings_of(ASHCOMBE) == []


async def test_a_typed_move_or_cancel_with_two_tsms_ahead_asks_which_one(chat, world):
    lead, _, _ = world
    school = await chat.school(ASHCOMBE)
    for term in ("current", "next"):
        offer = await chat.app.booking.free_slots(Actor.system(), school.id, term=term, mode="teams")
        await chat.app.booking.book(Actor.system(), school.id, offer.slots[0].start, mode="teams")
    before = await chat.snapshot()
    for command, what in (("move", "move"), ("cancel", "cancel")):
        r = await chat.say(lead, command)
        assert not r.error and r.text == f"Which one? Use the buttons under the meeting you want to {what}."
        assert "Your upcoming TSMs" in text_of(r)
    assert await chat.snapshot() == before
