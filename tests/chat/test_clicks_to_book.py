"""Issue 14, item 3: clicks to book. A school with one senior leader on record books in three presses: **book** ->
**Choose this time** on the first card (dates and times together, the LA's default way to meet chosen and changeable
on the same card) -> **Book it** on a card with the senior leader prefilled. "book" when this term is already booked
says so first, on that first card, with next term's times.

Driven through Router.dispatch with the demo LA (tests/chat/chatkit.py); every turn is counted.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chatkit import choices, facts, input_values, inputs, text_of, titles
from test_chat_booking import ASHCOMBE
from test_chat_cards import dates_written_another_way
from test_chat_officer import BROOKFIELD

from tsm.adapters.db.meetings import MeetingAttendee
from tsm.domain.text import moment_text


class Counted:
    """The chat, counting the person's round trips (a typed message or a pressed button each)."""

    def __init__(self, chat) -> None:
        self.chat, self.turns = chat, 0

    async def say(self, person, text):
        self.turns += 1
        return await self.chat.say(person, text)

    async def press(self, person, reply, title, **inputs):
        self.turns += 1
        return await self.chat.press(person, reply, title, **inputs)


async def test_a_one_leader_school_books_in_three_presses(chat):
    lead = await chat.contact(ASHCOMBE)
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    c = Counted(chat)

    first = await c.say(lead, "book")
    # the first card: what the LA expects, Teams (the demo LA's default) chosen, and the soonest free times
    assert "below the national average" in text_of(first)
    assert input_values(first.card)["mode"] == "teams"
    times = choices(first.card, "start")
    assert len(times) > 1 and input_values(first.card)["start"] == times[0]["value"]
    assert times[0]["value"].startswith("2026-11-25")  # 48 hours' notice from Monday 09:00
    assert titles(first.card) == ["Choose this time", "More dates", "Stop"]

    last = await c.press(lead, first, "Choose this time")
    assert not last.error, text_of(last)
    assert "Book this TSM?" in text_of(last) and facts(last)["School"].startswith("Ashcombe")
    assert input_values(last.card)["leader"] == str(leader.id)  # the one senior leader on record, prefilled
    assert titles(last.card)[0] == "Book it"

    done = await c.press(lead, last, "Book it")
    assert not done.error and "Your TSM is booked" in text_of(done), text_of(done)
    assert c.turns == 3
    [m] = await chat.meetings_of(ASHCOMBE)
    assert m.mode == "teams" and m.start.isoformat()[:16] == times[0]["value"][:16]
    async with chat.app.db.reader() as s:
        from sqlmodel import select

        invited = set(
            await s.exec(select(MeetingAttendee.contact_id).where(MeetingAttendee.meeting_id == m.id))
        )
    assert leader.id in invited


async def test_the_way_to_meet_is_changed_on_the_same_card(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    first = await chat.say(lead, "book")
    nxt = await chat.press(
        lead, first, "Choose this time", mode="on_site", start=choices(first.card, "start")[3]["value"]
    )
    if (
        nxt.error
    ):  # that time is not free in person (travel time): the same card, in person, with its own times
        assert input_values(nxt.card)["mode"] == "on_site" and "not all the same" in text_of(nxt)
        assert inputs(nxt.card)["start"]["choices"]
        nxt = await chat.press(lead, nxt, "Choose this time")
    assert not nxt.error and facts(nxt)["Where"] == school.address, text_of(nxt)
    done = await chat.press(lead, nxt, "Book it")
    assert not done.error, text_of(done)
    [m] = await chat.meetings_of(ASHCOMBE)
    assert m.mode == "on_site"


async def test_a_time_not_on_the_card_comes_back_to_the_card(chat):
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    again = await chat.press(
        lead, first, "Choose this time", start="2026-11-23T09:00:00+00:00"
    )  # forged: now
    assert again.error and "not one of the times offered" in text_of(again)
    assert titles(again.card) == titles(first.card) and choices(again.card, "start") == choices(
        first.card, "start"
    )
    assert await chat.meetings_of(ASHCOMBE) == []


async def test_book_when_this_term_is_booked_says_so_first(chat):
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    await chat.press(lead, await chat.press(lead, first, "Choose this time"), "Book it")
    again = await chat.say(lead, "book")
    words = text_of(again)
    assert (
        "You already have the Autumn term 2026-27 TSM" in words
        and "These times are for the Spring term" in words
    )
    assert all(t["value"] >= "2027-01-05" for t in choices(again.card, "start"))


async def test_an_officer_books_for_a_school_from_the_first_card(chat):
    officer = await chat.officer_of(BROOKFIELD)
    school = await chat.school(BROOKFIELD)
    picker = await chat.say(officer, "book for school")
    first = await chat.press(officer, picker, "Next", schoolId=str(school.id))
    review = await chat.press(officer, first, "Choose this time")
    assert "Book this TSM for the school?" in text_of(review), text_of(review)
    done = await chat.press(officer, review, "Book it")
    assert not done.error, text_of(done)
    [m] = await chat.meetings_of(BROOKFIELD)
    assert m.booked_by == f"officer:{officer.id}"


async def test_the_first_cards_times_are_written_as_every_other_date_and_time(chat):
    """Issue 14 item 7d: "Wednesday 9 December 09:00", as in my meetings and the officer's schools, not with a comma
    or in short forms."""
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    for c in choices(first.card, "start"):
        assert c["title"] == moment_text(datetime.fromisoformat(c["value"]), ZoneInfo("Europe/London"))
    assert not dates_written_another_way(text_of(first))


async def test_the_first_card_lists_the_terms_soonest_free_times_and_more_dates_goes_past_them(chat):
    """The first card works out only its FIRST_TIMES soonest times (the slot finder stops there: issue 15's book
    turn); they are the term's soonest free times, in order, and "More dates" works the whole term out afresh."""
    from tsm.chat.booking import FIRST_TIMES

    lead = await chat.contact(ASHCOMBE)
    actor = await chat.identify(lead.who)
    whole = await chat.app.booking.free_slots(actor, [actor.school_id], term="current", mode="teams")
    assert len(whole.slots) > FIRST_TIMES  # the term has more than the card shows
    first = await chat.say(lead, "book")
    shown = [c["value"] for c in choices(first.card, "start")]
    soonest = sorted(s.start for s in whole.slots)[:FIRST_TIMES]
    assert [datetime.fromisoformat(v) for v in shown] == soonest
    dates = await chat.press(lead, first, "More dates")
    assert not dates.error, text_of(dates)
    later = {datetime.fromisoformat(c["value"]).date() for c in choices(dates.card, "date")}
    tz = ZoneInfo(whole.timezone)
    assert (
        max(later)
        == max(s.start.astimezone(tz).date() for s in whole.slots)
        > soonest[-1].astimezone(tz).date()
    )
