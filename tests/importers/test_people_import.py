"""Officers, school contacts, link officers and trust officers from CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import func, select

from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, TrustOfficer
from tsm.demo import GIAS_HEADER
from tsm.domain.errors import NotFound
from tsm.domain.policy import WorkingHours, load_policy
from tsm.importers.gias import import_gias
from tsm.importers.people import (
    import_contacts,
    import_link_officers,
    import_officers,
    import_trust_officers,
    normalise_email,
    parse_working_hours,
)

NORFOLK = "926"


@pytest.fixture
def database(db):
    return db


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def gias_row(urn, name, **kw):
    row = dict.fromkeys(GIAS_HEADER, "")
    row.update(
        {
            "URN": str(urn),
            "LA (code)": kw.pop("la", NORFOLK),
            "EstablishmentName": name,
            "TypeOfEstablishment (name)": "Academy converter",
            "EstablishmentTypeGroup (name)": "Academies",
            "EstablishmentStatus (name)": "Open",
            "PhaseOfEducation (name)": "Primary",
            **kw,
        }
    )
    return row


@pytest.fixture
async def schools(database, tmp_path):
    """Norfolk with three schools (two in trust 7001) and Kent with one."""
    rows = [
        gias_row(900001, "Alpha Academy", **{"Trusts (code)": "7001", "Trusts (name)": "Seven Trust"}),
        gias_row(900002, "Beta Academy", **{"Trusts (code)": "7001", "Trusts (name)": "Seven Trust"}),
        gias_row(
            900003,
            "Gamma Primary",
            **{
                "TypeOfEstablishment (name)": "Community school",
                "EstablishmentTypeGroup (name)": "Local authority maintained schools",
            },
        ),
        gias_row(800001, "Kent School", la="886"),
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GIAS_HEADER)
    w.writeheader()
    w.writerows(rows)
    path = write(tmp_path / "gias.csv", buf.getvalue())
    await import_gias(database, path, la_code=NORFOLK, policy=load_policy("norfolk"))
    await import_gias(database, path, la_code="886", policy=load_policy("kent"))
    return path


async def all_rows(db, model):
    async with db.reader() as s:
        return (await s.exec(select(model))).all()


# --- pure parsing -------------------------------------------------------------------------------------


def test_working_hours_text():
    assert parse_working_hours("") is None
    raw = parse_working_hours("mon=09:00-16:00; Tuesday=09:00-12:00|13:00-16:00")
    assert raw == {"mon": ["09:00-16:00"], "tue": ["09:00-12:00", "13:00-16:00"]}
    assert WorkingHours.parse(raw).by_weekday.keys() == {0, 1}
    for bad, words in [
        ("mon 09:00-16:00", "not like"),
        ("xyz=09:00-10:00", "not a weekday"),
        ("mon=16:00-09:00", "ends before it starts"),
        ("mon=9am-4pm", "not like"),
        ("mon=09:00-12:00|11:00-13:00", "overlap"),
        ("mon=09:00-12:00;monday=13:00-14:00", "twice"),
        ("mon=", "no times"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_working_hours(bad)


def test_emails_are_validated_and_lower_cased():
    assert normalise_email("  Jo.Bloggs@School.Example ") == "jo.bloggs@school.example"
    for bad in [
        "",
        "jo",
        "jo@",
        "@x.example",
        "jo@@x.example",
        "jo bloggs@x.example",
        "jo@x",
        "jo..b@x.example",
    ]:
        with pytest.raises(ValueError):
            normalise_email(bad)


# --- officers -----------------------------------------------------------------------------------------

OFFICERS = """name,email,mailbox,area,working_hours,max_meetings_per_day,is_admin
Ann Officer,Ann.Officer@LA.example,,North,,,yes
Bob Officer,bob@la.example,bob.calendar@la.example,South,mon=09:00-16:00;tue=09:00-12:00|13:00-16:00,2,no
No Email,,,,,,
Bad Hours,bad.hours@la.example,,,mon=16:00-09:00,,
Bad Max,bad.max@la.example,,,,0,
Bad Admin,bad.admin@la.example,,,,,perhaps
Ann Again,ann.officer@la.example,,,,,
"""


async def test_officers_upsert_by_email_with_line_errors(database, schools, tmp_path):
    path = write(tmp_path / "officers.csv", OFFICERS)
    report = await import_officers(database, path, la_code=NORFOLK)
    assert [line for line, _ in report.errors] == [4, 5, 6, 7, 8]
    messages = dict(report.errors)
    assert "email is missing" in messages[4]
    assert "ends before it starts" in messages[5]
    assert "max_meetings_per_day" in messages[6]
    assert "is_admin" in messages[7]
    assert "more than once" in messages[8]
    assert (report.ok, report.created) == (2, 2)

    officers = {o.email: o for o in await all_rows(database, Officer)}
    assert set(officers) == {"ann.officer@la.example", "bob@la.example"}
    ann, bob = officers["ann.officer@la.example"], officers["bob@la.example"]
    assert (ann.name, ann.mailbox, ann.area, ann.working_hours, ann.max_meetings_per_day, ann.is_admin) == (
        "Ann Officer",
        "ann.officer@la.example",
        "North",
        None,
        None,
        True,
    )
    assert bob.mailbox == "bob.calendar@la.example"
    assert bob.working_hours == {"mon": ["09:00-16:00"], "tue": ["09:00-12:00", "13:00-16:00"]}
    assert (bob.max_meetings_per_day, bob.is_admin) == (2, False)

    write(
        path,
        "Email,Name,Area\nANN.OFFICER@la.example,Ann Officer-Smith,North\nbob@la.example,Bob Officer,South\n",
    )
    again = await import_officers(database, path, la_code=NORFOLK)
    assert (again.ok, again.created, again.updated, again.unchanged) == (2, 0, 2, 0)  # Bob loses his hours
    officers = {o.email: o for o in await all_rows(database, Officer)}
    assert len(officers) == 2
    assert officers["ann.officer@la.example"].name == "Ann Officer-Smith"
    assert officers["bob@la.example"].working_hours is None


async def test_officers_need_the_la(database, tmp_path):
    with pytest.raises(NotFound, match="926"):
        await import_officers(database, write(tmp_path / "o.csv", OFFICERS), la_code=NORFOLK)


async def test_officers_file_without_the_columns(database, schools, tmp_path):
    report = await import_officers(database, write(tmp_path / "o.csv", "who,where\na,b\n"), la_code=NORFOLK)
    assert report.ok == 0 and report.errors[0][0] == 1 and "email" in report.errors[0][1]


# --- contacts -----------------------------------------------------------------------------------------


async def test_contacts_upsert_by_school_and_email(database, schools, tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        (
            "urn,name,email,role\n"
            "900001,Cat Lead,Cat.Lead@Alpha.example,attendance_lead\n"  # 2
            "900001,Dan Head,dan@alpha.example,Senior Leader\n"  # 3
            "900002,Cat Lead,cat.lead@alpha.example,attendance lead\n"  # 4: same person, another school
            "900003,Eve Other,eve@gamma.example,\n"  # 5: role defaults to other
            "123456,Nobody,nobody@x.example,other\n"  # 6
            "900003,Bad Role,bad@gamma.example,governor\n"  # 7
            "900003,,noname@gamma.example,other\n"  # 8
            "900003,Bad Email,not-an-email,other\n"  # 9
            "900001,Cat Lead Twice,cat.lead@alpha.example,other\n"  # 10
        ),
    )
    report = await import_contacts(database, path)
    assert [line for line, _ in report.errors] == [6, 7, 8, 9, 10]
    assert "URN 123456" in dict(report.errors)[6]
    assert "governor" in dict(report.errors)[7]
    assert report.created == 4
    contacts = await all_rows(database, SchoolContact)
    schools_by_id = {s.id: s.urn for s in await all_rows(database, School)}
    got = sorted((schools_by_id[c.school_id], c.email, c.name, c.role) for c in contacts)
    assert got == [
        (900001, "cat.lead@alpha.example", "Cat Lead", "attendance_lead"),
        (900001, "dan@alpha.example", "Dan Head", "senior_leader"),
        (900002, "cat.lead@alpha.example", "Cat Lead", "attendance_lead"),
        (900003, "eve@gamma.example", "Eve Other", "other"),
    ]

    write(path, "URN,Email,Name,Role\n900001,dan@ALPHA.example,Dan Head,attendance_lead\n")
    again = await import_contacts(database, path)
    assert (again.created, again.updated) == (0, 1)
    async with database.reader() as s:
        assert (await s.exec(select(func.count()).select_from(SchoolContact))).one() == 4


# --- link officers and trust officers -----------------------------------------------------------------


async def _officers(database, tmp_path):
    await import_officers(
        database,
        write(tmp_path / "o.csv", "name,email\nAnn,ann@la.example\nBob,bob@la.example\n"),
        la_code=NORFOLK,
    )
    await import_officers(
        database, write(tmp_path / "k.csv", "name,email\nKen,ken@kent.example\n"), la_code="886"
    )
    return {o.email: o.id for o in await all_rows(database, Officer)}


async def test_link_officers(database, schools, tmp_path):
    ids = await _officers(database, tmp_path)
    path = write(
        tmp_path / "links.csv",
        (
            "urn,officer_email\n"
            "900001,ANN@la.example\n"  # 2
            "900002,bob@la.example\n"  # 3
            "900003,ken@kent.example\n"  # 4: Kent's officer for a Norfolk school
            "900003,nobody@la.example\n"  # 5
            "999999,ann@la.example\n"  # 6
            "900001,bob@la.example\n"  # 7: twice
        ),
    )
    report = await import_link_officers(database, path)
    assert [line for line, _ in report.errors] == [4, 5, 6, 7]
    assert "another LA" in dict(report.errors)[4]
    links = {s.urn: s.link_officer_id for s in await all_rows(database, School)}
    assert links[900001] == ids["ann@la.example"] and links[900002] == ids["bob@la.example"]
    assert links[900003] is None

    write(path, "urn,officer_email\n900001,\n")
    assert (await import_link_officers(database, path)).updated == 1
    assert {s.urn: s.link_officer_id for s in await all_rows(database, School)}[900001] is None


async def test_trust_officers_change_the_booking_route(database, schools, tmp_path):
    ids = await _officers(database, tmp_path)
    routes = {s.urn: s.booking_route for s in await all_rows(database, School)}
    assert routes[900001] == routes[900002] == "self"

    path = write(
        tmp_path / "trusts.csv",
        "trust_code,officer_email\n7001,ann@la.example\n9999,ann@la.example\n7001,bob@la.example\n",
    )
    report = await import_trust_officers(database, path)
    assert [line for line, _ in report.errors] == [3, 4]
    norfolk = next(la.id for la in await all_rows(database, LA) if la.code == NORFOLK)
    assert [(t.trust_code, t.la_id, t.officer_id) for t in await all_rows(database, TrustOfficer)] == [
        ("7001", norfolk, ids["ann@la.example"])
    ]
    schools = {s.urn: s for s in await all_rows(database, School)}
    assert schools[900001].booking_route == schools[900002].booking_route == "contacted_directly"
    assert schools[900003].booking_route == "self"

    write(path, "trust_code,officer_email\n7001,\n")
    [(_line, why)] = (await import_trust_officers(database, path)).errors  # two LAs: which one's to clear?
    assert "--la-code" in why
    assert (await import_trust_officers(database, path, la_code=NORFOLK)).updated == 1
    assert await all_rows(database, TrustOfficer) == []
    schools = {s.urn: s for s in await all_rows(database, School)}
    assert schools[900001].booking_route == "self"
    async with database.reader() as s:
        assert (await s.exec(select(func.count()).select_from(LA))).one() == 2


async def test_a_trusts_allocated_officer_is_its_schools_officer_and_books_for_them(
    database, schools, tmp_path
):
    """Issue 13, item 6 (Norfolk's allocated Attendance and Entitlement Officer): the trust's allocated officer acts
    for the trust's schools in their LA and is the one named to them; a later link-officer file keeps them."""
    from datetime import UTC, datetime

    from tsm.adapters.calendar_local import LocalCalendar
    from tsm.clock import FixedClock
    from tsm.domain.errors import BookingRefused
    from tsm.importers.terms import import_terms_file
    from tsm.services.actors import Actor
    from tsm.services.booking import BookingService
    from tsm.services.reference import ReferenceData

    ids = await _officers(database, tmp_path)
    await import_link_officers(
        database,
        write(tmp_path / "links.csv", "urn,officer_email\n900001,bob@la.example\n900002,bob@la.example\n"),
    )
    report = await import_trust_officers(
        database, write(tmp_path / "trusts.csv", "trust_code,officer_email\n7001,ann@la.example\n")
    )
    assert "2 schools now have their trust's allocated officer as their officer" in report.summary()
    officers = {s.urn: s.link_officer_id for s in await all_rows(database, School)}
    assert officers[900001] == officers[900002] == ids["ann@la.example"]

    again = await import_link_officers(
        database, write(tmp_path / "links2.csv", "urn,officer_email\n900001,bob@la.example\n")
    )
    assert "kept that officer rather than the file's: Alpha Academy" in again.summary()
    assert {s.urn: s.link_officer_id for s in await all_rows(database, School)}[900001] == ids[
        "ann@la.example"
    ]

    # Ann books Alpha Academy's TSM (it is on her list), and its staff are told Ann arranges it, not Bob.
    async with database.transaction() as s:
        alpha = (await s.exec(select(School).where(School.urn == 900001))).one()
    await import_terms_file(
        database,
        alpha.la_id,
        write(
            tmp_path / "terms.csv",
            ("academic_year,term,start_date,end_date\n2025-26,spring,2026-01-05,2026-03-27\n"),
        ),
    )
    async with database.transaction() as s:
        lead = SchoolContact(
            school_id=alpha.id, name="Lee Lead", email="lee@alpha.example", role="attendance_lead"
        )
        head = SchoolContact(
            school_id=alpha.id, name="Hana Head", email="hana@alpha.example", role="senior_leader"
        )
        s.add_all([lead, head])
        await s.flush()
        lead_id = lead.id
    clock = FixedClock(datetime(2026, 1, 5, 8, tzinfo=UTC))
    svc = BookingService(database, LocalCalendar(database), ReferenceData(database), clock=clock)
    done = await svc.book(
        Actor("officer", ids["ann@la.example"]), alpha.id, datetime(2026, 1, 8, 10, tzinfo=UTC), mode="teams"
    )
    assert done.meeting.officer_name == "Ann"
    with pytest.raises(BookingRefused) as err:
        await svc.book(Actor("contact", lead_id, alpha.id), alpha.id, datetime(2026, 2, 3, 10, tzinfo=UTC))
    assert err.value.code == "contacted_directly" and "Ann (ann@la.example)" in err.value.message


async def test_one_las_officers_file_never_takes_another_las_officer(database, schools, tmp_path):
    ids = await _officers(database, tmp_path)
    report = await import_officers(
        database,
        write(
            tmp_path / "k2.csv",
            "name,email,is_admin\nAnn Taken,ann@la.example,yes\nKim,kim@kent.example,no\n",
        ),
        la_code="886",
    )
    assert [(line, "another LA" in why) for line, why in report.errors] == [(2, True)]
    officers = {o.email: o for o in await all_rows(database, Officer)}
    norfolk = (await all_rows(database, LA))[0].id
    ann = officers["ann@la.example"]
    assert (ann.id, ann.la_id, ann.name, ann.is_admin) == (ids["ann@la.example"], norfolk, "Ann", False)
    assert officers["kim@kent.example"].la_id != norfolk  # the rest of the file is kept


async def test_a_trusts_allocated_officer_is_per_la_and_one_las_file_never_touches_anothers(
    database, schools, tmp_path
):
    """Issue 15: trust 7001 has schools in Norfolk and in Kent. Norfolk's allocated officer makes Norfolk's schools
    contacted directly and theirs; Kent's file gives the trust Kent's officer for Kent's school, and leaves Norfolk's
    allocation (and schools) as they were; an officer of the other LA is refused in an LA's file."""
    rows = [
        gias_row(
            800002, "Kent Seven Academy", la="886", **{"Trusts (code)": "7001", "Trusts (name)": "Seven"}
        )
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GIAS_HEADER)
    w.writeheader()
    w.writerows(rows)
    await import_gias(
        database, write(tmp_path / "kent.csv", buf.getvalue()), la_code="886", policy=load_policy("kent")
    )
    ids = await _officers(database, tmp_path)

    norfolk_file = write(
        tmp_path / "n.csv", "trust_code,officer_email\n7001,ann@la.example\n7001,ken@kent.example\n"
    )
    report = await import_trust_officers(database, norfolk_file, la_code=NORFOLK)
    assert [(line, "another LA" in why) for line, why in report.errors] == [(3, True)]
    schools_now = {s.urn: s for s in await all_rows(database, School)}
    assert schools_now[900001].link_officer_id == ids["ann@la.example"]
    assert schools_now[900001].booking_route == "contacted_directly"
    kent_school = schools_now[800002]
    assert kent_school.link_officer_id != ids["ann@la.example"]  # Norfolk's officer is not Kent's school's

    await import_trust_officers(
        database,
        write(tmp_path / "k.csv", "trust_code,officer_email\n7001,ken@kent.example\n"),
        la_code="886",
    )
    allocations = {(t.trust_code, t.la_id): t.officer_id for t in await all_rows(database, TrustOfficer)}
    assert sorted(allocations.values()) == sorted([ids["ann@la.example"], ids["ken@kent.example"]])
    schools_now = {s.urn: s for s in await all_rows(database, School)}
    assert schools_now[800002].link_officer_id == ids["ken@kent.example"]
    assert schools_now[900001].link_officer_id == ids["ann@la.example"]  # Norfolk's untouched

    # Clearing Kent's allocation leaves Norfolk's.
    await import_trust_officers(
        database, write(tmp_path / "k2.csv", "trust_code,officer_email\n7001,\n"), la_code="886"
    )
    assert [t.officer_id for t in await all_rows(database, TrustOfficer)] == [ids["ann@la.example"]]
    assert {s.urn: s for s in await all_rows(database, School)}[900001].booking_route == "contacted_directly"
