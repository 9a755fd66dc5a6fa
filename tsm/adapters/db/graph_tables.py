"""Tables for the Outlook (Microsoft Graph) calendar: subscriptions, delta state, and notices to officers.

Created by migration ``0003``. ``officer_notice`` is not Graph-specific: it is what an officer must be told
(a calendar write that finally failed, a meeting changed or deleted in Outlook, an attendee's decline), for the
bot's "my week" or the scheduler to show; ``seen_at`` is set once shown.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from .tables import UTCDateTime


def _ts(**kw) -> object:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class GraphSubscription(SQLModel, table=True):
    """The change-notification subscription on one officer's ``/users/{mailbox}/events`` (one per officer)."""

    __tablename__ = "graph_subscription"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    subscription_id: str = Field(max_length=100, unique=True)
    mailbox: str = Field(max_length=254)
    expires_at: datetime = _ts(nullable=False, index=True)
    created_at: datetime = _ts(nullable=False)
    renewed_at: datetime | None = _ts(nullable=True)


class GraphDeltaState(SQLModel, table=True):
    """Where the ``calendarView/delta`` fallback sweep of one officer's calendar got to."""

    __tablename__ = "graph_delta_state"
    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    delta_link: str = Field(sa_column=Column(sa.Text(), nullable=False))
    window_start: datetime = _ts(nullable=False)
    window_end: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class OfficerNotice(SQLModel, table=True):
    """Something an officer must be told. ``text`` is written for them; never message bodies or pupil data."""

    __tablename__ = "officer_notice"
    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    kind: str = Field(max_length=32)  # calendar_failed | attendee_declined | moved_in_outlook | deleted_in_outlook | move_refused
    text: str = Field(max_length=500)
    created_at: datetime = _ts(nullable=False)
    seen_at: datetime | None = _ts(nullable=True)
