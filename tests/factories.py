"""A small, fully known world for service tests: one LA, Norfolk's 2025-26 terms, officers, schools, contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tsm.adapters.db.calendars import CalendarEvent
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Term, TermBreak, Trust, TrustOfficer
from tsm.adapters.db.engine import Database
from tsm.services.actors import Actor

LONDON = ZoneInfo("Europe/London")

# Norfolk 2025-26 (shared/notes/domain.md)
TERMS = [
    ("2025-26", "autumn", date(2025, 9, 3), date(2025, 12, 19), [(date(2025, 10, 27), date(2025, 10, 31))]),
    ("2025-26", "spring", date(2026, 1, 6), date(2026, 3, 27), [(date(2026, 2, 16), date(2026, 2, 20))]),
    ("2025-26", "summer", date(2026, 4, 15), date(2026, 7, 17), [(date(2026, 5, 25), date(2026, 5, 29))]),
]


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


@dataclass
class World:
    la_id: int
    officers: dict[str, int] = field(default_factory=dict)
    schools: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    terms: dict[str, int] = field(default_factory=dict)

    def contact(self, key: str) -> Actor:
        school_key = key.split(".")[0]
        return Actor("contact", self.contacts[key], self.schools[school_key], la_id=self.la_id)

    def officer(self, key: str) -> Actor:
        return Actor("officer", self.officers[key], la_id=self.la_id)

    def admin(self, key: str) -> Actor:
        """An officer acting as an LA admin of this world's LA (as the resolvers build one marked is_admin)."""
        return Actor("admin", self.officers[key], la_id=self.la_id)


# The period of the schools' attendance figures: the latest national averages held (domain.md: 2024/25 autumn and
# spring, primary 94.84, secondary 91.91, special 87.23), so each school is compared with the same period's average.
ATTENDANCE_PERIOD = "2024/25 autumn and spring terms"

SCHOOLS = {
    # key: (urn, name, type, group, phase_of_education, phase, attendance, trust, officer)
    "low_primary": (
        100001,
        "Low Primary School",
        "Community school",
        "Local authority maintained schools",
        "Primary",
        "primary",
        92.0,
        None,
        "ann",
    ),
    "high_primary": (
        100002,
        "High Primary School",
        "Academy converter",
        "Academies",
        "Primary",
        "primary",
        96.5,
        None,
        "ann",
    ),
    "secondary": (
        100003,
        "Town High School",
        "Academy converter",
        "Academies",
        "Secondary",
        "secondary",
        93.0,
        None,
        "ann",
    ),
    "independent": (
        100004,
        "Oak Independent School",
        "Other independent school",
        "Independent schools",
        "Not applicable",
        "other",
        None,
        None,
        "ann",
    ),
    "la_special": (
        100005,
        "Willow Special School",
        "Community special school",
        "Local authority maintained schools",
        "Not applicable",
        "special",
        85.0,
        None,
        "ann",
    ),
    "trust_a": (
        100006,
        "Trust A Primary",
        "Academy sponsor led",
        "Academies",
        "Primary",
        "primary",
        93.0,
        "T1",
        "ann",
    ),
    "trust_b": (
        100007,
        "Trust B Primary",
        "Academy sponsor led",
        "Academies",
        "Primary",
        "primary",
        93.5,
        "T1",
        "ann",
    ),
    "allocated": (
        100008,
        "Allocated Trust Academy",
        "Academy converter",
        "Academies",
        "Primary",
        "primary",
        91.0,
        "T2",
        "bob",
    ),
    "bob_school": (
        100009,
        "Bob's Primary",
        "Community school",
        "Local authority maintained schools",
        "Primary",
        "primary",
        90.0,
        None,
        "bob",
    ),
}


