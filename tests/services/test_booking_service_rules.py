"""The booking service's rules that its mutation run (issue 17, tools/mutate.py) found unpinned, one test each, named
after the rule: on the Norfolk and the Kent profiles where the rule differs between them (the daily cap, the
default mode, the meeting's length), on SQLite and on PostgreSQL (``db`` here is both).

Outlook is played by the local calendar's store answering as Graph does (``OutlookLike``: written through the
outbox after the booking's transaction, a Teams link for an online meeting); ``meanwhile`` is what someone else does
while the officer's calendar is being read, which is how the races between a check and its write are staged.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from factories import local, make_world
from icalendar import Calendar
from sqlalchemy import event, update
from sqlmodel import col, select

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.calendars import CalendarOutbox
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Term
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import AuditLog, DomainEvent
from tsm.adapters.db.meetings import Meeting
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, InvalidInput, NotAllowed, NotFound
from tsm.ports import BusyAsStatement
from tsm.services.actors import Actor
from tsm.services.booking import BookingService, preload_trust_officers, school_facts
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8)  # the Monday before the spring term (6 Jan - 27 Mar 2026, half term 16-20 Feb)
THU = local(2026, 1, 8)  # the first day both profiles' notice allows (Norfolk 48 hours, Kent 72)
CAP = {"norfolk": 3, "kent": 2}  # booking.max_meetings_per_officer_per_day
LENGTH = {"norfolk": 60, "kent": 90}  # a primary school's TSM, minutes
DEFAULT_MODE = {"norfolk": "teams", "kent": "on_site"}
TEAMS_LINK = "https://teams.microsoft.com/l/meetup-join/example"
profiles = pytest.mark.parametrize("profile", ["norfolk", "kent"])


@pytest.fixture
async def db(any_db_url):
    """The same tests on the embedded default (SQLite) and on PostgreSQL."""
    database = Database(any_db_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
def short_dir():
    """A folder for a profile file whose path fits the LA's policy column (64 characters, PostgreSQL checks)."""
    path = Path(tempfile.mkdtemp(prefix="tsm-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class LocalMeanwhile(LocalCalendar):
    """The local calendar; ``meanwhile`` (run once) is what someone else does while the officer's busy times are read."""

    def __init__(self, db: Database, meanwhile=None) -> None:
        super().__init__(db)
        self.meanwhile = meanwhile

    async def busy(self, calendars, window):
        then, self.meanwhile = self.meanwhile, None
        if then is not None:
            await then()
        return await super().busy(calendars, window)


class OutlookLike(LocalMeanwhile):
    """The local calendar's store answering as Graph does: written through the outbox, a Teams link, no .ics."""

    in_database = False

    async def create_event(self, details):
        result = await super().create_event(details)
        return replace(result, join_url=TEAMS_LINK if details.online else None, ics=None)

    async def update_event(self, event_id, details):
        return replace(await super().update_event(event_id, details), ics=None)


def service(
    db: Database, clock, calendar=None, *, sync: bool = True, deferred: bool = False
) -> BookingService:
    cal = calendar if calendar is not None else LocalCalendar(db)
    return BookingService(
        db,
        cal,
        ReferenceData(db),
        clock=clock,
        sync=CalendarSync(db, cal, clock=clock, deferred=deferred) if sync else None,
    )


async def setup(db, clock, profile: str = "norfolk", calendar=None, **kw):
    world = await make_world(db, policy=profile)
    return world, service(db, clock, calendar, **kw)


async def set_school(db, school_id: int, **values) -> None:
    async with db.transaction() as s:
        await s.exec(update(School).where(School.id == school_id).values(**values))


async def set_officer(db, officer_id: int, **values) -> None:
    async with db.transaction() as s:
        await s.exec(update(Officer).where(Officer.id == officer_id).values(**values))


async def add_contact(db, school_id: int, name: str, email: str, role: str) -> int:
    async with db.transaction() as s:
        c = SchoolContact(school_id=school_id, name=name, email=email, role=role)
        s.add(c)
        await s.flush()
        assert c.id is not None
        return c.id


async def events_of(db, meeting_id: int, kind: str | None = None) -> list[DomainEvent]:
    async with db.reader() as s:
        q = select(DomainEvent).where(DomainEvent.meeting_id == meeting_id).order_by(DomainEvent.id)
        rows = list(await s.exec(q))
    return [e for e in rows if kind is None or e.kind == kind]


def sequence_of(ics: bytes) -> int:
    return int(str(Calendar.from_ical(ics).walk("VEVENT")[0]["SEQUENCE"]))


class Statements:
    """Every statement sent to the database while ``on`` (a ``before_cursor_execute`` listener)."""

    def __init__(self, db: Database) -> None:
        self.on = False
        self.seen: list[str] = []

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _params, _context, _executemany):
            if self.on:
                self.seen.append(statement)

    def __enter__(self):
        self.seen.clear()
        self.on = True
        return self

    def __exit__(self, *exc):
        self.on = False


async def fill_day(svc: BookingService, world, profile: str, day, *, keys=None) -> list[int]:
    """The officer books Ann's day to its cap, on Teams, two hours apart from 09:00."""
    keys = keys or ("low_primary", "high_primary", "secondary")[: CAP[profile]]
    out = []
    for i, key in enumerate(keys):
        r = await svc.book(
            world.officer("ann"), world.schools[key], day.replace(hour=9 + 2 * i), mode="teams"
        )
        out.append(r.meeting.id)
    return out


# ---------------------------------------------------------------- a day with no time, in words (why_no_times_on)


@profiles
async def test_a_day_at_the_officers_daily_cap_is_said_to_be_full_with_the_profiles_cap(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    await fill_day(
        svc, world, profile, THU, keys=("high_primary", "secondary", "trust_a")[: CAP[profile] - 1]
    )
    assert await svc.why_no_times_on(who, school, THU.date()) is None  # one seat left: its times are taken
    await svc.book(world.officer("ann"), world.schools["trust_b"], THU.replace(hour=15), mode="teams")
    assert await svc.why_no_times_on(who, school, THU.date()) == (
        f"Ann Officer already has {CAP[profile]} TSMs on Thursday 8 January, the most in one day: "
        "please pick another day."
    )


async def test_only_that_days_tsms_count_toward_its_cap(db, clock):
    world, svc = await setup(db, clock)
    await fill_day(
        svc, world, "norfolk", local(2026, 1, 9), keys=("low_primary", "high_primary", "secondary")
    )
    await fill_day(svc, world, "norfolk", THU, keys=("trust_a", "trust_b"))
    # Friday is full, Thursday has two of three: Friday's meetings (read with a day's margin) are not Thursday's
    assert await svc.why_no_times_on(world.officer("ann"), world.schools["la_special"], THU.date()) is None
    assert "already has 3 TSMs on Friday 9 January" in await svc.why_no_times_on(
        world.officer("ann"), world.schools["la_special"], local(2026, 1, 9).date()
    )


async def test_an_officers_own_daily_cap_fills_the_day_before_the_profiles(db, clock):
    world, svc = await setup(db, clock)
    await set_officer(db, world.officers["ann"], max_meetings_per_day=1)
    await svc.book(world.officer("ann"), world.schools["high_primary"], THU.replace(hour=9))
    words = await svc.why_no_times_on(
        world.contact("low_primary.lead"), world.schools["low_primary"], THU.date()
    )
    assert words is not None and "already has 1 TSMs on Thursday 8 January" in words


@profiles
async def test_a_day_in_half_term_is_said_to_be_no_school_day(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    words = await svc.why_no_times_on(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 17).date()
    )
    assert (
        words == "Sorry, Tuesday 17 February 2026 is in half term: TSMs are held on school days in term time."
    )


async def test_a_day_the_officer_does_not_work_is_said_so_with_the_weekday(db, clock):
    world, svc = await setup(db, clock)
    await set_officer(db, world.officers["ann"], working_hours={"mon": "09:00-16:00", "thu": "09:00-16:00"})
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    assert (
        await svc.why_no_times_on(who, school, local(2026, 1, 7).date())
        == "Ann Officer does not work on Wednesdays: please pick another day."
    )
    assert await svc.why_no_times_on(who, school, THU.date()) is None  # a day she works, with times free


# ---------------------------------------------------------------- days and times of a booking or a move


@profiles
async def test_a_move_into_half_term_is_refused_as_no_school_day(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    r = await svc.book(world.officer("ann"), world.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(BookingRefused) as err:
        await svc.move(world.officer("ann"), r.meeting.id, local(2026, 2, 17, 10))
    assert err.value.code == "not_bookable_day"
    assert err.value.message == (
        "Sorry, Tuesday 17 February 2026 is in half term: TSMs are held on school days in term time."
    )


async def test_an_officers_own_working_hours_replace_the_profiles(db, clock):
    world, svc = await setup(db, clock)
    await set_officer(db, world.officers["ann"], working_hours={"thu": "17:00-19:00"})
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    offer = await svc.free_slots(who, school)
    assert offer.slots and {s.start.astimezone(NOW.tzinfo).hour for s in offer.slots} <= {17, 18}
    with pytest.raises(BookingRefused) as err:  # the profile's hours on Thursday are not hers
        await svc.book(who, school, THU.replace(hour=10))
    assert err.value.code == "not_offered"
    with pytest.raises(BookingRefused) as err:  # nor is Friday
        await svc.book(who, school, local(2026, 1, 9, 10))
    assert err.value.code == "officer_not_working" and "does not work on Fridays" in err.value.message
    assert (await svc.book(who, school, THU.replace(hour=17))).meeting.start == THU.replace(hour=17)


@profiles
async def test_a_days_cap_refuses_a_move_into_a_full_day_with_the_profiles_cap(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    await fill_day(svc, world, profile, THU)
    r = await svc.book(world.officer("ann"), world.schools["trust_a"], local(2026, 1, 9, 10), mode="teams")
    with pytest.raises(BookingRefused) as err:
        await svc.move(world.officer("ann"), r.meeting.id, THU.replace(hour=15))
    assert err.value.code == "day_full"
    assert f"already has {CAP[profile]} TSMs on Thursday 8 January" in err.value.message


@profiles
async def test_a_booking_with_no_mode_given_takes_the_profiles_default_mode_and_length(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    r = await svc.book(world.officer("ann"), world.schools["low_primary"], THU.replace(hour=10))
    assert r.meeting.mode == DEFAULT_MODE[profile]
    assert r.meeting.end - r.meeting.start == timedelta(minutes=LENGTH[profile])


# ---------------------------------------------------------------- which schools, which officer


async def test_a_booking_for_a_school_that_does_not_exist_is_not_found(db, clock):
    world, svc = await setup(db, clock)
    with pytest.raises(NotFound, match="No school with id 999999"):
        await svc.book(world.officer("ann"), 999999, THU.replace(hour=10))
    with pytest.raises(NotFound, match="No school with id 999999"):
        await svc.book(world.officer("ann"), [world.schools["trust_a"], 999999], THU.replace(hour=10))


@profiles
async def test_a_school_gias_lists_as_closed_can_neither_book_nor_be_booked_for(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    school = world.schools["low_primary"]
    await set_school(db, school, open=False)
    for who in (world.contact("low_primary.lead"), world.officer("ann")):
        with pytest.raises(BookingRefused) as err:
            await svc.book(who, school, THU.replace(hour=10))
        assert err.value.code == "school_closed" and err.value.context == {"school_id": school}
        assert "Low Primary School is not open (GIAS lists it as closed)" in err.value.message
        with pytest.raises(BookingRefused) as err:
            await svc.free_slots(who, school)
        assert err.value.code == "school_closed"
    assert await svc.list_meetings(world.officer("ann"), include_inactive=True) == []


async def test_a_school_with_no_link_officer_is_told_to_contact_the_la(db, clock):
    world, svc = await setup(db, clock)
    await set_school(db, world.schools["low_primary"], link_officer_id=None)
    for call in (
        lambda: svc.book(Actor.operator(), world.schools["low_primary"], THU.replace(hour=10)),
        lambda: svc.free_slots(Actor.operator(), world.schools["low_primary"]),
    ):
        with pytest.raises(BookingRefused) as err:
            await call()
        assert err.value.code == "no_officer"
        assert err.value.message == (
            "Low Primary School has no link officer yet. Please contact the LA attendance team."
        )


async def test_a_school_whose_link_officer_has_left_is_told_the_officer_is_not_available(db, clock):
    world, svc = await setup(db, clock)
    await set_officer(db, world.officers["ann"], active=False)
    with pytest.raises(BookingRefused) as err:
        await svc.book(Actor.operator(), world.schools["low_primary"], THU.replace(hour=10))
    assert err.value.code == "no_officer" and "not available in the system" in err.value.message


# ---------------------------------------------------------------- joint TSMs


@profiles
async def test_a_joint_tsm_on_site_is_held_at_the_first_schools_site_unless_another_is_named(
    db, clock, profile
):
    world, svc = await setup(db, clock, profile)
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    await set_school(db, a, street="1 Ash Road")
    await set_school(db, b, street="2 Beech Road")
    first = await svc.book(world.officer("ann"), [b, a], THU.replace(hour=10), mode="on_site")
    assert first.meeting.location == "1 Ash Road, Norwich, NR1 1AA"  # Trust A Primary's: the first school's
    await svc.cancel(world.officer("ann"), first.meeting.id, "Booked at the wrong site")
    other = await svc.book(
        world.officer("ann"), [a, b], THU.replace(hour=10), mode="on_site", site_school_id=b
    )
    assert other.meeting.location == "2 Beech Road, Norwich, NR1 1AA"
    with pytest.raises(InvalidInput, match="site of one of its schools"):
        await svc.book(
            world.officer("ann"),
            [a, b],
            local(2026, 4, 16, 10),
            mode="on_site",
            site_school_id=world.schools["low_primary"],
        )


async def test_a_joint_tsms_event_says_joint_and_a_one_school_tsms_does_not(db, clock):
    world, svc = await setup(db, clock, "kent")
    one = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], THU.replace(hour=9))
    joint = await svc.book(
        world.officer("ann"), [world.schools["trust_a"], world.schools["trust_b"]], THU.replace(hour=13)
    )
    [booked] = await events_of(db, one.meeting.id)
    [proposed] = await events_of(db, joint.meeting.id)
    assert (booked.kind, proposed.kind) == ("booked", "proposed")  # by the school itself; by the LA for it
    assert "joint" not in booked.data and proposed.data["joint"] is True


# ---------------------------------------------------------------- who is invited, and who as the senior leader


async def test_the_person_sent_first_attends_as_the_senior_leader_whatever_their_role_on_record(db, clock):
    world, svc = await setup(db, clock)
    lead, head = world.contacts["low_primary.lead"], world.contacts["low_primary.head"]
    r = await svc.book(
        world.contact("low_primary.lead"),
        world.schools["low_primary"],
        THU.replace(hour=10),
        attendee_contact_ids=[lead, head],
    )
    people = [(a.email, a.role, a.required) for a in r.meeting.attendees]
    assert people == [
        ("lead@100001.sch.example", "senior_leader", True),  # picked to attend as the senior leader
        ("head@100001.sch.example", "senior_leader", True),  # a senior leader on record is still required
    ]


async def test_the_senior_leader_comes_first_on_the_invitation(db, clock, tmp_path):
    world, svc = await setup(db, clock)
    school = world.schools["low_primary"]
    deputy = await add_contact(db, school, "Dee Deputy", "deputy@100001.sch.example", "attendance_lead")
    r = await svc.book(
        world.contact("low_primary.lead"),
        school,
        THU.replace(hour=10),
        attendee_contact_ids=[deputy, world.contacts["low_primary.lead"]],
    )
    assert [a.email for a in r.meeting.attendees] == ["deputy@100001.sch.example", "lead@100001.sch.example"]
    assert [a.email for a in (await svc.get_meeting(world.officer("ann"), r.meeting.id)).attendees] == [
        "deputy@100001.sch.example",
        "lead@100001.sch.example",
    ]
    event_ = Calendar.from_ical(r.invitation_ics).walk("VEVENT")[0]
    assert [str(a).removeprefix("mailto:") for a in event_.get("ATTENDEE")][0] == "deputy@100001.sch.example"


async def test_a_joint_tsms_senior_leaders_must_be_among_those_invited(db, clock):
    world, svc = await setup(db, clock, "kent")
    a, b = world.schools["trust_a"], world.schools["trust_b"]
    heads = [world.contacts["trust_a.head"], world.contacts["trust_b.head"]]
    with pytest.raises(NotAllowed, match="senior leader chosen is not a contact of your school"):
        await svc.book(
            world.officer("ann"),
            [a, b],
            THU.replace(hour=10),
            attendee_contact_ids=heads[:1],
            senior_leader_ids=heads,
        )
    done = await svc.book(
        world.officer("ann"),
        [a, b],
        THU.replace(hour=10),
        attendee_contact_ids=heads,
        senior_leader_ids=heads,
    )
    assert {(x.email, x.required) for x in done.meeting.attendees} == {
        ("head@100006.sch.example", True),
        ("head@100007.sch.example", True),
    }


# ---------------------------------------------------------------- listing meetings


async def test_an_officer_listing_one_schools_meetings_sees_only_that_schools(db, clock):
    world, svc = await setup(db, clock)
    mine = await svc.book(world.officer("ann"), world.schools["low_primary"], THU.replace(hour=9))
    await svc.book(world.officer("ann"), world.schools["high_primary"], THU.replace(hour=13))
    listed = await svc.list_meetings(world.officer("ann"), school_id=world.schools["low_primary"])
    assert [m.id for m in listed] == [mine.meeting.id]
    assert len(await svc.list_meetings(world.officer("ann"))) == 2


async def test_an_officer_listing_a_time_range_sees_the_meetings_within_it(db, clock):
    world, svc = await setup(db, clock)
    thu = await svc.book(world.officer("ann"), world.schools["low_primary"], THU.replace(hour=9))
    fri = await svc.book(world.officer("ann"), world.schools["high_primary"], local(2026, 1, 9, 9))
    ann = world.officer("ann")
    assert [m.id for m in await svc.list_meetings(ann, since=local(2026, 1, 9))] == [fri.meeting.id]
    assert [m.id for m in await svc.list_meetings(ann, until=local(2026, 1, 9))] == [thu.meeting.id]
    assert [m.id for m in await svc.list_meetings(ann, officer_id=world.officers["bob"])] == []


async def test_the_operator_lists_every_las_meetings_and_an_la_admin_only_their_las(db, clock):
    norfolk = await make_world(db)
    kent = await make_world(
        db, policy="kent", la_code="886", la_name="Kent", urn_offset=1000, email_domain="kent.example"
    )
    svc = service(db, clock)
    n = await svc.book(norfolk.officer("ann"), norfolk.schools["low_primary"], THU.replace(hour=10))
    k = await svc.book(kent.officer("ann"), kent.schools["low_primary"], THU.replace(hour=10))
    assert {m.id for m in await svc.list_meetings(Actor.operator())} == {n.meeting.id, k.meeting.id}
    assert [m.id for m in await svc.list_meetings(kent.admin("bob"))] == [k.meeting.id]
    assert [m.id for m in await svc.list_meetings(norfolk.admin("bob"))] == [n.meeting.id]


async def test_the_booking_cards_list_the_terms_not_over_soonest_three_not_the_past_nor_further_ahead(
    db, clock
):
    world = await make_world(db)
    async with db.transaction() as s:
        for name, first, last in (
            ("autumn", local(2026, 9, 2), local(2026, 12, 18)),
            ("spring", local(2027, 1, 5), local(2027, 3, 26)),
        ):
            s.add(
                Term(
                    la_id=world.la_id,
                    academic_year="2026-27",
                    name=name,
                    start_date=first.date(),
                    end_date=last.date(),
                    source="test",
                )
            )
    svc = service(db, clock)
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    clock.now = local(2025, 11, 3, 8)
    past = await svc.book(who, school, local(2025, 11, 6, 10))  # autumn 2025: over by January
    clock.now = NOW
    booked = {}
    for when in (
        THU.replace(hour=10),
        local(2026, 4, 16, 10),
        local(2026, 9, 10, 10),
        local(2027, 1, 14, 10),
    ):
        booked[when.date()] = (await svc.book(who, school, when)).meeting.id
    shown = [m.id for m in await svc.list_meetings(who, current_terms=True)]
    assert shown == [booked[THU.date()], booked[local(2026, 4, 16).date()], booked[local(2026, 9, 10).date()]]
    every = [m.id for m in await svc.list_meetings(who)]
    assert every == [past.meeting.id, *booked.values()]  # without current_terms: all of them


# ---------------------------------------------------------------- moving and cancelling


async def test_a_move_whose_meeting_was_cancelled_meanwhile_is_refused_and_the_meeting_stays_cancelled(
    db, clock
):
    world = await make_world(db)
    cal = LocalMeanwhile(db)
    svc = service(db, clock, cal)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))

    async def the_head_cancels():
        await svc.cancel(world.contact("low_primary.head"), r.meeting.id, "Ofsted are coming")

    cal.meanwhile = the_head_cancels
    with pytest.raises(BookingRefused) as err:
        await svc.move(who, r.meeting.id, local(2026, 2, 4, 10))
    assert err.value.code == "not_active" and err.value.message == (
        "This meeting is cancelled, so it cannot be moved."
    )
    m = await svc.get_meeting(who, r.meeting.id)
    assert (m.status, m.start) == ("cancelled", local(2026, 2, 3, 10))


@profiles
async def test_a_meeting_that_has_started_can_no_longer_be_moved_cancelled_or_changed(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    clock.now = local(2026, 2, 3, 10)  # its very start
    for verb, call in (
        ("moved", svc.move(who, r.meeting.id, local(2026, 2, 5, 10))),
        ("cancelled", svc.cancel(who, r.meeting.id, "too late now")),
        ("changed", svc.add_attendee(who, r.meeting.id, name="Pat Pastoral", email="pat@100001.sch.example")),
    ):
        with pytest.raises(BookingRefused) as err:
            await call
        assert err.value.code == "started"
        assert err.value.message == f"This meeting has already started, so it cannot be {verb}."


async def test_a_cancelled_meeting_cannot_be_moved_or_cancelled_again(db, clock):
    world, svc = await setup(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    with pytest.raises(BookingRefused) as err:
        await svc.move(who, r.meeting.id, local(2026, 2, 4, 10))
    assert (err.value.code, err.value.message) == (
        "not_active",
        "This meeting is cancelled, so it cannot be moved.",
    )
    with pytest.raises(BookingRefused) as err:
        await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    assert err.value.code == "not_active"


async def test_each_change_is_the_invitations_next_version_so_calendars_replace_the_last(db, clock, tmp_path):
    world = await make_world(db)
    svc = service(db, clock, LocalCalendar(db, tmp_path / "invitations"))
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    assert sequence_of(r.invitation_ics) == 0
    cancelled = await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    assert sequence_of(cancelled.invitation_ics) == 1 and b"METHOD:CANCEL" in cancelled.invitation_ics
    again = await svc.book(who, world.schools["low_primary"], local(2026, 2, 10, 10))
    moved = await svc.move(who, again.meeting.id, local(2026, 2, 11, 10))
    gone = await svc.cancel(who, again.meeting.id, "Head teacher off sick")
    assert (sequence_of(moved.invitation_ics), sequence_of(gone.invitation_ics)) == (1, 2)


async def test_a_moves_event_and_audit_record_the_old_start_and_the_new(db, clock):
    world, svc = await setup(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.move(who, r.meeting.id, local(2026, 2, 4, 11))
    [moved] = await events_of(db, r.meeting.id, "moved")
    assert moved.data == {"old_start": "2026-02-03T10:00Z", "start": "2026-02-04T11:00Z"}
    async with db.reader() as s:
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "meeting.move"))).one()
    assert audit.detail == {
        "old_start": "2026-02-03T10:00:00+00:00",
        "new_start": "2026-02-04T11:00:00+00:00",
    }


async def test_a_cancellation_needs_a_reason_of_at_least_three_characters(db, clock):
    world, svc = await setup(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(InvalidInput, match="short reason for cancelling"):
        await svc.cancel(who, r.meeting.id, "no")
    assert (await svc.cancel(who, r.meeting.id, "ill")).meeting.status == "cancelled"


# ---------------------------------------------------------------- held and no-show


async def test_marking_a_held_meeting_held_again_changes_nothing_and_shows_it(db, clock):
    world, svc = await setup(db, clock)
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    clock.now = local(2026, 2, 3, 11, 5)
    assert (await svc.mark_held(world.officer("ann"), r.meeting.id)).status == "held"
    again = await svc.mark_held(world.officer("ann"), r.meeting.id)
    assert (again.id, again.status) == (r.meeting.id, "held")
    assert [e.kind for e in await events_of(db, r.meeting.id)] == ["booked", "held"]  # told once


# ---------------------------------------------------------------- adding a colleague


async def test_a_colleague_added_by_their_contact_record_is_invited_with_its_name_email_and_role(db, clock):
    world, svc = await setup(db, clock)
    school = world.schools["low_primary"]
    r = await svc.book(world.contact("low_primary.lead"), school, local(2026, 2, 3, 10))
    deputy = await add_contact(db, school, "Dee Deputy", "deputy@100001.sch.example", "senior_leader")
    pastoral = await add_contact(db, school, "Pat Pastoral", "pat@100001.sch.example", "other")
    await svc.add_attendee(world.contact("low_primary.lead"), r.meeting.id, contact_id=deputy)
    view = await svc.add_attendee(world.contact("low_primary.lead"), r.meeting.id, contact_id=pastoral)
    added = {a.email: (a.name, a.role, a.required) for a in view.attendees}
    assert added["deputy@100001.sch.example"] == (
        "Dee Deputy",
        "senior_leader",
        True,
    )  # a senior leader: required
    assert added["pat@100001.sch.example"] == ("Pat Pastoral", "other", False)


async def test_a_colleague_must_be_a_contact_of_the_meetings_school(db, clock):
    world, svc = await setup(db, clock)
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    for contact_id in (world.contacts["high_primary.head"], 999999):
        with pytest.raises(NotAllowed, match="not a contact of this school"):
            await svc.add_attendee(world.contact("low_primary.lead"), r.meeting.id, contact_id=contact_id)
    assert len((await svc.get_meeting(world.officer("ann"), r.meeting.id)).attendees) == 2


async def test_adding_someone_already_invited_changes_nothing(db, clock):
    world, svc = await setup(db, clock)
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    view = await svc.add_attendee(
        world.contact("low_primary.lead"), r.meeting.id, name="The Head", email="HEAD@100001.sch.example"
    )
    assert sorted(a.email for a in view.attendees) == ["head@100001.sch.example", "lead@100001.sch.example"]
    assert [e.kind for e in await events_of(db, r.meeting.id)] == ["booked"]
    async with db.reader() as s:
        assert (await s.get(Meeting, r.meeting.id)).ical_sequence == 0  # no new version sent


async def test_a_tsm_holds_at_most_the_profiles_number_of_people_invited(db, clock):
    world, svc = await setup(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.book(world.contact("high_primary.lead"), world.schools["high_primary"], local(2026, 2, 3, 14))
    for i in range(10):  # two invited with the booking; twelve is the most (booking.max_invitees)
        view = await svc.add_attendee(
            who, r.meeting.id, name=f"Colleague {i}", email=f"c{i}@100001.sch.example"
        )
    assert len(view.attendees) == 12
    with pytest.raises(InvalidInput, match="already has 12 people invited"):
        await svc.add_attendee(who, r.meeting.id, name="One More", email="more@100001.sch.example")


# ---------------------------------------------------------------- with Outlook (written after, through the outbox)


async def test_with_outlook_a_teams_booking_answers_with_its_join_link_and_an_on_site_one_without(db, clock):
    world, svc = await setup(db, clock, "kent", OutlookLike(db))
    teams = await svc.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], THU.replace(hour=9), mode="teams"
    )
    assert teams.meeting.join_url == TEAMS_LINK and teams.invitation_ics is None
    on_site = await svc.book(
        world.contact("high_primary.lead"), world.schools["high_primary"], THU.replace(hour=13)
    )
    assert on_site.meeting.mode == "on_site" and on_site.meeting.join_url is None
    async with db.reader() as s:
        ops = list(await s.exec(select(CalendarOutbox.meeting_id, CalendarOutbox.op, CalendarOutbox.status)))
    assert sorted(ops) == sorted(
        [(teams.meeting.id, "create", "done"), (on_site.meeting.id, "create", "done")]
    )


async def test_with_outlook_the_officers_busy_time_still_refuses_the_slot(db, clock):
    world = await make_world(db, busy=[("ann", THU.replace(hour=10), THU.replace(hour=11), "busy")])
    svc = service(db, clock, OutlookLike(db))
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], THU.replace(hour=10))
    assert err.value.code == "officer_busy"
    assert err.value.message == "Ann Officer is not free at Thursday 8 January 10:00\u201311:00."
    assert await svc.list_meetings(world.officer("ann")) == []


async def test_with_outlook_a_school_booked_by_someone_else_meanwhile_is_told_it_is_already_booked(db, clock):
    world = await make_world(db)
    cal = OutlookLike(db)
    svc = service(db, clock, cal)
    school = world.schools["low_primary"]

    async def the_officer_books_it_first():
        await svc.book(world.officer("ann"), school, local(2026, 2, 10, 10))

    cal.meanwhile = the_officer_books_it_first
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), school, local(2026, 2, 3, 10))
    assert err.value.code == "already_booked"
    assert "already booked for the spring term on 10 February at 10:00" in err.value.message
    assert [m.start for m in await svc.list_meetings(world.officer("ann"))] == [local(2026, 2, 10, 10)]


