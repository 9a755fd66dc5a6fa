"""Issue 15's must-show: the sweeps' statement counts stay bounded when the data grows ×10.

Two databases are built the same way, one with one LA and its history (N) and one with ten LAs and ten times the
history (10×N: schools, contacts, officers, past meetings, attendees, far-off bookings, ledger rows and events).
The same script then runs on both with a fixed clock, counting every statement each sweep sends to the database
(a SQLAlchemy ``before_cursor_execute`` listener, so ORM, Core and text SQL alike):

- idle: a run a minute after the last one, with nothing newly due. The counts must be equal at N and 10×N (and
  small in absolute terms: the whole 5-minute cycle within issue 15's 50 statements);
- the hourly pass of the nudges, with one new contact to nudge in the first LA: equal at N and 10×N;
- busy: the same handful of items made due in the first LA at both sizes (a 7-day and a 1-day reminder, a meeting
  ended, a senior leader's decline, an evaluation reminder): equal at N and 10×N, and the finding and claiming part
  bounded by the batches, not by the rows.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from sqlalchemy import event, func, insert, select

from scheduler.jobs import Jobs, JobSettings
from scheduler.ledger import Ledger
from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.clock import FixedClock
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData

START = local(
    2026, 1, 12, 10, 0
)  # a Monday in the first weeks of the spring term, after the weekly lists' hour
PAST_PER_LA = 60  # held and cancelled TSMs of earlier terms, each with two attendees
FUTURE_PER_LA = 12  # bookings next term, far from any reminder
LEDGER_PER_LA = 150  # messages sent long ago
EVENTS_PER_LA = 60  # changes dispatched long ago
IDLE_CYCLE_BUDGET = 50  # issue 15: an idle 5-minute cycle, every sweep once


class Counter:
    def __init__(self, db: Database) -> None:
        self.on = False
        self.statements: list[str] = []

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _params, _context, _executemany):
            if self.on:
                self.statements.append(" ".join(statement.split())[:100])

    async def count(self, run: Callable[[], Awaitable[object]]) -> int:
        self.statements.clear()
        self.on = True
        try:
            await run()
        finally:
            self.on = False
        return len(self.statements)


class Country:
    """One database: ``scale`` LAs (the first is where the busy items go), their history, the sweeps."""

    def __init__(self, db: Database, clock: FixedClock) -> None:
        cal = LocalCalendar(db)
        self.db, self.clock = db, clock
        self.messenger = ScriptedMessenger()
        ref = ReferenceData(db)
        booking = BookingService(db, cal, ref, clock=clock, sync=CalendarSync(db, cal, clock=clock))
        self.jobs = Jobs(
            db=db,
            messenger=self.messenger,
            booking=booking,
            reference=ref,
            ledger=Ledger(db, "w1", clock=clock),
            clock=clock,
            settings=JobSettings(),
        )
        self.counter = Counter(db)
        self.worlds: list = []

    def sweeps(self) -> dict[str, Callable[[], Awaitable[object]]]:
        j = self.jobs
        return {
            "events": j.events,
            "reminders": j.reminders,
            "leader_unavailable": j.leader_unavailable,
            "meeting_ends": j.meeting_ends,
            "officer_agendas": j.officer_agendas,
            "unbooked_weekly": j.unbooked_weekly,
            "term_start_nudges": j.term_start_nudges,
            "chasers": j.chasers,
            "retry_expired": j.retry_expired,
            "late_installs": j.late_installs,
            "record_prompts": j.feedback.record_prompts,
            "evaluation_reminders": j.feedback.evaluation_reminders,
            "action_reminders": j.feedback.action_reminders,
        }

    async def counts(self, names=None) -> dict[str, int]:
        return {
            name: await self.counter.count(run)
            for name, run in self.sweeps().items()
            if names is None or name in names
        }


async def build(url: str, scale: int) -> Country:
    db = Database(url)
    country = Country(db, FixedClock(START))
    for i in range(scale):
        country.worlds.append(
            await make_world(
                db,
                la_code=str(900 + i),
                la_name=f"LA {i}",
                urn_offset=1000 * i,
                email_domain=f"la{i}.example",
            )
        )
    await history(db, country.worlds)
    return country


def _meeting(
    mid: int, officer_id: int, term_id: int, start: datetime, status: str, hours: float = 1.0
) -> dict:
    return dict(
        id=mid,
        officer_id=officer_id,
        term_id=term_id,
        start=start,
        end=start + timedelta(hours=hours),
        mode="teams",
        meeting_type="tsm",
        status=status,
        location="",
        join_url=None,
        booked_by="system:test",
        calendar_event_id=None,
        ical_uid=f"uid-{mid}@test",
        ical_sequence=0,
        created_at=start - timedelta(days=30),
        updated_at=start - timedelta(days=30),
    )


async def history(db: Database, worlds) -> None:
    """Each LA's past: PAST_PER_LA TSMs of the autumn term (held or cancelled, a senior leader having declined some),
    FUTURE_PER_LA bookings in the summer term, LEDGER_PER_LA sent messages and EVENTS_PER_LA dispatched changes."""
    meetings, schools, attendees, ledger, events = [], [], [], [], []
    long_ago = START - timedelta(days=120)
    for i, w in enumerate(worlds):
        keys = list(w.schools)
        for n in range(PAST_PER_LA + FUTURE_PER_LA):
            mid = 100_000 + i * 1000 + n
            key = keys[n % len(keys)]
            past = n < PAST_PER_LA
            start = (
                local(2025, 10, 1, 9) + timedelta(days=n // 3, hours=n % 3)
                if past
                else local(2026, 5, 4, 9) + timedelta(days=n, hours=n % 3)
            )
            term = w.terms["autumn" if past else "summer"]
            status = ("held" if n % 4 else "cancelled") if past else "booked"
            meetings.append(_meeting(mid, w.officers["ann"], term, start, status))
            schools.append(dict(meeting_id=mid, school_id=w.schools[key], term_id=term, active_term_id=None))
            for who, role in (("lead", "attendance_lead"), ("head", "senior_leader")):
                attendees.append(
                    dict(
                        meeting_id=mid,
                        contact_id=w.contacts[f"{key}.{who}"],
                        name=who,
                        email=f"{who}-{mid}@test.example",
                        role=role,
                        required=role == "senior_leader",
                        response="declined" if past and who == "head" and n % 3 == 0 else "accepted",
                    )
                )
            events.append(
                dict(
                    kind="booked",
                    meeting_id=mid,
                    school_id=None,
                    actor="system:test",
                    at=long_ago,
                    data=None,
                    dispatched_at=long_ago,
                )
            )
        for n in range(LEDGER_PER_LA):
            mid = 100_000 + i * 1000 + n % PAST_PER_LA
            kind = ("evaluation", "remind_1d", "remind_7d", "next_tsm_offer", "meeting_end")[n % 5]
            ledger.append(
                dict(
                    kind=kind,
                    subject_kind="meeting",
                    subject_id=mid,
                    recipient_kind="contact",
                    recipient_id=n,
                    ref=f"r{n}",
                    status="sent",
                    claimed_by="old",
                    lease_until=None,
                    attempts=1,
                    created_at=long_ago,
                    sent_at=long_ago,
                    last_error="",
                )
            )
    async with db.transaction() as s:
        await (await s.connection()).execute(insert(Meeting.__table__), meetings)
        await (await s.connection()).execute(insert(MeetingSchool.__table__), schools)
        await (await s.connection()).execute(insert(MeetingAttendee.__table__), attendees)
        await (await s.connection()).execute(insert(Outbound.__table__), ledger)
        await (await s.connection()).execute(
            insert(DomainEvent.__table__), events[: EVENTS_PER_LA * len(worlds)]
        )


async def make_busy(country: Country) -> None:
    """The same few items due in the first LA, at any size: ids fixed so both databases get the same rows."""
    w, now = country.worlds[0], country.clock.now
    officer, spring, summer = w.officers["ann"], w.terms["spring"], w.terms["spring"]
    rows = [
        # the 7-day reminder due half a minute ago (start 7 days away less 30 s), the 1-day one likewise
        (
            "low_primary",
            _meeting(90_001, officer, spring, now + timedelta(days=7) - timedelta(seconds=30), "booked"),
        ),
        (
            "secondary",
            _meeting(90_002, officer, spring, now + timedelta(days=1) - timedelta(seconds=30), "booked"),
        ),
        # ended 31 minutes ago: the timer's meeting end and the record prompt
        ("la_special", _meeting(90_003, officer, spring, now - timedelta(minutes=91), "booked")),
        # next term, its only senior leader declined in Outlook
        ("trust_a", _meeting(90_004, officer, summer, now + timedelta(days=20), "booked")),
        # held three days and a minute ago: its evaluation request (sent then) is due a reminder
        ("bob_school", _meeting(90_005, w.officers["bob"], spring, now - timedelta(days=3, hours=2), "held")),
    ]
    async with country.db.transaction() as s:
        await (await s.connection()).execute(insert(Meeting.__table__), [m for _, m in rows])
        await s.execute(
            insert(MeetingSchool.__table__),
            [
                dict(meeting_id=m["id"], school_id=w.schools[key], term_id=m["term_id"], active_term_id=None)
                for key, m in rows
            ],
        )
        await s.execute(
            insert(MeetingAttendee.__table__),
            [
                dict(
                    meeting_id=m["id"],
                    contact_id=w.contacts[f"{key}.{who}"],
                    name=who,
                    email=f"{who}-{m['id']}@test.example",
                    role=role,
                    required=role == "senior_leader",
                    response="declined" if m["id"] == 90_004 and who == "head" else "accepted",
                )
                for key, m in rows
                for who, role in (("lead", "attendance_lead"), ("head", "senior_leader"))
            ],
        )
        sent = now - timedelta(days=3, minutes=1)
        await s.execute(
            insert(Outbound.__table__),
            [
                dict(
                    kind="evaluation",
                    subject_kind="meeting",
                    subject_id=90_005,
                    recipient_kind="contact",
                    recipient_id=w.contacts["bob_school.lead"],
                    ref=(now - timedelta(days=3, hours=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
                    status="sent",
                    claimed_by="old",
                    lease_until=None,
                    attempts=1,
                    created_at=sent,
                    sent_at=sent,
                    last_error="",
                )
            ],
        )


async def rows(db: Database) -> dict[str, int]:
    async with db.reader() as s:
        return {
            t.__tablename__: (await s.exec(select(func.count()).select_from(t))).one()[0]
            for t in (Meeting, MeetingAttendee, MeetingSchool, Outbound, DomainEvent)
        }


async def script(country: Country) -> dict[str, dict[str, int]]:
    """Warm up (the first run of each sweep sets its mark and sends what the start of term has due), then count."""
    out: dict[str, dict[str, int]] = {}
    await country.counts()  # warm: marks set, term-start nudges and the weekly lists sent, caches filled
    country.clock.advance(timedelta(minutes=1))
    out["idle"] = await country.counts()
    # The next hour: the nudges' pass. One school of the first LA has a new attendance lead since the last: the
    # term-start nudge is due to them, and to no one else.
    async with country.db.transaction() as s:
        s.add(
            SchoolContact(
                school_id=country.worlds[0].schools["secondary"],
                name="New Lead",
                email="new@s.example",
                role="attendance_lead",
            )
        )
    country.clock.now = START + timedelta(hours=1)
    before = len(country.messenger.sent)
    out["hourly pass"] = await country.counts(
        {"officer_agendas", "unbooked_weekly", "term_start_nudges", "chasers", "action_reminders"}
    )
    out["sent"] = {"hourly pass": len(country.messenger.sent) - before}
    country.clock.advance(timedelta(minutes=1))
    await make_busy(country)
    out["finding the reminders"] = {"due_reminders": await country.counter.count(country.jobs.due_reminders)}
    before = len(country.messenger.sent)
    out["busy"] = await country.counts()
    out["sent"]["busy"] = len(country.messenger.sent) - before
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_db_urls(request, tmp_path):
    """Two empty migrated databases of one kind: the N one and the 10×N one."""
    if request.param == "sqlite":
        from tsm.adapters.db.migrate import upgrade

        urls = [f"sqlite:///{tmp_path}/n{i}.db" for i in (1, 10)]
        for url in urls:
            upgrade(url)
        return urls
    first = request.getfixturevalue("pg_url")
    return [first, request.getfixturevalue("second_pg_url")]


@pytest.fixture
def second_pg_url(pg_url):
    import uuid

    import psycopg

    from tsm.adapters.db.migrate import upgrade

    # tests/conftest.py's URL, read here: "conftest" is every folder's conftest.py's module name, so importing it
    # in a whole run gets whichever was collected last
    PG_ADMIN_URL = os.environ.get("TSM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

    name = f"tsm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_sweep_statement_counts_stay_bounded_when_the_data_grows_tenfold(two_db_urls):
    small, large = await build(two_db_urls[0], 1), await build(two_db_urls[1], 10)
    try:
        n, ten_n = await rows(small.db), await rows(large.db)
        assert all(
            ten_n[t] >= 9 * n[t] for t in ("meeting", "meeting_attendee", "outbound", "domain_event")
        ), (
            n,
            ten_n,
        )
        got_n, got_10n = await script(small), await script(large)
    finally:
        await small.db.dispose()
        await large.db.dispose()

    for phase in ("idle", "hourly pass", "busy", "finding the reminders"):
        assert got_10n[phase] == got_n[phase], (phase, got_n[phase], got_10n[phase])
    # Idle: a read of the mark and an empty indexed range (and the mark moved on), whatever the size; the whole
    # 5-minute cycle, every sweep once, within issue 15's budget.
    assert max(got_n["idle"].values()) <= 3, (got_n["idle"], got_n)
    assert sum(got_n["idle"].values()) <= IDLE_CYCLE_BUDGET, got_n["idle"]
    # Finding the reminders due: the mark and the meetings in the window in one transaction, the ledger's answer in
    # another (BEGIN counted): five statements, whatever the number due or in the database.
    assert got_n["finding the reminders"]["due_reminders"] <= 5, got_n
    # Busy: the items were really sent (two contacts for each reminder, the meeting end's messages, the rebooking
    # card and the officer, the evaluation reminder, the record prompt), in the same statements at both sizes.
    assert got_n["sent"]["busy"] >= 9 and got_10n["sent"] == got_n["sent"]
    assert got_n["sent"]["hourly pass"] >= 1  # the new lead's nudge
