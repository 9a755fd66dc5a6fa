"""SQLModel tables. The schema is created only by the Alembic migrations in ``tsm/migrations``.

Invariants the database enforces (not only the code):
- one active TSM per school per term: ``meeting_school`` has UNIQUE (school_id, active_term_id), and
  ``active_term_id`` is NULL once the meeting is cancelled or a no-show (NULLs never clash);
- an officer is never double-booked, travel buffers included: every active meeting owns the
  5-minute blocks of its footprint in ``officer_block``, whose primary key is (officer_id, block_start).
Both hold identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones), always returned timezone-aware in UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class LA(SQLModel, table=True):
    __tablename__ = "la"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=8)
    name: str = Field(max_length=120)
    timezone: str = Field(default="Europe/London", max_length=64)
    policy: str = Field(max_length=64, description="policy profile name or path")


class Officer(SQLModel, table=True):
    __tablename__ = "officer"
    id: int | None = Field(default=None, primary_key=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    name: str = Field(max_length=120)
    email: str = Field(unique=True, max_length=254)
    mailbox: str = Field(max_length=254, description="calendar mailbox (UPN) used with Graph")
    area: str = Field(default="", max_length=120)
    working_hours: dict | None = Field(default=None, sa_column=Column(JSON), description="overrides the policy's")
    max_meetings_per_day: int | None = None
    is_admin: bool = False
    teams_aad_id: str | None = Field(default=None, unique=True, max_length=64)
    active: bool = True


class Trust(SQLModel, table=True):
    __tablename__ = "trust"
    code: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=200)
    allocated_officer_id: int | None = Field(default=None, foreign_key="officer.id")


class School(SQLModel, table=True):
    __tablename__ = "school"
    id: int | None = Field(default=None, primary_key=True)
    urn: int = Field(unique=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    name: str = Field(max_length=200)
    type_name: str = Field(default="", max_length=100)
    type_group: str = Field(default="", max_length=100)
    phase_of_education: str = Field(default="", max_length=60)
    phase: str = Field(default="other", max_length=16, description="primary/secondary/special/other for the national comparison")
    trust_code: str | None = Field(default=None, max_length=16, index=True)
    trust_name: str | None = Field(default=None, max_length=200)
    street: str = Field(default="", max_length=200)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=16)
    pupils: int | None = None
    attendance_pct: float | None = None
    attendance_period: str | None = Field(default=None, max_length=60)
    booking_route: str = Field(default="self", max_length=24)
    booking_route_reason: str = Field(default="", max_length=300)
    link_officer_id: int | None = Field(default=None, foreign_key="officer.id", index=True)
    open: bool = True

    @property
    def address(self) -> str:
        return ", ".join(p for p in (self.street, self.town, self.postcode) if p)


class SchoolContact(SQLModel, table=True):
    __tablename__ = "school_contact"
    __table_args__ = (sa.UniqueConstraint("school_id", "email", name="uq_contact_school_email"),)
    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    name: str = Field(max_length=120)
    email: str = Field(max_length=254, index=True)
    role: str = Field(default="other", max_length=24)
    teams_aad_id: str | None = Field(default=None, unique=True, max_length=64)
    active: bool = True


class Term(SQLModel, table=True):
    __tablename__ = "term"
    __table_args__ = (sa.UniqueConstraint("la_id", "academic_year", "name", name="uq_term_la_year_name"),)
    id: int | None = Field(default=None, primary_key=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    academic_year: str = Field(max_length=7)
    name: str = Field(max_length=8)
    start_date: date
    end_date: date
    source: str = Field(default="", max_length=200, description="where the dates came from; 'example' if made up")


class TermBreak(SQLModel, table=True):
    __tablename__ = "term_break"
    id: int | None = Field(default=None, primary_key=True)
    term_id: int = Field(foreign_key="term.id", index=True)
    kind: str = Field(max_length=16)  # half_term | closure
    start_date: date
    end_date: date
    label: str = Field(default="", max_length=120)


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    term_id: int = Field(foreign_key="term.id", index=True)
    start: datetime = _ts(nullable=False, index=True)
    end: datetime = _ts(nullable=False)
    mode: str = Field(max_length=16)
    meeting_type: str = Field(max_length=32)
    status: str = Field(default="booked", max_length=16, index=True)
    location: str = Field(default="", max_length=300)
    join_url: str | None = Field(default=None, max_length=2000)
    booked_by: str = Field(max_length=80, description="actor id, e.g. contact:12 or officer:3")
    calendar_event_id: str | None = Field(default=None, max_length=400)
    ical_uid: str = Field(max_length=120, unique=True)
    ical_sequence: int = 0
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class MeetingSchool(SQLModel, table=True):
    """The schools a meeting is for (several for a trust's joint TSM)."""

    __tablename__ = "meeting_school"
    __table_args__ = (sa.UniqueConstraint("school_id", "active_term_id", name="uq_one_active_tsm_per_school_term"),)
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    school_id: int = Field(foreign_key="school.id", primary_key=True)
    term_id: int = Field(foreign_key="term.id")
    active_term_id: int | None = Field(default=None, foreign_key="term.id", description="term_id while active, else NULL")


class MeetingAttendee(SQLModel, table=True):
    __tablename__ = "meeting_attendee"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "email", name="uq_attendee_meeting_email"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="school_contact.id")
    name: str = Field(max_length=120)
    email: str = Field(max_length=254)
    role: str = Field(default="other", max_length=24)
    required: bool = False
    response: str = Field(default="none", max_length=24)


class MeetingStatusChange(SQLModel, table=True):
    __tablename__ = "meeting_status_change"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    status: str = Field(max_length=16)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=80)
    reason: str = Field(default="", max_length=500)
    start: datetime | None = _ts(nullable=True)
    end: datetime | None = _ts(nullable=True)


class OfficerBlock(SQLModel, table=True):
    """One 5-minute block of an officer's time owned by one active meeting's footprint."""

    __tablename__ = "officer_block"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    block_start: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    meeting_id: int = Field(foreign_key="meeting.id", index=True)


class OfficerDayLoad(SQLModel, table=True):
    """Seat n (1..cap) of an officer's day, held by one active meeting: the daily cap under concurrency."""

    __tablename__ = "officer_day_load"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    day: date = Field(primary_key=True)
    seat: int = Field(primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, unique=True)


class CalendarEvent(SQLModel, table=True):
    """The local calendar adapter's store: an officer's events when no Microsoft tenant is configured."""

    __tablename__ = "calendar_event"
    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    start: datetime = _ts(nullable=False, index=True)
    end: datetime = _ts(nullable=False)
    subject: str = Field(default="", max_length=300)
    location: str = Field(default="", max_length=300)
    show_as: str = Field(default="busy", max_length=24)  # free | tentative | busy | oof | workingElsewhere
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    ical_uid: str | None = Field(default=None, max_length=120)
    cancelled: bool = False


class CalendarOutbox(SQLModel, table=True):
    """Calendar work committed with the booking and done after it (create/update/cancel an event)."""

    __tablename__ = "calendar_outbox"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    op: str = Field(max_length=16)  # create | update | cancel
    message: str = Field(default="", max_length=500)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | done | failed
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False, index=True)
    lease_until: datetime | None = _ts(nullable=True)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = _ts(nullable=False)


class AuditLog(SQLModel, table=True):
    """Every change: who, when, what. Never message bodies or pupil data."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    detail: dict | None = Field(default=None, sa_column=Column(JSON))
