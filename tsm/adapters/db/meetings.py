"""A meeting and everything that hangs on it: the schools it is for, who attends, its status history, the
officer's time it holds, and the school's "senior leader can't attend" mark.

Invariants the database enforces (not only the code):
- one active TSM per school per term: ``meeting_school`` has UNIQUE (school_id, active_term_id), and
  ``active_term_id`` is NULL once the meeting is cancelled or a no-show (NULLs never clash);
- an officer is never double-booked, travel buffers included: every active meeting owns the
  5-minute blocks of its footprint in ``officer_block``, whose primary key is (officer_id, block_start);
- an officer's daily cap holds under concurrency: each active meeting holds one seat of its day in
  ``officer_day_load``.
Both hold identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from .columns import UTCDateTime, utc_ts


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    term_id: int = Field(foreign_key="term.id", index=True)
    start: datetime = utc_ts(nullable=False, index=True)
    end: datetime = utc_ts(nullable=False, index=True)  # migration 0013: the meeting-end sweeps read by it
    mode: str = Field(max_length=16)
    meeting_type: str = Field(max_length=32)
    status: str = Field(default="booked", max_length=16, index=True)
    location: str = Field(default="", max_length=300)
    join_url: str | None = Field(default=None, max_length=2000)
    booked_by: str = Field(max_length=80, description="actor id, e.g. contact:12 or officer:3")
    calendar_event_id: str | None = Field(default=None, max_length=400)
    ical_uid: str = Field(max_length=120, unique=True)
    ical_sequence: int = 0
    created_at: datetime = utc_ts(nullable=False)
    updated_at: datetime = utc_ts(nullable=False)


class MeetingSchool(SQLModel, table=True):
    """The schools a meeting is for (several for a trust's joint TSM)."""

    __tablename__ = "meeting_school"
    __table_args__ = (
        sa.UniqueConstraint("school_id", "active_term_id", name="uq_one_active_tsm_per_school_term"),
        sa.Index("ix_meeting_school_term_id", "term_id"),  # migration 0013: reports by term
        sa.Index("ix_meeting_school_active_term_id", "active_term_id"),  # the unbooked sweeps
    )
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    school_id: int = Field(foreign_key="school.id", primary_key=True)
    term_id: int = Field(foreign_key="term.id")
    active_term_id: int | None = Field(
        default=None, foreign_key="term.id", description="term_id while active, else NULL"
    )


class MeetingAttendee(SQLModel, table=True):
    __tablename__ = "meeting_attendee"
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "email", name="uq_attendee_meeting_email"),
        sa.Index("ix_meeting_attendee_role_response", "role", "response"),  # migration 0013: the declines
    )
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
    at: datetime = utc_ts(nullable=False)
    actor: str = Field(max_length=80)
    reason: str = Field(default="", max_length=500)
    start: datetime | None = utc_ts(nullable=True)
    end: datetime | None = utc_ts(nullable=True)


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


class MeetingLeaderUnavailable(SQLModel, table=True):
    """The school said its senior leader cannot attend this meeting: it must be rearranged (Kent's rule)."""

    __tablename__ = "meeting_leader_unavailable"
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    reported_at: datetime = utc_ts(nullable=False)
    reported_by: str = Field(max_length=80)
    note: str = Field(default="", max_length=300)