async def test_with_calendar_writes_deferred_the_answer_does_not_wait_for_the_calendar(db, clock):
    world, svc = await setup(db, clock, "norfolk", OutlookLike(db), deferred=True)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    moved = await svc.move(who, r.meeting.id, local(2026, 2, 4, 10))
    assert moved.meeting.start == local(2026, 2, 4, 10) and moved.meeting.join_url is None
    async with db.reader() as s:
        ops = list(await s.exec(select(CalendarOutbox.op, CalendarOutbox.status).order_by(CalendarOutbox.id)))
    assert ops == [("create", "pending"), ("update", "pending")]  # left to the outbox sweep


async def test_with_no_calendar_sync_a_change_still_answers_with_the_meeting(db, clock):
    world, svc = await setup(db, clock, sync=False)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    moved = await svc.move(who, r.meeting.id, local(2026, 2, 4, 10))
    assert (moved.meeting.status, moved.invitation_ics) == ("moved", None)
    cancelled = await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    assert cancelled.meeting.status == "cancelled"


# ---------------------------------------------------------------- terms offered


@profiles
async def test_next_terms_times_are_offered_when_asked_for(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    offer = await svc.free_slots(world.officer("ann"), world.schools["low_primary"], term="next")
    assert offer.term_label == "summer term 2025-26" and offer.slots
    assert all(local(2026, 4, 15) <= s.start <= local(2026, 7, 18) for s in offer.slots)
    clock.now = local(2026, 5, 1, 8)
    with pytest.raises(BookingRefused) as err:  # no term after summer 2026 is set
        await svc.free_slots(world.officer("ann"), world.schools["low_primary"], term="next")
    assert err.value.code == "no_terms"


async def test_a_meeting_is_shown_in_its_las_time_zone(db, clock):
    world = await make_world(db)
    async with db.transaction() as s:  # an LA in Ireland's time (the same hours as London's in February)
        await s.exec(update(LA).where(LA.id == world.la_id).values(timezone="Europe/Dublin"))
    svc = service(db, clock)
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    assert r.meeting.timezone == "Europe/Dublin"
    assert (await svc.get_meeting(world.officer("ann"), r.meeting.id)).timezone == "Europe/Dublin"


# ---------------------------------------------------------------- the trust's allocated officer, read once


async def test_a_sweeps_preload_answers_every_schools_trust_question_with_no_read_of_its_own(db, clock):
    world = await make_world(db)
    statements = Statements(db)
    async with db.reader() as s:
        schools = list(
            await s.exec(select(School).where(col(School.la_id) == world.la_id).order_by(School.id))
        )
        by_key = {k: next(sc for sc in schools if sc.id == i) for k, i in world.schools.items()}
        with statements:
            await school_facts(s, by_key["trust_a"])
        assert len(statements.seen) == 1  # not preloaded: its trust is read
        with statements:
            await preload_trust_officers(s, schools)
        assert len(statements.seen) == 1  # every school's trust in one read
        with statements:
            facts = {k: (await school_facts(s, sc)).trust_has_allocated_officer for k, sc in by_key.items()}
        assert statements.seen == []
    assert facts["allocated"] is True  # trust T2 has an officer in this LA
    assert facts["trust_a"] is False and facts["low_primary"] is False


async def test_a_school_with_no_trust_has_no_trust_officer_and_costs_no_read(db, clock):
    world = await make_world(db)
    statements = Statements(db)
    async with db.reader() as s:
        school = await s.get(School, world.schools["low_primary"])
        with statements:
            await preload_trust_officers(s, [school])
            facts = await school_facts(s, school)
        assert statements.seen == [] and facts.trust_has_allocated_officer is False


# ---------------------------------------------------------------- the senior leader, waived


async def drop_head(db, world, key: str = "low_primary") -> None:
    """The school's only senior leader on record leaves (the contact is no longer active)."""
    async with db.transaction() as s:
        await s.exec(
            update(SchoolContact)
            .where(SchoolContact.id == world.contacts[f"{key}.head"])
            .values(active=False)
        )


@profiles
async def test_an_officer_books_without_a_senior_leader_only_with_a_reason_of_ten_characters_recorded(
    db, clock, profile
):
    world, svc = await setup(db, clock, profile)
    school, ann = world.schools["low_primary"], world.officer("ann")
    await drop_head(db, world)
    with pytest.raises(BookingRefused) as err:
        await svc.book(ann, school, THU.replace(hour=10))
    assert err.value.code == "no_senior_leader"
    assert err.value.message.startswith("Low Primary School has no senior leader invited")
    assert '--waive-senior-leader "reason"' in err.value.message
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        await svc.book(ann, school, THU.replace(hour=10), waive_senior_leader="Head away")  # nine
    r = await svc.book(ann, school, THU.replace(hour=10), waive_senior_leader="Head away.")  # ten
    [proposed] = await events_of(db, r.meeting.id)
    assert proposed.data["senior_leader_waived"] == "Head away."
    async with db.reader() as s:
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "meeting.book"))).one()
    assert audit.detail["senior_leader_waived"] == "Head away."


