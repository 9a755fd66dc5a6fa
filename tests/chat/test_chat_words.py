"""Typed dates and words (issue 14, item 5): dates read the way people type them, a past date of this term said so
with the nearest dates offered (never silently next year), a slip of one letter taken as the command, and the two
questions people ask answered. The chat's clock: Monday 23 November 2026, in the demo's autumn term."""

from __future__ import annotations

from datetime import date

import pytest
from chatkit import text_of, titles

from tsm.chat.router import one_slip
from tsm.domain.dates import academic_year_of, read_day
from tsm.domain.model import DateRange, TermName
from tsm.domain.terms import Break, Term, TermCalendar

ASHCOMBE = 990001  # Alex Carter's school
SUNDAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("words", "day"),
    [
        ("3 December", date(2026, 12, 3)),  # three days ago, not 3 December 2027
        ("3/12", date(2026, 12, 3)),
        ("9 jan", date(2027, 1, 9)),
        ("thursday 10 dec", date(2026, 12, 10)),
        ("2026-12-10", date(2026, 12, 10)),
        ("3/12/27", date(2027, 12, 3)),
        ("today", SUNDAY),
        ("tomorrow", date(2026, 12, 7)),
        ("next week", date(2026, 12, 7)),  # its Monday
        ("tuesday", date(2026, 12, 8)),
        ("next tuesday", date(2026, 12, 8)),  # said on a Sunday: the coming one is already next week's
        ("Sunday", date(2026, 12, 13)),  # today's weekday: next week's
        ("31/2", None),
        ("blursday", None),
        ("3 smarch", None),
    ],
)
def test_dates_are_read_as_people_type_them(words, day):
    assert read_day(words, SUNDAY) == day


def test_next_tuesday_said_on_a_monday_is_the_tuesday_of_next_week():
    monday = date(2026, 12, 7)
    assert read_day("next tuesday", monday) == date(2026, 12, 15)
    assert read_day("tuesday", monday) == date(2026, 12, 8)


def test_after_half_term_is_the_first_school_day_after_this_terms_half_term():
    spring = Term(
        "2026-27",
        TermName.SPRING,
        DateRange(date(2027, 1, 5), date(2027, 3, 26)),
        (Break(DateRange(date(2027, 2, 15), date(2027, 2, 19)), "half_term", "February half term"),),
        id=1,
    )
    cal = TermCalendar([spring])
    assert read_day("after half term", date(2027, 1, 20), cal) == date(2027, 2, 22)
    assert read_day("after half term", date(2027, 3, 1), cal) is None  # this term's half term is behind us
    assert read_day("after half term", date(2027, 1, 20)) is None  # no calendar to read it from


def test_the_academic_year_runs_from_september():
    assert academic_year_of(date(2026, 12, 3)) == academic_year_of(date(2027, 7, 1)) == 2026
    assert academic_year_of(date(2026, 8, 31)) == 2025


@pytest.mark.parametrize(
    ("typed", "word", "close"),
    [
        ("bok", "book", True),
        ("boko", "book", True),
        ("obok", "book", True),
        ("bookk", "book", True),
        ("my meeting", "my meetings", True),
        ("my meetigns", "my meetings", True),
        ("bk", "book", False),
        ("booking", "book", False),
    ],
)
def test_one_slip_is_one_letter_missed_added_changed_or_two_swapped(typed, word, close):
    assert one_slip(typed, word) is close


async def test_a_past_date_of_this_term_is_said_to_have_passed_and_the_nearest_dates_offered(chat):
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "book 20 November")
    assert "Friday 20 November has passed: here are the nearest dates with free times" in text_of(r)
    assert "2027" not in text_of(r)
    assert "Show times" in titles(r.card)


async def test_a_weekday_or_tomorrow_goes_to_that_days_times_or_says_why_not(chat):
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "book tomorrow")  # Tuesday 24 November: within 48 hours' notice, so no times
    assert "Tuesday 24 November" in text_of(r)
    r = await chat.say(lead, "book next thursday")
    day = date(2026, 12, 3)  # said on Monday 23 November: the Thursday of next week
    assert f"{day:%A} {day.day}" in text_of(r) or "Choose this time" in titles(r.card)
    r = await chat.say(lead, "book next blursday")
    assert r.error and "I couldn't read that date" in text_of(r)


async def test_slips_of_one_letter_and_missing_spaces_are_taken_as_the_command(chat):
    lead = await chat.contact(ASHCOMBE)
    for typed in ("bok", "Book!", "bookk"):
        r = await chat.say(lead, typed)
        assert not r.error and "I didn't understand" not in text_of(r), typed
        assert "On Microsoft Teams" in str(r.card), typed
    for typed in ("my meeting", "mymeetings", "my meetigns"):
        r = await chat.say(lead, typed)
        assert "I didn't understand" not in text_of(r), typed


async def test_who_is_my_link_officer_and_what_is_a_tsm_are_answered(chat):
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "Who is my link officer?")
    assert (
        "Your link officer for Ashcombe Primary School is **Alex Carter** (alex.carter@demo.example)"
        in text_of(r)
    )
    r = await chat.say(lead, "what's a TSM?")
    assert "A Targeting Support Meeting (TSM) is a short termly conversation" in text_of(r)
    officer = await chat.officer_of(ASHCOMBE)
    r = await chat.say(officer, "who is my link officer")
    assert "You are a link officer" in text_of(r)


async def test_a_school_with_no_link_officer_is_told_whom_to_ask(chat):
    from sqlalchemy import update

    from tsm.adapters.db.directory import School

    lead = await chat.contact(ASHCOMBE)
    async with chat.app.db.transaction() as s:
        await s.exec(update(School).where(School.urn == ASHCOMBE).values(link_officer_id=None))
    r = await chat.say(lead, "who is my link officer")
    assert "Ashcombe Primary School has no link officer yet: please ask your LA's attendance team" in text_of(
        r
    )
