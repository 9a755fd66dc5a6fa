"""A joint TSM for several schools of one trust (issue 13, item 7; Kent's FAQ: a trust may hold one TSM for several
of its schools with one officer): the officer arranges it, at the site of one of its schools; a school's contact may
book one only where the LA allows it (``booking.trust_contacts_book_joint``), and then every school's own entitlement
and route are checked; the meeting is each school's TSM of the term."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from factories import local, make_world
from sqlalchemy import update

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import School
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, InvalidInput, NotAllowed
from tsm.domain.feedback import Coverage
from tsm.domain.policy import load_policy
from tsm.services.actors import Actor
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports, coverage_csv, coverage_lines

AT = local(2026, 1, 8, 10)


async def _svc(db, profile="kent"):
    world = await make_world(db, policy=profile)
    clock = FixedClock(local(2026, 1, 5, 8))
    cal = LocalCalendar(db)
    return world, BookingService(
        db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock)
    )


async def test_the_officer_books_a_joint_tsm_at_the_site_of_the_school_chosen(db):
    world, svc = await _svc(db)
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    async with db.transaction() as s:
        await s.exec(update(School).where(School.id == b).values(street="2 Beech Road"))
    done = await svc.book(world.officer("ann"), [a, b], AT, mode="on_site", site_school_id=b)
    assert set(done.meeting.school_ids) == {a, b}
    assert done.meeting.location.startswith("2 Beech Road")  # Trust B Primary's site, not the first school's
    for school, lead in ((a, "trust_a.lead"), (b, "trust_b.lead")):  # in each school's "my meetings"
        assert [m.id for m in await svc.list_meetings(world.contact(lead), school_id=school)] == [
            done.meeting.id
        ]
    with pytest.raises(BookingRefused) as err:  # and it is each school's TSM of the term
        await svc.book(world.contact("trust_b.lead"), b, local(2026, 1, 13, 10))
    assert err.value.code == "already_booked"


async def test_the_place_of_a_joint_tsm_must_be_one_of_its_schools(db):
    world, svc = await _svc(db)
    with pytest.raises(InvalidInput, match="site of one of its schools"):
        await svc.book(
            world.officer("ann"),
            [world.schools["trust_a"], world.schools["trust_b"]],
            AT,
            mode="on_site",
            site_school_id=world.schools["low_primary"],
        )


async def test_a_schools_contact_cannot_use_up_a_sibling_schools_term_unless_the_la_allows_it(db):
    world, svc = await _svc(db, "norfolk")  # Norfolk's profile says no (Kent's says yes: its FAQ)
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    with pytest.raises(NotAllowed, match="arranged by Ann Officer"):
        await svc.book(world.contact("trust_a.lead"), [a, b], AT, mode="teams")
    assert await svc.list_meetings(world.officer("ann"), school_id=b) == []


async def test_where_the_la_allows_contacts_to_book_joint_every_schools_route_is_checked(db, monkeypatch):
    world, svc = await _svc(db, "norfolk")
    norfolk = load_policy("norfolk")
    monkeypatch.setattr(
        svc.ref, "policy", lambda name: dataclasses.replace(norfolk, trust_contacts_book_joint=True)
    )
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    done = await svc.book(world.contact("trust_a.lead"), [a, b], AT, mode="teams")
    assert set(done.meeting.school_ids) == {a, b}
    # A sibling the LA contacts directly (made an independent school here): the joint booking is refused.
    async with db.transaction() as s:
        await s.exec(
            update(School)
            .where(School.id == b)
            .values(
                booking_route="contacted_directly",
                type_name="Other independent school",
                type_group="Independent schools",
            )
        )
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("trust_a.lead"), [a, b], local(2026, 4, 21, 10), mode="teams")
    assert err.value.code == "contacted_directly"


async def test_a_joint_tsm_needs_a_senior_leader_of_each_school(db):
    world, svc = await _svc(db)
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    lead_a, head_a = world.contacts["trust_a.lead"], world.contacts["trust_a.head"]
    lead_b, head_b = world.contacts["trust_b.lead"], world.contacts["trust_b.head"]
    officer = world.officer("ann")
    # Trust A's head is invited as its senior leader; Trust B sends only its attendance lead: refused, naming B
    with pytest.raises(BookingRefused) as err:
        await svc.book(officer, [a, b], AT, mode="teams", attendee_contact_ids=[head_a, lead_a, lead_b])
    assert err.value.code == "no_senior_leader"
    assert "Trust B Primary has no senior leader invited" in err.value.message
    assert "Trust A Primary" not in err.value.message
    assert await svc.list_meetings(officer, school_id=b) == []
    # each school picks who attends as its senior leader (Trust B: its attendance lead, who attends as that)
    done = await svc.book(
        officer,
        [a, b],
        AT,
        mode="teams",
        attendee_contact_ids=[head_a, lead_b, head_b],
        senior_leader_ids=[head_a, lead_b],
    )
    roles = {a.email: (a.role, a.required) for a in done.meeting.attendees}
    assert roles["lead@100007.sch.example"] == ("senior_leader", True)
    assert roles["head@100006.sch.example"] == ("senior_leader", True)
    # one named as a senior leader must be among those invited
    with pytest.raises(NotAllowed):
        await svc.book(
            world.officer("ann"),
            world.schools["low_primary"],
            AT,
            attendee_contact_ids=[world.contacts["low_primary.head"]],
            senior_leader_ids=[world.contacts["high_primary.head"]],
        )


async def test_the_coverage_report_shows_each_school_of_a_joint_tsm_as_booked_joint_naming_the_others(db):
    world, svc = await _svc(db)
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    officer = world.officer("ann")
    await svc.book(officer, [a, b], AT, mode="teams")
    await svc.book(officer, world.schools["low_primary"], local(2026, 1, 13, 10), mode="teams")
    svc.clock.now = local(2026, 1, 7, 9)  # in the spring term (from 6 January): "current" is the TSMs' term
    reports = Reports(db, svc.ref, clock=svc.clock)

    r = await reports.coverage(Actor("admin"), "current")
    rows = {x.school: x for x in r.rows}
    assert rows["Trust A Primary"].status is Coverage.BOOKED
    assert rows["Trust A Primary"].joint_with == ("Trust B Primary",)
    assert rows["Trust A Primary"].status_words == "booked (joint) with Trust B Primary"
    assert rows["Trust B Primary"].status_words == "booked (joint) with Trust A Primary"
    assert rows["Low Primary School"].joint_with == ()  # its own TSM: plain "booked"
    assert rows["Low Primary School"].status_words == "booked"
    assert rows["High Primary School"].joint_with == ()  # no TSM at all
    # each school's TSM of the term: the joint one counts once for each of its schools
    [ann] = [t for t in r.tallies if t.officer == "Ann Officer"]
    assert ann.counts[Coverage.BOOKED] == 3

    lines = coverage_lines(r)
    assert "    Trust A Primary (100006), Ann Officer: booked (joint) with Trust B Primary" in lines
    assert "    Trust B Primary (100007), Ann Officer: booked (joint) with Trust A Primary" in lines
    assert not any("Low Primary School" in line for line in lines)
    table = {row["school"]: row for row in csv.DictReader(io.StringIO(coverage_csv(r)))}
    assert table["Trust A Primary"]["status"] == "booked"
    assert table["Trust A Primary"]["joint_with"] == "Trust B Primary"
    assert table["Low Primary School"]["joint_with"] == ""

    # held: still joint, in the officer's own report as in the LA's
    svc.clock.now = local(2026, 1, 8, 12)
    [m] = await svc.list_meetings(officer, school_id=a)
    await svc.mark_held(officer, m.id)
    mine = await reports.coverage(officer, "current")
    assert {x.school: x.status_words for x in mine.rows}[
        "Trust B Primary"
    ] == "held (joint) with Trust A Primary"