async def test_school_staff_cannot_waive_their_senior_leader_and_are_asked_to_pick_one(db, clock):
    world, svc = await setup(db, clock, "kent")
    await drop_head(db, world)
    with pytest.raises(BookingRefused) as err:
        await svc.book(
            world.contact("low_primary.lead"),
            world.schools["low_primary"],
            THU.replace(hour=10),
            waive_senior_leader="The head is on long-term leave",
        )
    assert err.value.code == "no_senior_leader"
    assert "Please pick who will attend as your senior leader, or ask your link officer." in err.value.message
    assert "--waive-senior-leader" not in err.value.message


# ---------------------------------------------------------------- terms, modes and meeting types


@profiles
async def test_the_terms_last_day_is_offered(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    clock.now = local(2026, 3, 20, 8)  # a week before the spring term ends (Friday 27 March)
    offer = await svc.free_slots(world.officer("ann"), world.schools["low_primary"])
    days = {s.start.astimezone(NOW.tzinfo).date() for s in offer.slots}
    assert max(days) == local(2026, 3, 27).date()
    assert min(days) == local(2026, 3, 23).date()  # the notice: nothing before Monday


async def test_a_term_is_chosen_by_its_id_and_a_term_not_known_is_refused(db, clock):
    world, svc = await setup(db, clock)
    ann, school = world.officer("ann"), world.schools["low_primary"]
    summer = await svc.free_slots(ann, school, term=world.terms["summer"])
    assert summer.term_label == "summer term 2025-26" and summer.term_id == world.terms["summer"]
    with pytest.raises(NotFound, match="No such term"):
        await svc.free_slots(ann, school, term=999999)
    with pytest.raises(InvalidInput, match="term must be 'current', 'next' or a term id"):
        await svc.free_slots(ann, school, term="someday")
    with pytest.raises(InvalidInput):
        await svc.free_slots(ann, school, term=True)  # not term id 1
    clock.now = local(2026, 8, 1, 8)  # after summer 2026: no term set
    with pytest.raises(BookingRefused) as err:
        await svc.free_slots(ann, school)
    assert err.value.code == "no_terms" and "No term dates are set for the coming months" in err.value.message


@pytest.mark.parametrize(
    ("profile", "only", "refused", "words"),
    [("norfolk", "teams", "on_site", "in person at school"), ("kent", "on_site", "teams", "on Teams")],
)
async def test_a_mode_the_la_does_not_offer_is_refused_and_an_unknown_one_is_invalid(
    db, clock, short_dir, profile, only, refused, words
):
    from importlib import resources

    text = resources.files("tsm.policies").joinpath(f"{profile}.toml").read_text()
    lines = [
        f'modes_allowed = ["{only}"]' if ln.startswith("modes_allowed") else ln for ln in text.splitlines()
    ]
    path = short_dir / f"{profile}.toml"
    path.write_text("\n".join(lines) + "\n")
    world, svc = await setup(db, clock, str(path))
    ann, school = world.officer("ann"), world.schools["low_primary"]
    for call in (
        lambda: svc.book(ann, school, THU.replace(hour=10), mode=refused),
        lambda: svc.free_slots(ann, school, mode=refused),
    ):
        with pytest.raises(BookingRefused) as err:
            await call()
        assert err.value.code == "mode_not_allowed"
        assert err.value.message == f"{profile.title()} does not offer TSMs {words}."
    with pytest.raises(InvalidInput, match="'zoom' is not a meeting mode"):
        await svc.book(ann, school, THU.replace(hour=10), mode="zoom")
    assert (await svc.book(ann, school, THU.replace(hour=10))).meeting.mode == only


async def test_norfolk_meets_each_school_with_its_phases_type_and_a_pru_or_independent_with_the_special_type(
    db, clock
):
    world, svc = await setup(db, clock)
    await set_school(db, world.schools["trust_a"], phase="pru_ap")  # an AP academy
    ann = world.officer("ann")
    got = {}
    for hour, key in zip((9, 11, 13), ("secondary", "independent", "trust_a"), strict=True):
        r = await svc.book(ann, world.schools[key], THU.replace(hour=hour), mode="teams")
        got[key] = (r.meeting.meeting_type, r.meeting.end - r.meeting.start)
    r = await svc.book(ann, world.schools["low_primary"], local(2026, 1, 9, 9), mode="teams")
    got["low_primary"] = (r.meeting.meeting_type, r.meeting.end - r.meeting.start)
    assert got == {
        "secondary": ("secondary", timedelta(minutes=90)),
        "independent": ("special", timedelta(minutes=60)),
        "trust_a": ("special", timedelta(minutes=60)),
        "low_primary": ("primary", timedelta(minutes=60)),
    }


async def test_kent_meets_every_school_with_its_first_type_unless_another_of_its_types_is_named(db, clock):
    world, svc = await setup(db, clock, "kent")
    ann = world.officer("ann")
    special = await svc.book(ann, world.schools["la_special"], THU.replace(hour=9))
    assert (special.meeting.meeting_type, special.meeting.end - special.meeting.start) == (
        "tsm",
        timedelta(minutes=90),
    )
    short = await svc.book(ann, world.schools["low_primary"], THU.replace(hour=13), meeting_type="tsm_short")
    assert (short.meeting.meeting_type, short.meeting.end - short.meeting.start) == (
        "tsm_short",
        timedelta(minutes=60),
    )
    with pytest.raises(InvalidInput, match="'primary' is not a meeting type here"):
        await svc.book(ann, world.schools["high_primary"], local(2026, 1, 9, 9), meeting_type="primary")


async def test_a_time_needs_a_time_zone_and_schools_are_named_by_whole_numbers(db, clock):
    world, svc = await setup(db, clock)
    ann, school = world.officer("ann"), world.schools["low_primary"]
    with pytest.raises(InvalidInput, match="needs a date, a time and a time zone"):
        await svc.book(ann, school, THU.replace(hour=10, tzinfo=None))
    for ids in ([], True, [school, "2"]):
        with pytest.raises(InvalidInput, match="school ids are whole numbers"):
            await svc.book(ann, ids, THU.replace(hour=10))
    r = await svc.book(ann, [school, school], THU.replace(hour=10))  # one school named twice is one school
    assert r.meeting.school_ids == (school,)


# ---------------------------------------------------------------- joint TSMs: who may book one, with whom


async def test_a_joint_tsm_needs_its_schools_to_share_one_link_officer(db, clock):
    world, svc = await setup(db, clock, "kent")
    await set_school(db, world.schools["trust_b"], link_officer_id=world.officers["bob"])
    with pytest.raises(InvalidInput, match="A joint TSM needs the schools to share one link officer."):
        await svc.book(
            Actor.operator(), [world.schools["trust_a"], world.schools["trust_b"]], THU.replace(hour=10)
        )
    with pytest.raises(InvalidInput, match="A joint TSM is only for schools of one trust."):
        await svc.book(
            world.officer("ann"),
            [world.schools["trust_a"], world.schools["low_primary"]],
            THU.replace(hour=10),
        )


@profiles
async def test_a_schools_contact_books_a_joint_tsm_only_where_the_la_allows_it(db, clock, profile):
    world, svc = await setup(db, clock, profile)
    both = [world.schools["trust_a"], world.schools["trust_b"]]
    lead = world.contact("trust_a.lead")
    if profile == "norfolk":  # booking.trust_contacts_book_joint = false
        with pytest.raises(NotAllowed) as err:
            await svc.book(lead, both, THU.replace(hour=10))
        assert str(err.value).startswith(
            "A joint TSM for several schools of your trust is arranged by Ann Officer"
        )
        assert await svc.list_meetings(world.officer("ann")) == []
    else:
        r = await svc.book(lead, both, THU.replace(hour=10))
        assert set(r.meeting.school_ids) == set(both)


# ---------------------------------------------------------------- schools no longer open


async def test_the_future_tsms_of_schools_no_longer_open_are_cancelled_saying_why_and_a_joint_one_left(
    db, clock
):
    world, svc = await setup(db, clock, "kent")
    ann = world.officer("ann")
    closed = await svc.book(ann, world.schools["low_primary"], THU.replace(hour=9))
    not_covered = await svc.book(ann, world.schools["secondary"], local(2026, 1, 9, 9))
    still_open = await svc.book(ann, world.schools["high_primary"], local(2026, 1, 12, 9))
    joint = await svc.book(ann, [world.schools["trust_a"], world.schools["trust_b"]], local(2026, 1, 13, 9))
    await set_school(db, world.schools["low_primary"], open=False)
    await set_school(db, world.schools["secondary"], open=False, type_name="Further education")
    await set_school(db, world.schools["trust_a"], open=False)
    assert await svc.cancel_for_schools_not_open(Actor.system(), [world.schools["high_primary"]]) == []
    done = await svc.cancel_for_schools_not_open(Actor.system())
    assert sorted(done) == sorted([closed.meeting.id, not_covered.meeting.id])
    status = {m.id: m.status for m in await svc.list_meetings(ann, include_inactive=True)}
    assert status == {
        closed.meeting.id: "cancelled",
        not_covered.meeting.id: "cancelled",
        still_open.meeting.id: "booked",
        joint.meeting.id: "booked",  # Trust B Primary is still open: the officer decides
    }
    [c1] = await events_of(db, closed.meeting.id, "cancelled")
    [c2] = await events_of(db, not_covered.meeting.id, "cancelled")
    assert c1.data["reason"] == (
        "Low Primary School has closed (GIAS lists it as closed), so its TSM is cancelled."
    )
    assert c2.data["reason"] == (
        "Town High School is not a school the LA holds TSMs with (Further education), so its TSM is cancelled."
    )
    assert await svc.cancel_for_schools_not_open(Actor.system()) == []  # nothing left to cancel


async def test_a_tsm_whose_schools_have_all_closed_is_cancelled_once(db, clock):
    world, svc = await setup(db, clock, "kent")
    joint = await svc.book(
        world.officer("ann"), [world.schools["trust_a"], world.schools["trust_b"]], THU.replace(hour=9)
    )
    await set_school(db, world.schools["trust_a"], open=False)
    await set_school(db, world.schools["trust_b"], open=False)
    assert await svc.cancel_for_schools_not_open(Actor.system()) == [joint.meeting.id]
    assert [e.kind for e in await events_of(db, joint.meeting.id)] == ["proposed", "cancelled"]


class MovesOn:
    """A clock read first at ``first`` and at ``then`` ever after: a sweep that takes a moment to run."""

    def __init__(self, first, then) -> None:
        self.times = [first]
        self.then = then

    def __call__(self):
        return self.times.pop() if self.times else self.then


async def test_a_tsm_that_starts_while_the_closed_schools_sweep_runs_is_left_as_it_is(db, clock, caplog):
    world, svc = await setup(db, clock, "kent")
    ann = world.officer("ann")
    starting = await svc.book(ann, world.schools["low_primary"], local(2026, 2, 3, 10))
    later = await svc.book(ann, world.schools["high_primary"], local(2026, 2, 4, 10))
    await set_school(db, world.schools["low_primary"], open=False)
    await set_school(db, world.schools["high_primary"], open=False)
    sweep = service(db, MovesOn(local(2026, 2, 3, 9, 59), local(2026, 2, 3, 10)))
    with caplog.at_level("WARNING", logger="tsm.services.booking"):
        assert await sweep.cancel_for_schools_not_open(Actor.system()) == [later.meeting.id]
    status = {m.id: m.status for m in await svc.list_meetings(ann, include_inactive=True)}
    assert status == {starting.meeting.id: "booked", later.meeting.id: "cancelled"}
    assert f"meeting {starting.meeting.id} of a school not open left as it is" in caplog.text
    assert "already started" in caplog.text


# ---------------------------------------------------------------- a race the checks cannot see


@profiles
async def test_a_day_filled_by_writes_the_checks_cannot_see_ends_in_just_taken_with_other_times(
    db, clock, profile
):
    # Ann's Thursday seats are all held in the database by meetings the checks do not count (each a write of
    # another process that commits between the check and the insert, every time): the day's seat refuses the row
    # on every try, and the answer is "just taken" with other times, not a full day the person cannot see.
    world, svc = await setup(db, clock, profile)
    from tsm.adapters.db.meetings import OfficerDayLoad

    async with db.transaction() as s:
        for seat in range(1, CAP[profile] + 1):
            m = Meeting(
                officer_id=world.officers["bob"],
                term_id=world.terms["spring"],
                start=local(2026, 3, 2, 9),
                end=local(2026, 3, 2, 10),
                mode="teams",
                meeting_type="primary",
                status="cancelled",
                booked_by="test",
                ical_uid=f"hidden-{seat}@test",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(m)
            await s.flush()
            s.add(
                OfficerDayLoad(officer_id=world.officers["ann"], day=THU.date(), seat=seat, meeting_id=m.id)
            )
    with pytest.raises(BookingRefused) as err:
        await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], THU.replace(hour=10))
    assert err.value.code == "slot_taken"
    assert err.value.message == "Sorry, that time has just been taken. Here are other times."
    assert err.value.alternatives
    assert await svc.list_meetings(world.officer("ann")) == []