async def make_world(
    db: Database,
    *,
    policy: str = "norfolk",
    busy: list[tuple[str, datetime, datetime, str]] = (),
    la_code: str = "926",
    la_name: str = "Norfolk",
    urn_offset: int = 0,
    email_domain: str = "la.example",
) -> World:
    """The world; a second one (another LA: ``la_code``, ``urn_offset``, ``email_domain``) sits beside the first in the
    same database, sharing the trusts (GIAS trusts are national)."""
    async with db.transaction() as s:
        la = LA(code=la_code, name=la_name, timezone="Europe/London", policy=policy)
        s.add(la)
        await s.flush()
        w = World(la.id)
        for key, name, email in (
            ("ann", "Ann Officer", f"ann@{email_domain}"),
            ("bob", "Bob Officer", f"bob@{email_domain}"),
        ):
            o = Officer(la_id=la.id, name=name, email=email, mailbox=email)
            s.add(o)
            await s.flush()
            w.officers[key] = o.id
        if await s.get(Trust, "T1") is None:
            s.add(Trust(code="T1", name="Shared Learning Trust"))
            s.add(Trust(code="T2", name="Allocated Trust"))
            await s.flush()
        s.add(TrustOfficer(trust_code="T2", la_id=la.id, officer_id=w.officers["bob"]))  # in this LA
        for year, name, first, last, breaks in TERMS:
            t = Term(
                la_id=la.id, academic_year=year, name=name, start_date=first, end_date=last, source="test"
            )
            s.add(t)
            await s.flush()
            w.terms[name] = t.id
            for a, b in breaks:
                s.add(TermBreak(term_id=t.id, kind="half_term", start_date=a, end_date=b))
        for key, (urn, name, type_, group, poe, phase, att, trust, off) in SCHOOLS.items():
            urn += urn_offset
            sc = School(
                urn=urn,
                la_id=la.id,
                name=name,
                type_name=type_,
                type_group=group,
                phase_of_education=poe,
                phase=phase,
                attendance_pct=att,
                attendance_period=ATTENDANCE_PERIOD if att is not None else None,
                trust_code=trust,
                street="1 School Lane",
                town="Norwich",
                postcode="NR1 1AA",
                link_officer_id=w.officers[off],
            )
            s.add(sc)
            await s.flush()
            w.schools[key] = sc.id
            for role, who in (("attendance_lead", "lead"), ("senior_leader", "head")):
                c = SchoolContact(
                    school_id=sc.id,
                    name=f"{who.title()} of {name}",
                    email=f"{who}@{urn}.sch.example",
                    role=role,
                )
                s.add(c)
                await s.flush()
                w.contacts[f"{key}.{who}"] = c.id
        for officer_key, start, end, show_as in busy:
            s.add(
                CalendarEvent(
                    officer_id=w.officers[officer_key], start=start, end=end, show_as=show_as, subject="busy"
                )
            )
    return w


async def told(app, clock) -> list:
    """What the changes since the last call told other people, as (Recipient, Message): the pending domain events
    run through the one notifications module (tsm.notifications: who is told what, and the message), then marked
    dispatched. Delivery itself (the ledger, the channels) is the scheduler's. The local calendar's invitations (by
    email to everyone invited, tests/mail) are calendar entries, not what people are told: left out."""
    notes = app.notifications
    pending = await notes.pending()
    out = []
    for o in await notes.outgoing(pending):
        if o.kind == "ev.invitation":
            continue
        message = await notes.compose(o.event_id, o.kind, o.recipient)
        if message is not None:
            out.append((o.recipient, message))
    await notes.mark_dispatched([e.id for e in pending], clock())
    return out


@dataclass(frozen=True)
class OfficerNoticeSeen:
    officer_id: int
    meeting_id: int | None
    kind: str
    text: str


async def officer_notices(app, kind: str | None = None) -> list[OfficerNoticeSeen]:
    """What Outlook changed or refused, as the officer is told it: the calendar_failed and outlook_change domain
    events, each with the officer tsm.notifications sends it to (so the routing is checked too)."""
    from sqlmodel import col, select

    from tsm.adapters.db.history import DomainEvent

    async with app.db.reader() as s:
        events = list(
            await s.exec(
                select(DomainEvent)
                .where(col(DomainEvent.kind).in_(("calendar_failed", "outlook_change")))
                .order_by(DomainEvent.id)
            )
        )
    out = []
    for ev in events:
        notice = (ev.data or {}).get("notice", ev.kind)
        if kind is not None and notice != kind:
            continue
        [to] = [o.recipient for o in await app.notifications.outgoing([ev]) if o.recipient.kind == "officer"]
        out.append(OfficerNoticeSeen(to.id, ev.meeting_id, notice, (ev.data or {})["text"]))
    return out


def local_booking(db: Database, clock, invitations_dir=None):
    """A BookingService on the local calendar (in the database; invitations written under ``invitations_dir``)."""
    from tsm.adapters.calendar_local import LocalCalendar
    from tsm.services.booking import BookingService
    from tsm.services.calendar_sync import CalendarSync
    from tsm.services.reference import ReferenceData

    cal = LocalCalendar(db, invitations_dir) if invitations_dir is not None else LocalCalendar(db)
    return BookingService(db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock))
