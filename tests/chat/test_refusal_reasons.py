"""Refusals that say the true reason (issue 13, item 10): a full day, a visit too close to another for the travel
time, and a day the officer does not work are each said in words, not as "has just been taken"; on the Norfolk
profile (30 minutes' travel, three TSMs a day) and Kent's (45 minutes' travel, two a day)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chatkit import text_of
from factories import local, make_world
from sqlalchemy import update

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import Officer
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8, 0)  # the Monday before the spring term 2026
THURSDAY = (2026, 1, 8)
BROOKFIELD = 990002  # demo school of Priya Shah, who works Monday to Thursday


async def _service(db) -> BookingService:
    clock = FixedClock(NOW)
    cal = LocalCalendar(db)
    return BookingService(db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock))


@pytest.mark.parametrize(("profile", "cap"), [("norfolk", 3), ("kent", 2)])
async def test_a_full_day_is_refused_as_full_not_as_just_taken(db, profile, cap):
    world = await make_world(db, policy=profile)
    svc = await _service(db)
    keys = ["low_primary", "high_primary", "secondary"][:cap]
    for key, hour in zip(keys, (9, 11, 13), strict=False):
        await svc.book(world.contact(f"{key}.lead"), world.schools[key], local(*THURSDAY, hour), mode="teams")
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("trust_a.lead"), world.schools["trust_a"], local(*THURSDAY, 15), mode="teams"
        )
    assert err.value.code == "day_full"
    assert f"already has {cap} TSMs on Thursday 8 January" in err.value.message
    assert "just been taken" not in err.value.message


@pytest.mark.parametrize(("profile", "travel"), [("norfolk", 30), ("kent", 45)])
async def test_a_visit_too_close_to_another_visit_is_refused_for_the_travel_time(db, profile, travel):
    world = await make_world(db, policy=profile)
    svc = await _service(db)
    first = await svc.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(*THURSDAY, 10), mode="on_site"
    )
    # The next visit may start only after travel back and out: the first's end + 2 x travel, on the half-hour grid.
    too_close = first.meeting.end + timedelta(minutes=30)
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("high_primary.lead"), world.schools["high_primary"], too_close, mode="on_site"
        )
    assert err.value.code == "travel_time"
    assert (
        f"with {travel} minutes' travel" in err.value.message
        and "another appointment at 10:00" in err.value.message
    )
    fits = first.meeting.end + timedelta(minutes=60 if travel == 30 else 90)
    booked = await svc.book(
        world.contact("high_primary.lead"), world.schools["high_primary"], fits, mode="on_site"
    )
    assert booked.meeting.start == fits


async def test_the_same_time_as_another_tsm_is_just_taken(db):
    world = await make_world(db)
    svc = await _service(db)
    at = local(*THURSDAY, 10)
    await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], at, mode="teams")
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("high_primary.lead"), world.schools["high_primary"], at, mode="teams")
    assert err.value.code == "slot_taken" and "just been taken" in err.value.message


async def test_a_day_the_officer_does_not_work_is_refused_in_those_words(db):
    world = await make_world(db)
    async with db.transaction() as s:
        await s.exec(
            update(Officer)
            .where(Officer.id == world.officers["ann"])
            .values(working_hours={d: "09:00-16:00" for d in ("mon", "tue", "wed", "thu")})
        )
    svc = await _service(db)
    friday = local(2026, 1, 9, 10)
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], friday)
    assert err.value.code == "officer_not_working"
    assert err.value.message == "Ann Officer does not work on Fridays: please pick another day."


async def test_typing_a_date_the_officer_does_not_work_says_so(chat):
    lead = await chat.contact(BROOKFIELD)
    reply = await chat.say(
        lead, "book 4 December"
    )  # a Friday of the autumn term; Priya Shah works Monday-Thursday
    assert "Priya Shah does not work on Fridays" in text_of(reply)
    assert "no free time left" not in text_of(reply)