# ---------------------------------------------------------------- held, no-show and the corrections


async def test_who_marked_a_meeting_held_is_told_apart_ended_held_or_a_no_show_undone(db, clock):
    world, svc = await setup(db, clock)
    ann = world.officer("ann")
    ms = [
        (await svc.book(ann, world.schools[key], THU.replace(hour=h), mode="teams")).meeting.id
        for key, h in (("low_primary", 9), ("high_primary", 11), ("secondary", 13))
    ]
    clock.now = local(2026, 1, 8, 16)
    await svc.mark_held(Actor.system(), ms[0])  # the meeting's end seen (Teams or the timer)
    await svc.mark_held(ann, ms[1])
    assert (await svc.mark_no_show(ann, ms[2], "nobody came")).status == "no_show"
    assert (await svc.mark_held(ann, ms[2])).status == "held"
    kinds = [[e.kind for e in await events_of(db, m)][1:] for m in ms]
    assert kinds == [["ended"], ["held"], ["no_show", "no_show_undone"]]
    [no_show] = await events_of(db, ms[2], "no_show")
    assert no_show.data["reason"] == "nobody came"


async def test_a_no_show_cannot_be_marked_held_once_the_school_has_booked_again_that_term(db, clock):
    world, svc = await setup(db, clock)
    who, ann = world.contact("low_primary.lead"), world.officer("ann")
    first = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    clock.now = local(2026, 2, 3, 11, 5)
    await svc.mark_no_show(ann, first.meeting.id)
    again = await svc.book(who, world.schools["low_primary"], local(2026, 3, 3, 10))  # the term is free again
    with pytest.raises(BookingRefused) as err:
        await svc.mark_held(ann, first.meeting.id)
    assert (
        err.value.code == "already_booked" and "has booked another TSM this term since" in err.value.message
    )
    assert (await svc.get_meeting(ann, first.meeting.id)).status == "no_show"
    assert (await svc.get_meeting(ann, again.meeting.id)).status == "booked"


