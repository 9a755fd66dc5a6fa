"""A senior leader attends every TSM (issue 13, item 8; Kent's FAQ and DfE's expectation; both seed profiles say
``booking.senior_leader_required = true``): a booking with no senior leader invited is refused, unless an officer
waives it with a reason that is recorded; the person a school picks to attend as its senior leader attends as that."""

from __future__ import annotations

import pytest
from factories import local, make_world
from sqlalchemy import update
from sqlmodel import select

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.history import AuditLog, DomainEvent
from tsm.adapters.db.meetings import MeetingAttendee
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, InvalidInput
from tsm.domain.policy import PolicyError, load_policy, parse_policy
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8, 0)
AT = local(2026, 1, 8, 10)


async def _world_without_head(db, profile: str, school: str = "low_primary"):
    world = await make_world(db, policy=profile)
    async with (
        db.transaction() as s
    ):  # the school's senior leader has left: only its attendance lead is on record
        await s.exec(
            update(SchoolContact)
            .where(SchoolContact.school_id == world.schools[school], SchoolContact.role == "senior_leader")
            .values(active=False)
        )
    clock = FixedClock(NOW)
    cal = LocalCalendar(db)
    return world, BookingService(
        db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock)
    )


@pytest.mark.parametrize("profile", ["kent", "norfolk"])
async def test_an_officer_booking_for_a_school_with_no_senior_leader_is_refused_saying_how_to_go_on(
    db, profile
):
    world, svc = await _world_without_head(db, profile)
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.officer("ann"), world.schools["low_primary"], AT, mode="teams")
    assert err.value.code == "no_senior_leader"
    assert "no senior leader invited" in err.value.message and "--waive-senior-leader" in err.value.message
    assert await svc.list_meetings(world.officer("ann"), school_id=world.schools["low_primary"]) == []


async def test_an_officer_may_waive_the_senior_leader_with_a_reason_that_is_recorded(db):
    world, svc = await _world_without_head(db, "kent")
    reason = "Head on long-term leave; the deputy is being appointed"
    with pytest.raises(InvalidInput):  # a reason of a word or two is not a reason
        await svc.book(
            world.officer("ann"), world.schools["low_primary"], AT, mode="teams", waive_senior_leader="no"
        )
    done = await svc.book(
        world.officer("ann"), world.schools["low_primary"], AT, mode="teams", waive_senior_leader=reason
    )
    async with db.reader() as s:
        event = (await s.exec(select(DomainEvent).where(DomainEvent.meeting_id == done.meeting.id))).one()
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "meeting.book"))).one()
    assert event.data["senior_leader_waived"] == reason and audit.detail["senior_leader_waived"] == reason


async def test_school_staff_cannot_waive_their_own_senior_leader(db):
    world, svc = await _world_without_head(db, "norfolk")
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("low_primary.lead"),
            world.schools["low_primary"],
            AT,
            mode="teams",
            waive_senior_leader="Our head is away all term this year",
        )
    assert (
        err.value.code == "no_senior_leader"
        and "pick who will attend as your senior leader" in err.value.message
    )


async def test_the_person_a_school_picks_as_its_senior_leader_attends_as_the_senior_leader(db):
    world, svc = await _world_without_head(db, "kent")
    lead = world.contact("low_primary.lead")  # recorded as attendance lead, attending as the senior leader
    done = await svc.book(
        lead, world.schools["low_primary"], AT, mode="teams", attendee_contact_ids=[lead.id]
    )
    async with db.reader() as s:
        rows = list(
            await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == done.meeting.id))
        )
    assert [(r.contact_id, r.role, r.required) for r in rows] == [(lead.id, "senior_leader", True)]
    assert done.meeting.attendees[0].role == "senior_leader"


async def test_a_profile_that_does_not_require_a_senior_leader_books_without_one(db, monkeypatch):
    world, svc = await _world_without_head(db, "norfolk")
    relaxed = parse_policy("norfolk", _raw("norfolk", senior_leader_required=False))
    monkeypatch.setattr(svc.ref, "policy", lambda name: relaxed)
    done = await svc.book(world.officer("ann"), world.schools["low_primary"], AT, mode="teams")
    assert all(a.role != "senior_leader" for a in done.meeting.attendees)


def test_both_seed_profiles_require_a_senior_leader_and_a_typo_is_refused():
    assert load_policy("kent").senior_leader_required and load_policy("norfolk").senior_leader_required
    with pytest.raises(PolicyError, match="senior_leader_required must be true or false"):
        parse_policy("norfolk", _raw("norfolk", senior_leader_required="no"))


def _raw(name: str, **booking) -> dict:
    import tomllib
    from importlib.resources import files

    raw = tomllib.loads(files("tsm.policies").joinpath(f"{name}.toml").read_text())
    raw["booking"].update(booking)
    return raw


def test_the_cli_refuses_then_books_with_a_recorded_waiver(tmp_path, monkeypatch):
    import re
    import sqlite3

    from click.testing import CliRunner

    from tsm.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSM_CLOCK_START", "2026-11-10T09:00:00+00:00")
    url = f"sqlite:///{tmp_path}/cli.db"

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--database-url", url, *args], obj={}, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    run("demo")
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute(
            "UPDATE school_contact SET active = 0 WHERE role = 'senior_leader' AND school_id = "
            "(SELECT id FROM school WHERE urn = 990001)"
        )
    [start] = re.findall(
        r"(\w{3} \d\d \w{3} \d{4} \d\d:\d\d)–", run("slots", "--urn", "990001", "--limit", "1")
    )
    at = f"{__import__('datetime').datetime.strptime(start, '%a %d %b %Y %H:%M'):%Y-%m-%d %H:%M}"
    refused = run("book", "--urn", "990001", "--at", at, code=2)
    assert "no senior leader invited" in refused and "--waive-senior-leader" in refused
    booked = run(
        "book", "--urn", "990001", "--at", at, "--waive-senior-leader", "Head retired; interim head from May"
    )
    assert "TSM booked" in booked
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        [(detail,)] = conn.execute("SELECT detail FROM audit_log WHERE action = 'meeting.book'").fetchall()
    assert "Head retired; interim head from May" in detail
