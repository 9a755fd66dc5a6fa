"""Rules of booking through the chat that no other chat test pinned (issue 17): a secondary school's TSM is the
LA's secondary meeting type (90 minutes in the demo profile, as in Norfolk's), a primary's is 60."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chatkit import choices, facts, text_of

NORTHGATE = 990014  # secondary
ASHCOMBE = 990001  # primary


async def book(chat, person):
    r = await chat.say(person, "book")
    dates = await chat.press(person, r, "More dates", mode="teams")
    day = choices(dates.card, "date")[0]["value"]
    times = await chat.press(person, dates, "Show times", date=day)
    start = choices(times.card, "start")[0]["value"]
    who = await chat.press(person, times, "Choose this time", start=start)
    review = await chat.press(person, who, "Next")
    done = await chat.press(person, review, "Book it")
    assert not done.error, text_of(done)
    return done


@pytest.mark.parametrize(
    ("urn", "minutes", "shown"), [(NORTHGATE, 90, "09:00–10:30"), (ASHCOMBE, 60, "09:00–10:00")]
)
async def test_a_school_booking_from_the_chat_gets_its_phases_meeting_length(chat, urn, minutes, shown):
    lead = await chat.contact(urn)
    done = await book(chat, lead)
    [meeting] = await chat.meetings_of(urn)
    assert meeting.end - meeting.start == timedelta(minutes=minutes)
    assert meeting.meeting_type == ("secondary" if urn == NORTHGATE else "primary")
    assert shown in facts(done)["When"]