async def test_a_cancelled_meeting_is_never_marked_held_or_a_no_show(db, clock):
    world, svc = await setup(db, clock)
    who, ann = world.contact("low_primary.lead"), world.officer("ann")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    clock.now = local(2026, 2, 3, 11, 5)
    for call in (svc.mark_held(ann, r.meeting.id), svc.mark_no_show(ann, r.meeting.id)):
        with pytest.raises(BookingRefused) as err:
            await call
        assert (err.value.code, err.value.message) == ("cancelled", "This meeting was cancelled.")


# ---------------------------------------------------------------- free text: reasons and names


async def test_a_reason_may_name_the_meetings_school_but_not_what_looks_like_a_pupils_name(db, clock):
    world = await make_world(db)
    await set_school(db, world.schools["low_primary"], name="Isaac Newton Primary")
    svc = service(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    with pytest.raises(InvalidInput, match="may be a pupil's name"):
        await svc.cancel(who, r.meeting.id, "Oliver Smith is ill")
    done = await svc.cancel(who, r.meeting.id, "Isaac Newton Primary is shut for a strike")
    assert done.meeting.status == "cancelled"


async def test_a_colleague_added_with_no_name_is_named_by_their_email(db, clock):
    world, svc = await setup(db, clock)
    r = await svc.book(world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10))
    view = await svc.add_attendee(
        world.contact("low_primary.lead"), r.meeting.id, email="pat@100001.sch.example"
    )
    assert ("pat@100001.sch.example", "pat@100001.sch.example", "other", False) in {
        (a.name, a.email, a.role, a.required) for a in view.attendees
    }
    [added] = await events_of(db, r.meeting.id, "attendee_added")
    assert added.data == {"start": "2026-02-03T10:00Z"}


