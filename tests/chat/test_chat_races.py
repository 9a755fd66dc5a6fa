"""Races and calendars: two schools pressing "Book it" on the same time at once (SQLite and PostgreSQL), a
double press, and the confirmation when the calendar is Outlook (a Teams link, the invitation emailed)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime

import pytest
from cardtree import walk
from chatkit import NOW, Chat, choices, facts, text_of, titles
from test_chat_booking import ASHCOMBE, ST_BEDE, walk_to_confirm

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import Officer
from tsm.adapters.db.engine import Database
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.demo import load_demo
from tsm.settings import Settings


async def test_same_time_pressed_by_two_schools_at_once_books_one(any_db_url, tmp_path):
    clock = FixedClock(NOW)
    app = build_app(Settings(database_url=any_db_url, invitations_dir=tmp_path / "inv"), clock=clock)
    await load_demo(app.db, today=date(2026, 11, 23))
    chat = Chat(app, clock)
    try:
        a, b = await chat.contact(ASHCOMBE), await chat.contact(ST_BEDE)  # both Alex Carter's schools
        review_a, start_a = await walk_to_confirm(chat, a, date_index=2, time_index=1)
        review_b, start_b = await walk_to_confirm(chat, b, date_index=2, time_index=1)
        assert start_a == start_b
        ra, rb = await asyncio.gather(chat.press(a, review_a, "Book it"), chat.press(b, review_b, "Book it"))
        won = [r for r in (ra, rb) if not r.error]
        lost = [r for r in (ra, rb) if r.error]
        assert len(won) == 1 and len(lost) == 1, [text_of(r) for r in (ra, rb)]
        assert "Just taken" in text_of(lost[0]) and start_a not in [
            c["value"] for c in choices(lost[0].card, "start")
        ]
        assert len(await chat.meetings_of(ASHCOMBE)) + len(await chat.meetings_of(ST_BEDE)) == 1
    finally:
        await app.close()


async def _someone_else_books(chat, start: str) -> None:
    """St Bede's (Alex Carter's school too) books ``start`` meanwhile, as its own staff would."""
    other = await chat.contact(ST_BEDE)
    school = await chat.school(ST_BEDE)
    result = await chat.app.booking.book(
        await chat.identify(other.who), [school.id], datetime.fromisoformat(start), mode="teams"
    )
    assert result.meeting.start == datetime.fromisoformat(start)


async def test_a_time_taken_since_the_first_card_was_drawn_is_said_on_press_with_the_card_refreshed(chat):
    """Issue 14 item 7i: a card keeps showing a time someone else has just booked. "Choose this time" re-checks:
    the first card comes back refreshed, saying what changed, and the next press goes ahead."""
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    taken = choices(first.card, "start")[0]["value"]
    await _someone_else_books(chat, taken)
    again = await chat.press(lead, first, "Choose this time", start=taken)
    assert again.error and "That time has just been taken; here are the times still free." in text_of(again)
    still = [c["value"] for c in choices(again.card, "start")]
    assert taken not in still and still and titles(again.card)[0] == "Choose this time"
    last = await chat.press(lead, again, "Choose this time", start=still[0])
    assert not last.error and "Book it" in titles(last.card)
    assert len(await chat.meetings_of(ASHCOMBE)) == 0


async def test_a_time_taken_since_the_times_card_was_drawn_is_said_on_press_with_that_days_times(chat):
    lead = await chat.contact(ASHCOMBE)
    start = await chat.say(lead, "book")
    dates = await chat.press(lead, start, "More dates", mode="teams")
    day = choices(dates.card, "date")[2]["value"]
    times = await chat.press(lead, dates, "Show times", date=day)
    taken = choices(times.card, "start")[1]["value"]
    await _someone_else_books(chat, taken)
    again = await chat.press(lead, times, "Choose this time", start=taken)
    assert again.error and "That time has just been taken" in text_of(again)
    still = [c["value"] for c in choices(again.card, "start")]
    assert taken not in still and still and all(v.startswith(day) for v in still)
    assert not (await chat.press(lead, again, "Choose this time", start=still[0])).error


async def test_a_time_taken_that_filled_its_day_brings_back_the_dates_still_free(chat):
    """The officer takes one TSM a day: the time taken fills its day, so the dates come back, that day gone."""
    async with chat.app.db.transaction() as s:
        officer = await s.get(Officer, (await chat.school(ASHCOMBE)).link_officer_id)
        officer.max_meetings_per_day = 1
        s.add(officer)
    lead = await chat.contact(ASHCOMBE)
    dates = await chat.press(lead, await chat.say(lead, "book"), "More dates", mode="teams")
    day = choices(dates.card, "date")[2]["value"]
    times = await chat.press(lead, dates, "Show times", date=day)
    taken = choices(times.card, "start")[0]["value"]
    await _someone_else_books(chat, taken)
    again = await chat.press(lead, times, "Choose this time", start=taken)
    assert again.error and "no other time that day is free; here are the dates still free" in text_of(again)
    assert day not in [c["value"] for c in choices(again.card, "date")]


async def test_a_double_press_books_once(chat):
    lead = await chat.contact(ASHCOMBE)
    review, _ = await walk_to_confirm(chat, lead)
    first, second = await asyncio.gather(
        chat.press(lead, review, "Book it"), chat.press(lead, review, "Book it")
    )
    assert sorted([first.error, second.error]) == [False, True]
    loser = first if first.error else second
    assert "already booked" in text_of(loser) and "My meetings" in titles(loser.card)
    assert len(await chat.meetings_of(ASHCOMBE)) == 1


class OutlookLike(LocalCalendar):
    """The local calendar's store, answering like Graph: a Teams join URL, no .ics (Outlook emails it)."""

    in_database = False  # written through the outbox, after the booking's transaction, as Outlook is

    async def create_event(self, details):
        result = await super().create_event(details)
        join = "https://teams.microsoft.com/l/meetup-join/example" if details.online else None
        return replace(result, join_url=join, ics=None)

    async def update_event(self, event_id, details):
        return replace(await super().update_event(event_id, details), ics=None)


@pytest.fixture
async def outlook_chat(sqlite_url, tmp_path):
    clock = FixedClock(NOW)
    settings = Settings(
        database_url=sqlite_url, calendar_backend="graph", graph_tenant_id="t", graph_client_id="c"
    )
    db = Database(sqlite_url)
    app = build_app(settings, clock=clock, calendar=OutlookLike(db))
    await load_demo(app.db, today=date(2026, 11, 23))
    yield Chat(app, clock)
    await app.close()
    await db.dispose()


async def test_with_outlook_the_confirmation_has_the_teams_link_and_no_file(outlook_chat):
    chat = outlook_chat
    lead = await chat.contact(ASHCOMBE)
    review, _ = await walk_to_confirm(chat, lead)
    done = await chat.press(lead, review, "Book it")
    assert not done.error, text_of(done)
    f = facts(done)
    assert f["Where"] == "Microsoft Teams" and f["Invitation"] == "Emailed from Outlook to everyone invited"
    assert done.files == ()
    join = next(a for a in walk(done.card) if a.get("type") == "Action.OpenUrl")
    assert join["url"] == "https://teams.microsoft.com/l/meetup-join/example"
