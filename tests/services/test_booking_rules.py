"""The booking rules of both seed LAs, each test named after the rule it proves (SQLite, local calendar)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import local, make_world
from icalendar import Calendar
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.calendars import CalendarEvent
from tsm.adapters.db.history import AuditLog
from tsm.adapters.db.meetings import Meeting, MeetingSchool, OfficerBlock
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, InvalidInput, NotAllowed, NotFound
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8, 0)  # Monday before the spring term (6 Jan – 27 Mar 2026, half term 16–20 Feb)


@pytest.fixture
def clock():
    return FixedClock(NOW)


async def service(db, clock, tmp_path=None):
    cal = LocalCalendar(db, tmp_path)
    sync = CalendarSync(db, cal, clock=clock)
    return BookingService(db, cal, ReferenceData(db), clock=clock, sync=sync)


@pytest.fixture
async def world(db):
    return await make_world(db)


@pytest.fixture
async def svc(db, clock, tmp_path):
    return await service(db, clock, tmp_path / "invites")


# ---------------------------------------------------------------- entitlement (Norfolk)


async def test_a_below_average_primary_must_book_each_term(svc, world):
    ent = await svc.entitlement(world.schools["low_primary"])
    assert ent.expectation == "termly" and ent.attendance_vs_average == "below"
    assert "expected to book a TSM for each term" in ent.message
    spring = await svc.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 9)
    )
    summer = await svc.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 4, 16, 10)
    )
    assert {spring.meeting.term_label, summer.meeting.term_label} == {
        "spring term 2025-26",
        "summer term 2025-26",
    }


async def test_an_above_average_primary_is_told_one_a_year_is_enough_but_may_book_termly(svc, world):
    ent = await svc.entitlement(world.schools["high_primary"])
    assert ent.expectation == "yearly" and ent.may_book
    assert (
        "one TSM this academic year is enough" in ent.message and "welcome to meet us termly" in ent.message
    )
    r1 = await svc.book(
        world.contact("high_primary.lead"), world.schools["high_primary"], local(2026, 1, 7, 9)
    )
    r2 = await svc.book(
        world.contact("high_primary.lead"), world.schools["high_primary"], local(2026, 4, 16, 10)
    )
    assert r1.meeting.status == r2.meeting.status == "booked"


async def test_a_secondary_is_encouraged_termly_whatever_its_attendance(svc, world):
    ent = await svc.entitlement(world.schools["secondary"])
    assert ent.expectation == "termly_encouraged"
    assert "encourage all secondary schools" in ent.message
    r = await svc.book(world.contact("secondary.lead"), world.schools["secondary"], local(2026, 1, 7, 9))
    assert r.meeting.end - r.meeting.start == timedelta(minutes=90)  # Norfolk's secondary meeting type


async def test_an_independent_school_is_told_it_will_be_contacted(svc, world):
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("independent.lead"), world.schools["independent"], local(2026, 1, 7, 9))
    assert err.value.code == "contacted_directly"
    assert "independent school" in err.value.message and "Ann Officer" in err.value.message
    assert err.value.context["officer_id"] == world.officers["ann"]


async def test_an_la_maintained_special_school_is_contacted_directly(svc, world):
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("la_special.lead"), world.schools["la_special"], local(2026, 1, 7, 9))
    assert err.value.code == "contacted_directly" and "specialist school" in err.value.message


async def test_a_school_in_a_trust_with_an_allocated_officer_is_contacted_directly(svc, world):
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("allocated.lead"), world.schools["allocated"], local(2026, 1, 7, 9))
    assert err.value.code == "contacted_directly" and "allocated" in err.value.message


async def test_the_officer_books_on_behalf_of_a_contacted_directly_school(svc, world):
    r = await svc.book(
        world.officer("ann"), world.schools["independent"], local(2026, 1, 7, 9), mode="on_site"
    )
    assert r.meeting.status == "booked" and r.meeting.location == "1 School Lane, Norwich, NR1 1AA"


async def test_kent_every_school_books_termly_and_meets_on_site_by_default(db, clock, tmp_path):
    world = await make_world(db, policy="kent")
    svc = await service(db, clock)
    ent = await svc.entitlement(world.schools["independent"])
    assert ent.expectation == "termly" and ent.may_book
    r = await svc.book(world.contact("independent.lead"), world.schools["independent"], local(2026, 1, 8, 9))
    assert r.meeting.mode == "on_site" and r.meeting.end - r.meeting.start == timedelta(minutes=90)


# ---------------------------------------------------------------- one TSM per term


async def test_no_second_booking_in_a_term(svc, world):
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    await svc.book(who, school, local(2026, 2, 3, 10))
    with pytest.raises(BookingRefused) as err:
        await svc.book(who, school, local(2026, 3, 3, 10))
    assert err.value.code == "already_booked"
    assert "already booked for the spring term on 3 February at 10:00" in err.value.message


async def test_the_database_itself_refuses_a_second_active_tsm_for_a_school_in_a_term(svc, world, db):
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    async with db.transaction() as s:
        m = await s.get(Meeting, r.meeting.id)
        twin = Meeting(
            **{
                k: getattr(m, k)
                for k in (
                    "officer_id",
                    "term_id",
                    "start",
                    "end",
                    "mode",
                    "meeting_type",
                    "status",
                    "booked_by",
                    "created_at",
                    "updated_at",
                )
            },
            ical_uid="twin@test",
        )
        s.add(twin)
        await s.flush()
        s.add(
            MeetingSchool(
                meeting_id=twin.id,
                school_id=world.schools["low_primary"],
                term_id=m.term_id,
                active_term_id=m.term_id,
            )
        )
        with pytest.raises(IntegrityError):
            await s.flush()
        await s.rollback()


async def test_the_database_itself_refuses_overlapping_officer_time(svc, world, db):
    r = await svc.book(
        world.officer("ann"), world.schools["low_primary"], local(2026, 2, 3, 10), mode="on_site"
    )
    async with db.transaction() as s:
        blocks = list(await s.exec(select(OfficerBlock).where(OfficerBlock.meeting_id == r.meeting.id)))
        # 60 minutes + 30 minutes' travel either side = 120 minutes = 24 blocks of 5 minutes
        assert len(blocks) == 24
        assert min(b.block_start for b in blocks) == local(2026, 2, 3, 9, 30)
        with pytest.raises(IntegrityError):  # a block inside the 30 minutes' travel after the meeting
            await s.exec(
                insert(OfficerBlock).values(
                    officer_id=world.officers["ann"],
                    block_start=local(2026, 2, 3, 11, 25),
                    meeting_id=r.meeting.id,
                )
            )
        await s.rollback()


async def test_a_cancelled_tsm_frees_the_term_and_the_time(svc, world, db):
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    r = await svc.book(who, school, local(2026, 2, 3, 10))
    with pytest.raises(InvalidInput):
        await svc.cancel(who, r.meeting.id, "")
    c = await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    assert c.meeting.status == "cancelled" and b"METHOD:CANCEL" in c.invitation_ics
    again = await svc.book(who, school, local(2026, 2, 3, 10))  # same time, same term: both free again
    assert again.meeting.id != r.meeting.id
    async with db.reader() as s:
        ev = (await s.exec(select(CalendarEvent).where(CalendarEvent.meeting_id == r.meeting.id))).one()
        assert ev.cancelled


# ---------------------------------------------------------------- terms, days, times


async def test_a_date_in_half_term_is_never_offered_or_booked(svc, world):
    offer = await svc.free_slots(world.contact("low_primary.lead"), world.schools["low_primary"])
    assert offer.slots and offer.term_label == "spring term 2025-26"
    days = {s.start.astimezone(local(2026, 1, 1).tzinfo).date() for s in offer.slots}
    assert not any(d.month == 2 and 16 <= d.day <= 20 for d in days)
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 17, 10)
        )
    assert err.value.code == "not_bookable_day" and "half term" in err.value.message


async def test_a_bank_holiday_is_never_offered_or_booked(svc, world, clock):
    clock.now = local(2026, 4, 20, 8)
    offer = await svc.free_slots(world.contact("low_primary.lead"), world.schools["low_primary"])
    days = {s.start.astimezone(local(2026, 1, 1).tzinfo).date() for s in offer.slots}
    assert days and all(d.isoformat() not in ("2026-05-04",) for d in days)
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 5, 4, 10))
    assert "bank holiday" in err.value.message and "May Day" in err.value.message


async def test_a_date_outside_term_time_is_refused(svc, world):
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 4, 1, 10))
    assert err.value.code == "not_bookable_day" and "outside term time" in err.value.message


async def test_minimum_notice_is_enforced(svc, world, clock):
    clock.now = local(2026, 1, 12, 9)
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 13, 10)
        )
    assert err.value.code == "too_soon" and "48 hours" in err.value.message


async def test_a_time_off_the_grid_or_outside_working_hours_is_refused(svc, world):
    for start in (local(2026, 1, 8, 9, 10), local(2026, 1, 8, 18, 0)):
        with pytest.raises(BookingRefused) as err:
            await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], start)
        assert err.value.code == "not_offered"


async def test_an_officers_busy_time_blocks_a_slot_including_travel(db, clock):
    busy = [
        ("ann", local(2026, 1, 8, 11), local(2026, 1, 8, 12), "busy"),
        ("ann", local(2026, 1, 9, 9), local(2026, 1, 9, 16), "workingElsewhere"),
    ]
    world = await make_world(db, busy=busy)
    svc = await service(db, clock)
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    offer = await svc.free_slots(who, school, mode="on_site")
    starts = {s.start for s in offer.slots}
    assert local(2026, 1, 8, 10) not in starts and local(2026, 1, 8, 12) not in starts  # 30 min travel
    assert local(2026, 1, 8, 9) in starts and local(2026, 1, 8, 12, 30) in starts
    assert local(2026, 1, 9, 10) in starts  # working elsewhere does not block
    with pytest.raises(BookingRefused) as err:
        await svc.book(who, school, local(2026, 1, 8, 12), mode="on_site")
    assert err.value.code == "travel_time" and "another appointment at 11:00" in err.value.message
    with pytest.raises(BookingRefused) as err:
        await svc.book(who, school, local(2026, 1, 8, 11), mode="teams")  # the busy hour itself
    assert err.value.code == "officer_busy"
    teams = await svc.free_slots(who, school, mode="teams")
    assert local(2026, 1, 8, 12) in {s.start for s in teams.slots}  # no travel on Teams


async def test_just_taken_slot_offers_fresh_alternatives(svc, world):
    at = local(2026, 1, 8, 10)
    await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], at)
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("high_primary.lead"), world.schools["high_primary"], at)
    assert err.value.code == "slot_taken" and "just been taken" in err.value.message
    assert err.value.alternatives and at not in {s.start for s in err.value.alternatives}


async def test_daily_cap_closes_the_officers_day(svc, world):
    day_slots = [local(2026, 1, 8, h) for h in (9, 11, 13)]
    for key, at in zip(("low_primary", "high_primary", "secondary"), day_slots, strict=True):
        await svc.book(world.contact(f"{key}.lead"), world.schools[key], at)
    offer = await svc.free_slots(world.contact("trust_a.lead"), world.schools["trust_a"])
    assert not any(s.start.date() == day_slots[0].date() for s in offer.slots)
    with pytest.raises(BookingRefused):
        await svc.book(world.contact("trust_a.lead"), world.schools["trust_a"], local(2026, 1, 8, 15))


# ---------------------------------------------------------------- moving


async def test_a_move_stays_in_its_term(svc, world):
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(BookingRefused) as err:
        await svc.move(who, r.meeting.id, local(2026, 4, 16, 10))
    assert err.value.code == "move_other_term" and "within its own term" in err.value.message
    assert err.value.alternatives and all(s.start < local(2026, 3, 28) for s in err.value.alternatives)
    moved = await svc.move(who, r.meeting.id, local(2026, 2, 3, 10, 30))  # overlapping its old time is fine
    assert moved.meeting.status == "moved" and moved.meeting.start == local(2026, 2, 3, 10, 30)
    assert b"SEQUENCE:1" in moved.invitation_ics


async def test_a_moved_meeting_frees_its_old_time(svc, world):
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.move(world.contact("low_primary.lead"), r.meeting.id, local(2026, 2, 4, 10))
    other = await svc.book(
        world.contact("high_primary.lead"), world.schools["high_primary"], local(2026, 2, 3, 10)
    )
    assert other.meeting.start == local(2026, 2, 3, 10)


# ---------------------------------------------------------------- who may do what


async def test_a_school_cannot_see_or_change_another_schools_meeting(svc, world):
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    intruder = world.contact("high_primary.lead")
    for call in (
        svc.get_meeting(intruder, r.meeting.id),
        svc.cancel(intruder, r.meeting.id, "not mine"),
        svc.move(intruder, r.meeting.id, local(2026, 2, 4, 10)),
        svc.book(intruder, world.schools["low_primary"], local(2026, 2, 5, 10)),
    ):
        with pytest.raises(NotAllowed):
            await call
    assert (await svc.get_meeting(world.contact("low_primary.lead"), r.meeting.id)).status == "booked"


async def test_an_officer_cannot_book_for_a_school_not_on_their_list(svc, world):
    with pytest.raises(NotAllowed):
        await svc.book(world.officer("bob"), world.schools["low_primary"], local(2026, 2, 3, 10))


async def test_unknown_ids_are_clear_errors(svc, world):
    with pytest.raises(NotFound):
        await svc.get_meeting(world.officer("ann"), 99999)
    with pytest.raises(NotFound):
        await svc.free_slots(world.officer("ann"), 99999)
    with pytest.raises(InvalidInput):
        await svc.book(world.officer("ann"), "12", local(2026, 2, 3, 10))  # type: ignore[arg-type]


# ---------------------------------------------------------------- held, no-show, trust, attendees


async def test_only_the_officer_marks_a_started_meeting_held_or_no_show(svc, world, clock):
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(NotAllowed):
        await svc.mark_held(world.contact("low_primary.lead"), r.meeting.id)
    with pytest.raises(BookingRefused):
        await svc.mark_held(world.officer("ann"), r.meeting.id)
    clock.now = local(2026, 2, 3, 11, 5)
    assert (await svc.mark_no_show(world.officer("ann"), r.meeting.id)).status == "no_show"
    assert (
        await svc.mark_held(world.officer("ann"), r.meeting.id)
    ).status == "held"  # the officer corrects it
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 3, 3, 10))
    assert err.value.code == "already_booked"


async def test_a_trust_may_hold_one_tsm_for_several_schools(svc, world):
    r = await svc.book(
        world.officer("ann"), [world.schools["trust_a"], world.schools["trust_b"]], local(2026, 2, 3, 10)
    )
    assert set(r.meeting.school_ids) == {world.schools["trust_a"], world.schools["trust_b"]}
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("trust_b.lead"), world.schools["trust_b"], local(2026, 3, 3, 10))
    assert err.value.code == "already_booked"
    with pytest.raises(InvalidInput):
        await svc.book(
            world.officer("ann"),
            [world.schools["trust_a"], world.schools["low_primary"]],
            local(2026, 3, 3, 10),
        )


async def test_invitation_goes_to_the_senior_leader_as_required_and_a_colleague_can_be_added(svc, world):
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    roles = {a.role: a.required for a in r.meeting.attendees}
    assert roles == {"attendance_lead": False, "senior_leader": True}
    cal = Calendar.from_ical(r.invitation_ics)
    event = cal.walk("VEVENT")[0]
    assert cal["METHOD"] == "REQUEST"
    attendees = {str(a).removeprefix("mailto:"): str(a.params["ROLE"]) for a in event.get("ATTENDEE")}
    assert attendees == {
        "lead@100001.sch.example": "OPT-PARTICIPANT",
        "head@100001.sch.example": "REQ-PARTICIPANT",
    }
    view = await svc.add_attendee(
        world.contact("low_primary.lead"), r.meeting.id, name="Pat Pastoral", email="Pat@100001.sch.example"
    )
    assert "pat@100001.sch.example" in {a.email for a in view.attendees}
    with pytest.raises(InvalidInput):
        await svc.add_attendee(
            world.contact("low_primary.lead"), r.meeting.id, name="x", email="not-an-email"
        )


async def test_every_change_is_audited_with_who_and_what(svc, world, db):
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.move(who, r.meeting.id, local(2026, 2, 4, 10))
    await svc.cancel(who, r.meeting.id, "clash with Ofsted")
    async with db.reader() as s:
        rows = list(await s.exec(select(AuditLog).order_by(AuditLog.id)))
    assert [(a.action, a.actor) for a in rows] == [
        ("meeting.book", who.key),
        ("meeting.move", who.key),
        ("meeting.cancel", who.key),
    ]
    assert all(
        "clash with Ofsted" not in str(a.detail) for a in rows
    )  # reasons stay on the meeting, not the log


async def test_listing_meetings_shows_only_ones_own(svc, world):
    await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.book(world.contact("bob_school.lead"), world.schools["bob_school"], local(2026, 2, 3, 10))
    assert len(await svc.list_meetings(world.contact("low_primary.lead"))) == 1
    assert [m.school_names for m in await svc.list_meetings(world.officer("bob"))] == [("Bob's Primary",)]
    assert len(await svc.list_meetings(world.admin("ann"))) == 2  # an LA admin: every meeting of their LA