# ---------------------------------------------------------------- the times offered


async def test_the_times_offered_for_a_move_count_the_seat_its_own_meeting_frees(db, clock):
    world, svc = await setup(db, clock)
    ids = await fill_day(svc, world, "norfolk", THU)  # 09:00, 11:00 and 13:00: Thursday is full
    who, school = world.officer("ann"), world.schools["low_primary"]
    assert not any(s.start.date() == THU.date() for s in (await svc.free_slots(who, school)).slots)
    offer = await svc.free_slots(who, school, exclude_meeting_id=ids[0])  # moving the 09:00
    thursday = {s.start for s in offer.slots if s.start.date() == THU.date()}
    assert THU.replace(hour=10) in thursday and THU.replace(hour=11) not in thursday
    assert len((await svc.free_slots(who, school, limit=6)).slots) == 6


async def test_the_times_offered_for_a_move_include_its_own_time_and_times_overlapping_it(db, clock):
    """The meeting being moved is not busy time for its own move: its calendar entry is the bot's, so its own time
    and the times overlapping it are offered, as move() accepts them (they were left out: the moved meeting was
    dropped from the officer's TSMs before its calendar entry was told apart from busy time)."""
    world, svc = await setup(db, clock)
    who, school = world.contact("low_primary.lead"), world.schools["low_primary"]
    m = (await svc.book(who, school, THU.replace(hour=9))).meeting
    offer = await svc.free_slots(who, school, exclude_meeting_id=m.id)
    thursday = {s.start for s in offer.slots if s.start.date() == THU.date()}
    assert {THU.replace(hour=9), THU.replace(hour=9, minute=30)} <= thursday
    moved = await svc.move(who, m.id, THU.replace(hour=9, minute=30))
    assert moved.meeting.start == THU.replace(hour=9, minute=30)
    # Without the move, the 09:00 TSM's time is taken.
    assert THU.replace(hour=9, minute=30) not in {s.start for s in (await svc.free_slots(who, school)).slots}


