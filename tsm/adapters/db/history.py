"""What happened: domain events (delivered as notifications) and the audit log (who changed what, when).

Domain events: what happened to a meeting (or a school), recorded in the transaction that made the change.

Whoever made it (Teams, the CLI, the scheduler, a Graph notification, a web page), the change writes one
``domain_event`` row beside it. ``tsm.notifications`` turns each event into the messages it calls for (who is
told what) and hands them to the delivery ledger (``outbound``), which sends them exactly once; then the event
is marked dispatched. Rows hold ids, times and short facts written for people (a cancellation's reason, an
Outlook problem); never message bodies or pupil data. ``audit_log`` rows likewise: never message bodies or
pupil data.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from .columns import utc_ts


class DomainEvent(SQLModel, table=True):
    __tablename__ = "domain_event"
    __table_args__ = (
        # The dispatch sweep reads only events not dispatched yet: a partial index keeps that cheap for ever.
        sa.Index(
            "ix_domain_event_pending",
            "id",
            postgresql_where=sa.text("dispatched_at IS NULL"),
            sqlite_where=sa.text("dispatched_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # tsm.notifications.EventKind
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    school_id: int | None = Field(default=None, foreign_key="school.id")
    actor: str = Field(max_length=80)  # Actor.key: contact:12, officer:3, admin:cli, system:graph ...
    at: datetime = utc_ts(nullable=False, index=True)  # migration 0013: the retention purge
    data: dict | None = Field(default=None, sa_column=Column(JSON))
    dispatched_at: datetime | None = utc_ts(nullable=True)


class AuditLog(SQLModel, table=True):
    """Every change: who, when, what. Never message bodies or pupil data."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_ts(nullable=False, index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    detail: dict | None = Field(default=None, sa_column=Column(JSON))
