"""The booking service's rules that no other test pinned (issue 17), one test each: who is invited, who may book
when the LA's file says schools do not book themselves, what the audit log records, the "just taken" answer after
the last retry, and a cancel racing a move on PostgreSQL (the cancel locks the meeting's row first)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from factories import local, make_world
from sqlalchemy import insert
from sqlmodel import select

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import AuditLog
from tsm.adapters.db.meetings import Meeting, OfficerBlock
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, NotAllowed
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8, 0)  # the Monday before Norfolk's spring term 2025-26 (tests/factories.py)
HEAD, LEAD = "head@100001.sch.example", "lead@100001.sch.example"  # low_primary's two contacts (factories)
POLICIES = Path(__file__).resolve().parents[2] / "tsm" / "policies"


def service(db: Database, tmp_path: Path) -> BookingService:
    clock = FixedClock(NOW)
    cal = LocalCalendar(db, tmp_path / "invitations")
    return BookingService(db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock))


@pytest.fixture
async def world(db):
    return await make_world(db)


@pytest.fixture
def svc(db, tmp_path):
    return service(db, tmp_path)


async def add_contact(db: Database, school_id: int, name: str, role: str) -> int:
    async with db.transaction() as s:
        c = SchoolContact(
            school_id=school_id, name=name, email=f"{name.split()[0].lower()}@school.example", role=role
        )
        s.add(c)
        await s.flush()
        return c.id


# ------------------------------------------------------------------------------------------ who is invited


async def test_only_the_people_the_school_picked_are_invited_with_the_booker(svc, world, db):
    school = world.schools["low_primary"]
    deputy = await add_contact(db, school, "Dee Deputy", "attendance_lead")
    pastoral = await add_contact(db, school, "Pat Pastoral", "other")
    head = world.contacts["low_primary.head"]
    r = await svc.book(
        world.contact("low_primary.lead"), school, local(2026, 2, 3, 10), attendee_contact_ids=[head]
    )
    assert {(a.email, a.required) for a in r.meeting.attendees} == {(HEAD, True), (LEAD, False)}
    await svc.cancel(world.contact("low_primary.lead"), r.meeting.id, "testing the pick")
    r = await svc.book(
        world.contact("low_primary.lead"),
        school,
        local(2026, 2, 4, 10),
        attendee_contact_ids=[head, pastoral],
    )
    assert {a.email for a in r.meeting.attendees} == {HEAD, LEAD, "pat@school.example"}
    assert deputy


async def test_with_no_pick_the_schools_leads_and_senior_leaders_are_invited_not_everyone(svc, world, db):
    school = world.schools["low_primary"]
    deputy = await add_contact(db, school, "Dee Deputy", "attendance_lead")
    pastoral = await add_contact(db, school, "Pat Pastoral", "other")
    r = await svc.book(world.officer("ann"), school, local(2026, 2, 3, 10))
    invited = {a.email for a in r.meeting.attendees}
    assert invited == {HEAD, LEAD, "dee@school.example"}  # not Pat, whose role is "other"
    assert deputy and pastoral


async def test_an_officer_booking_invites_exactly_whom_they_picked(svc, world, db):
    head = world.contacts["low_primary.head"]
    r = await svc.book(
        world.officer("ann"), world.schools["low_primary"], local(2026, 2, 3, 10), attendee_contact_ids=[head]
    )
    assert [a.email for a in r.meeting.attendees] == [HEAD]


async def test_people_of_another_school_are_never_invited(svc, world):
    other_head = world.contacts["high_primary.head"]
    head = world.contacts["low_primary.head"]
    with pytest.raises(NotAllowed, match="The senior leader chosen is not a contact of your school"):
        await svc.book(
            world.contact("low_primary.lead"),
            world.schools["low_primary"],
            local(2026, 2, 3, 10),
            attendee_contact_ids=[other_head],
        )
    with pytest.raises(NotAllowed, match="Some of the people chosen are not contacts of your school"):
        await svc.book(
            world.contact("low_primary.lead"),
            world.schools["low_primary"],
            local(2026, 2, 3, 10),
            attendee_contact_ids=[head, other_head],
        )
    assert await svc.list_meetings(world.contact("low_primary.lead")) == []


# ------------------------------------------------------------------------------------------ schools_book_themselves


async def test_schools_book_themselves_false_leaves_booking_to_the_officer(db, tmp_path):
    text = (
        (POLICIES / "kent.toml")
        .read_text()
        .replace("schools_book_themselves = true", "schools_book_themselves = false")
    )
    assert "schools_book_themselves = false" in text
    path = tmp_path / "kent_officer_books.toml"
    path.write_text(text)
    world = await make_world(db, policy=str(path))
    svc = service(db, tmp_path)
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    assert err.value.code == "contacted_directly"
    assert (
        err.value.message
        == "Your link officer arranges your TSMs. Your link officer is Ann Officer (ann@la.example)."
    )
    r = await svc.book(world.officer("ann"), world.schools["low_primary"], local(2026, 2, 3, 10))
    assert r.meeting.status == "booked"
    assert r.meeting.end - r.meeting.start == timedelta(
        minutes=90
    )  # Kent's first meeting type, from the file


# ------------------------------------------------------------------------------------------ the audit log


async def test_the_audit_log_records_who_what_when_and_the_changes_details(svc, world, db):
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10), mode="on_site")
    await svc.move(who, r.meeting.id, local(2026, 2, 4, 11))
    await svc.cancel(who, r.meeting.id, "clash with Ofsted")
    async with db.reader() as s:
        rows = list(await s.exec(select(AuditLog).order_by(AuditLog.id)))
    assert [(a.actor, a.action, a.entity, a.entity_id, a.at) for a in rows] == [
        (who.key, "meeting.book", "meeting", str(r.meeting.id), NOW),
        (who.key, "meeting.move", "meeting", str(r.meeting.id), NOW),
        (who.key, "meeting.cancel", "meeting", str(r.meeting.id), NOW),
    ]
    assert rows[0].detail == {
        "schools": [world.schools["low_primary"]],
        "start": local(2026, 2, 3, 10).isoformat(),
        "mode": "on_site",
    }
    assert rows[1].detail == {
        "old_start": r.meeting.start.isoformat(),
        "new_start": local(2026, 2, 4, 11).isoformat(),
    }
    assert rows[2].detail is None  # the reason stays on the meeting: never in the log


# ------------------------------------------------------------------------------------------ just taken


async def test_a_clash_on_every_retry_ends_in_just_taken_with_other_times(svc, world, db):
    # Ann's 10:00-11:00 is held in the database by a block the checks cannot see (a write of another process
    # that commits between the check and the insert, every time): three tries, then "just taken" with other times.
    other = await svc.book(world.officer("bob"), world.schools["bob_school"], local(2026, 2, 3, 14))
    async with db.transaction() as s:
        await s.exec(
            insert(OfficerBlock).values(
                officer_id=world.officers["ann"],
                block_start=local(2026, 2, 3, 10, 30),
                meeting_id=other.meeting.id,
            )
        )
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    assert err.value.code == "slot_taken"
    assert err.value.message == "Sorry, that time has just been taken. Here are other times."
    assert err.value.alternatives
    assert local(2026, 2, 3, 10) not in {s.start for s in err.value.alternatives}
    async with db.reader() as s:
        assert len(list(await s.exec(select(Meeting)))) == 1  # nothing half-written


# ------------------------------------------------------------------------------------------ racing on PostgreSQL


@pytest.mark.postgres
async def test_a_cancel_waits_for_a_move_in_progress_and_counts_its_change(pg_url, tmp_path):
    """A cancel reads the meeting FOR UPDATE: while a move holds the row, the cancel waits, then builds on the
    move's result (the invitation's SEQUENCE counts both changes; without the lock it would reuse the move's number
    and calendars would ignore the cancellation)."""
    db = Database(pg_url)
    try:
        world = await make_world(db)
        svc = service(db, tmp_path)
        who = world.contact("low_primary.lead")
        r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
        async with db.reader() as s:
            before = (await s.get(Meeting, r.meeting.id)).ical_sequence
        async with await psycopg.AsyncConnection.connect(pg_url) as move:
            async with move.transaction():
                await move.execute("SELECT id FROM meeting WHERE id = %s FOR UPDATE", (r.meeting.id,))
                await move.execute(
                    "UPDATE meeting SET ical_sequence = ical_sequence + 1, status = 'moved' WHERE id = %s",
                    (r.meeting.id,),
                )
                cancel = asyncio.create_task(svc.cancel(who, r.meeting.id, "clash with Ofsted"))
                await asyncio.sleep(1.0)
                assert not cancel.done()
        await asyncio.wait_for(cancel, 30)
        async with db.reader() as s:
            m = await s.get(Meeting, r.meeting.id)
            assert (m.status, m.ical_sequence) == ("cancelled", before + 2)
            assert list(await s.exec(select(OfficerBlock).where(OfficerBlock.meeting_id == m.id))) == []
    finally:
        await db.dispose()
