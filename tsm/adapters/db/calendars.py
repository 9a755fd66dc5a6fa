"""Officers' calendars and keeping them in step with the meetings: the local calendar's events (when no
Microsoft tenant is configured), the calendar outbox (writes committed with the booking and done after it),
and, for Outlook (Microsoft Graph), each officer's change-notification subscription and delta-sweep state
(migration ``0003``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from .columns import utc_ts


class CalendarEvent(SQLModel, table=True):
    """The local calendar adapter's store: an officer's events when no Microsoft tenant is configured."""

    __tablename__ = "calendar_event"
    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    start: datetime = utc_ts(nullable=False, index=True)
    end: datetime = utc_ts(nullable=False)
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
    status: str = Field(default="pending", max_length=16, index=True)  # pending | done | failed | superseded
    attempts: int = 0
    next_attempt_at: datetime = utc_ts(nullable=False, index=True)
    lease_until: datetime | None = utc_ts(nullable=True)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = utc_ts(nullable=False)


class GraphSubscription(SQLModel, table=True):
    """The change-notification subscription on one officer's ``/users/{mailbox}/events`` (one per officer)."""

    __tablename__ = "graph_subscription"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    subscription_id: str = Field(max_length=100, unique=True)
    mailbox: str = Field(max_length=254)
    expires_at: datetime = utc_ts(nullable=False, index=True)
    created_at: datetime = utc_ts(nullable=False)
    renewed_at: datetime | None = utc_ts(nullable=True)


class GraphDeltaState(SQLModel, table=True):
    """Where the ``calendarView/delta`` fallback sweep of one officer's calendar got to."""

    __tablename__ = "graph_delta_state"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    delta_link: str = Field(sa_column=Column(sa.Text(), nullable=False))
    window_start: datetime = utc_ts(nullable=False)
    window_end: datetime = utc_ts(nullable=False)
    updated_at: datetime = utc_ts(nullable=False)
