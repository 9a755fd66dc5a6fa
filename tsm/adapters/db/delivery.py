"""What reaches people: the delivery ledger (``outbound``).

The ledger holds one row per message decided on (by a sweep or from a domain event), created by the claim itself.

A sweep computes what is due from the meetings (so a move or cancellation needs no bookkeeping) and
claims each item by inserting its row: the UNIQUE (kind, subject_kind, subject_id, recipient_kind,
recipient_id, ref) key lets exactly one worker win. The winner holds a lease while it sends; a worker
that dies mid-send leaves the row 'claimed' with an expired lease, and another worker takes it over.
Rows hold ids and times only, never message bodies.

What an officer must be told about Outlook (a calendar write that finally failed, a meeting changed or deleted
there, an attendee's decline, a move refused) is a domain event delivered like every message; the old
``officer_notice`` table went with migration ``0010``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .columns import utc_ts


class Outbound(SQLModel, table=True):
    __tablename__ = "outbound"
    __table_args__ = (
        sa.UniqueConstraint(
            "kind",
            "subject_kind",
            "subject_id",
            "recipient_kind",
            "recipient_id",
            "ref",
            name="uq_outbound_once",
        ),
        sa.Index("ix_outbound_status_lease", "status", "lease_until"),
        sa.Index("ix_outbound_subject", "subject_kind", "subject_id"),  # migration 0007
        sa.Index("ix_outbound_kind_sent_at", "kind", "sent_at"),  # migration 0013: evaluation reminders
        sa.Index("ix_outbound_created_at", "created_at"),  # migration 0013: the retention purge
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(
        max_length=40
    )  # remind_7d, remind_1d, confirm, agenda, unbooked_weekly, meeting_end, ...
    subject_kind: str = Field(max_length=16)  # meeting | officer | school | term
    subject_id: int
    recipient_kind: str = Field(max_length=16)  # contact | officer
    recipient_id: int
    ref: str = Field(
        max_length=40, description="what makes it once: the meeting's start, the day, the term..."
    )
    status: str = Field(default="claimed", max_length=16)  # claimed | sent | skipped | undeliverable | failed
    claimed_by: str = Field(default="", max_length=80)
    lease_until: datetime | None = utc_ts(nullable=True)
    attempts: int = 1
    created_at: datetime = utc_ts(nullable=False)
    sent_at: datetime | None = utc_ts(nullable=True)
    last_error: str = Field(default="", max_length=300)


class SweepMark(SQLModel, table=True):
    """Per sweep, the due time up to which it has read (``scheduler.marks``): the next run reads only what became
    due after it. Several workers may hold the same mark; the ledger's claims keep each message once."""

    __tablename__ = "sweep_mark"
    name: str = Field(primary_key=True, max_length=40)
    mark: datetime = utc_ts(nullable=False)
