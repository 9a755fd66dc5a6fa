"""``free_slots(day=...)``: a press that re-checks one time ("Choose this time", issue 14 item 7i) reads and
searches that time's day only. Its slots must be the term's on that day, every day of the term, with the officer's
day partly booked, full to their daily cap, or holding an on-site TSM whose travel buffer reaches its neighbours;
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select, update

from tsm.adapters.db.directory import School
from tsm.domain.errors import BookingRefused
from tsm.services.actors import Actor

ASHCOMBE = 990001  # demo primary, self-booking, officer Alex Carter


@pytest.fixture
def chat(chat_any_db):
    return chat_any_db


async def test_a_days_free_times_are_the_terms_on_that_day_every_day(chat):
    app = chat.app
    lead = await chat.contact(ASHCOMBE)
    actor = await chat.identify(lead.who)
    school = actor.school_id
    term = await app.booking.free_slots(actor, [school], mode="teams")
    tz = ZoneInfo(term.timezone)
    by_day = defaultdict(list)
    for slot in term.slots:
        by_day[slot.start.astimezone(tz).date()].append(slot)
    days = sorted(by_day)
    # The officer's diary made uneven: two other schools book on the first day (a Teams TSM, then one on site, whose
    # travel buffer takes the times next to it), and three on the third day (the officer's daily cap, or near it).
    first, third = by_day[days[0]], by_day[days[2]]
    async with app.db.transaction() as s:  # the LA's other schools made the officer's
        others = list(
            await s.exec(
                select(School.id)
                .where(School.la_id == (await s.get(School, school)).la_id, School.id != school)
                .order_by(School.id)
            )
        )
        await s.exec(update(School).where(col(School.id).in_(others)).values(link_officer_id=term.officer_id))
    wanted = [(first[0].start, "teams"), (first[len(first) // 2].start, "on_site")]
    wanted += [(slot.start, "teams") for slot in third[::3]]
    booked = 0
    for other in others:  # each books one of the wanted times (a school already booked this term is skipped)
        if booked == len(wanted):
            break
        start, mode = wanted[booked]
        try:
            await app.booking.book(Actor.system(), [other], start, mode=mode)
        except BookingRefused as exc:
            if exc.code == "already_booked":
                continue
            raise
        booked += 1
    assert booked == len(wanted)
    term = await app.booking.free_slots(actor, [school], mode="teams")
    info = await app.conversation.school_info(actor, school)
    by_day = defaultdict(list)
    for slot in term.slots:
        by_day[slot.start.astimezone(tz).date()].append(slot)
    assert len(by_day[days[0]]) < len(first)  # the bookings show on the term's times
    d, last = days[0], days[-1] + timedelta(days=1)
    while d <= last:  # every day of the term's rest, and one after it
        for known in (None, info.known):
            one = await app.booking.free_slots(actor, [school], mode="teams", day=d, known=known)
            assert one.slots == by_day.get(d, []), d
            assert (one.term_id, one.mode, one.duration_minutes) == (
                term.term_id,
                term.mode,
                term.duration_minutes,
            )
        d += timedelta(days=1)