async def test_a_cancelled_meeting_is_listed_only_when_inactive_ones_are_asked_for(db, clock):
    world, svc = await setup(db, clock)
    who = world.contact("low_primary.lead")
    r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
    await svc.cancel(who, r.meeting.id, "Head teacher off sick")
    assert await svc.list_meetings(who) == []
    assert [m.status for m in await svc.list_meetings(who, include_inactive=True)] == ["cancelled"]


class TwoReads:
    """The local calendar without its busy read as a statement: the free times read its entries on their own."""

    in_database = True

    def __init__(self, db: Database) -> None:
        self._calendar = LocalCalendar(db)

    def __getattr__(self, name: str):
        if name == "busy_select":
            raise AttributeError(name)
        return getattr(self._calendar, name)


async def test_the_officers_tsms_and_calendar_entries_read_in_one_statement_offer_what_two_reads_do(
    db, clock
):
    """Issue 15 item 5: with the local calendar the free times read the officer's TSMs and calendar entries in one
    UNION ALL; the times offered are those of the two reads on their own, without the busy hour or the TSM."""
    world = await make_world(db, busy=[("ann", THU.replace(hour=10), THU.replace(hour=11), "busy")])
    one, two = service(db, clock), service(db, clock, TwoReads(db))
    assert isinstance(one.calendar, BusyAsStatement) and not isinstance(two.calendar, BusyAsStatement)
    await one.book(world.officer("ann"), world.schools["low_primary"], THU.replace(hour=14))
    lead = world.contact("secondary.lead")
    merged = await one.free_slots(lead, world.schools["secondary"], term="current")
    apart = await two.free_slots(lead, world.schools["secondary"], term="current")
    assert merged.slots and merged == apart
    thursday = [s.start for s in merged.slots if s.start.date() == THU.date()]
    assert thursday and all(
        not (THU.replace(hour=9) < s < THU.replace(hour=11))
        and not (THU.replace(hour=13) < s < THU.replace(hour=15))
        for s in thursday
    ), thursday
