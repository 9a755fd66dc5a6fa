"""The Demoshire demo data: loaded through the real importers, deterministic, idempotent."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from tsm.adapters.db.calendars import CalendarEvent
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Term, TermBreak, Trust, TrustOfficer
from tsm.adapters.db.engine import Database
from tsm.adapters.db.migrate import upgrade
from tsm.demo import (
    CALENDAR_WEEKS,
    CONTACT_FIRST_NAMES,
    CONTACT_LAST_NAMES,
    DEMO_ATTENDANCE_PERIOD,
    DEMO_OPEN_SCHOOLS,
    HEAD_FIRST_NAMES,
    HEAD_LAST_NAMES,
    LONDON,
    demo_gias_csv,
    demo_gias_path,
    load_demo,
)
from tsm.domain.averages import parse_period
from tsm.domain.policy import load_policy

TODAY = date(2026, 11, 23)  # a Monday


@pytest.fixture
def url(sqlite_url) -> str:
    return sqlite_url


@pytest.fixture
def database(db):
    return db


async def rows(db, model):
    async with db.reader() as s:
        return (await s.exec(select(model))).all()


def test_the_shipped_gias_file_is_the_generated_one():
    data = demo_gias_path().read_bytes()
    assert data == demo_gias_csv().encode("cp1252")  # regenerate with tsm.demo.write_demo_gias_csv
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # cp1252 like the real download, so the demo exercises that path
    header = data.decode("cp1252").splitlines()[0]
    assert "HeadFirstName" in header and "HeadLastName" in header


def test_head_teachers_and_contacts_use_different_made_up_names():
    assert not set(HEAD_FIRST_NAMES) & set(CONTACT_FIRST_NAMES)
    assert not set(HEAD_LAST_NAMES) & set(CONTACT_LAST_NAMES)


async def test_load_demo(database, url):
    summary = await load_demo(database, today=TODAY)

    assert not summary.already_loaded
    assert (
        summary.la_code,
        summary.schools,
        summary.trusts,
        summary.officers,
        summary.contacts,
        summary.terms,
    ) == ("999", 30, 3, 3, 60, 6)
    assert summary.closed_skipped == 1
    assert all(not r.errors for r in summary.reports.values()), {
        k: r.errors for k, r in summary.reports.items()
    }
    assert "30 schools" in summary.summary()

    la = (await rows(database, LA))[0]
    assert (la.code, la.name, la.policy) == ("999", "Demoshire", "demo")
    schools = {s.urn: s for s in await rows(database, School)}
    assert set(schools) == {s.urn for s in DEMO_OPEN_SCHOOLS}
    assert 990031 not in schools and 998001 not in schools  # closed; another LA

    # every kind of school, and the routes Norfolk's (= the demo's) rules give them
    assert Counter(s.phase for s in schools.values()) == {
        "primary": 13,
        "secondary": 7,
        "special": 7,
        "other": 2,
        "pru_ap": 1,
    }
    direct = {urn for urn, s in schools.items() if s.booking_route == "contacted_directly"}
    assert direct == {
        990009,
        990010,
        990016,
        990020,
        990024,  # trust 9001, which has an allocated officer
        990021,
        990022,
        990023,  # LA-maintained special schools
        990027,
        990028,
        990029,  # independent, independent special
    }
    assert schools[990025].booking_route == "self"  # academy special in a trust without an officer
    assert schools[990030].booking_route == "self"  # the PRU

    # attendance on both sides of the national averages, and some schools without a figure
    found = load_policy("demo").national_averages.matching(parse_period(DEMO_ATTENDANCE_PERIOD))
    averages = {phase.value: value for phase, value in found.attendance_by_phase.items()}
    assert {s.attendance_period for s in schools.values() if s.attendance_pct is not None} == {
        DEMO_ATTENDANCE_PERIOD
    }
    compared = [
        (s.attendance_pct, averages[s.phase])
        for s in schools.values()
        if s.attendance_pct is not None and s.phase in averages
    ]
    assert any(pct < avg for pct, avg in compared) and any(pct >= avg for pct, avg in compared)
    assert any(s.attendance_pct is None for s in schools.values())
    assert all(0 <= s.attendance_pct <= 100 for s in schools.values() if s.attendance_pct is not None)

    # officers: everyone has a link officer, each officer has link schools, the trust has its officer
    officers = {o.id: o for o in await rows(database, Officer)}
    assert all(o.email.endswith("@demo.example") for o in officers.values())
    assert sum(o.is_admin for o in officers.values()) == 1
    links = Counter(s.link_officer_id for s in schools.values())
    assert set(links) == set(officers) and all(n >= 5 for n in links.values())
    allocated = {t.trust_code: t for t in await rows(database, TrustOfficer)}
    assert (
        allocated["9001"].officer_id in officers
        and allocated["9001"].la_id == next(iter(schools.values())).la_id
    )
    assert "9002" not in allocated

    # two contacts per school: an attendance lead and a senior leader
    contacts = await rows(database, SchoolContact)
    by_school = {}
    for c in contacts:
        by_school.setdefault(c.school_id, []).append(c.role)
        assert c.email.endswith("@demo.example")
    assert len(by_school) == 30
    assert all(sorted(r) == ["attendance_lead", "senior_leader"] for r in by_school.values())

    # terms: this academic year and the next, with half terms
    terms = await rows(database, Term)
    assert {t.academic_year for t in terms} == {"2026-27", "2027-28"}
    assert len(await rows(database, TermBreak)) >= 6

    # officers' own calendars over the coming weeks
    events = await rows(database, CalendarEvent)
    assert {e.officer_id for e in events} == set(officers)
    assert {e.show_as for e in events} == {"busy", "oof", "tentative", "workingElsewhere"}
    start = datetime.combine(TODAY, datetime.min.time(), UTC)
    for e in events:
        assert start < e.start < e.end <= start + timedelta(weeks=CALENDAR_WEEKS, days=2)
        assert e.start.astimezone(LONDON).weekday() < 5
    assert summary.calendar_events == len(events)

    # the head teachers in the demo GIAS file never reach the database
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        text = [
            v
            for t in tables
            for row in conn.execute(f'SELECT * FROM "{t}"')
            for v in row
            if isinstance(v, str)
        ]
    finally:
        conn.close()
    assert any("Ashcombe" in v for v in text)
    assert not [v for v in text for name in HEAD_FIRST_NAMES + HEAD_LAST_NAMES if name in v]


async def test_load_demo_twice_changes_nothing(database):
    first = await load_demo(database, today=TODAY)
    before = {
        m.__name__: len(await rows(database, m))
        for m in (LA, School, Trust, Officer, SchoolContact, Term, TermBreak, CalendarEvent)
    }
    second = await load_demo(database, today=TODAY + timedelta(days=3))
    after = {
        m.__name__: len(await rows(database, m))
        for m in (LA, School, Trust, Officer, SchoolContact, Term, TermBreak, CalendarEvent)
    }
    assert second.already_loaded
    assert before == after
    assert (second.schools, second.officers, second.contacts, second.calendar_events) == (
        first.schools,
        first.officers,
        first.contacts,
        first.calendar_events,
    )


async def test_demo_is_deterministic(tmp_path):
    results = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path}/{name}.db"
        upgrade(url)
        db = Database(url)
        try:
            await load_demo(db, today=TODAY)
            schools = sorted(
                (s.urn, s.attendance_pct, s.booking_route, s.link_officer_id, s.postcode)
                for s in await rows(db, School)
            )
            contacts = sorted((c.school_id, c.name, c.email) for c in await rows(db, SchoolContact))
            events = sorted((e.officer_id, e.start, e.end, e.show_as) for e in await rows(db, CalendarEvent))
            results.append((schools, contacts, events))
        finally:
            await db.dispose()
    assert results[0] == results[1]


@pytest.mark.postgres
async def test_load_demo_on_postgres(pg_url):
    """The same import path on PostgreSQL (lengths, booleans, JSON and time zones are enforced there)."""
    db = Database(pg_url)
    try:
        summary = await load_demo(db, today=TODAY)
        assert (summary.schools, summary.officers, summary.contacts, summary.terms) == (30, 3, 60, 6)
        assert all(not r.errors for r in summary.reports.values())
        assert (await load_demo(db, today=TODAY)).already_loaded
        officer = (await rows(db, Officer))[0]
        assert officer.working_hours is None or isinstance(officer.working_hours, dict)
    finally:
        await db.dispose()
