"""Tables of what comes out of a TSM (issue 6): evaluations, the TSM record and its actions.
Created by migration ``0006``.

Anonymity: an anonymous evaluation stores no author. ``evaluation_receipt`` records only *that* a person
answered (so they are not reminded and cannot answer twice); nothing links a receipt to an anonymous
answer: the answer's primary key is random, neither row says when the person answered (both carry the meeting's
day), and the only way back to it is an edit token held in the respondent's own chat (stored here as a SHA-256
hash). Residual risk, stated plainly: someone with raw database access could still guess from the physical order
of rows; the product never shows the author of an anonymous answer to anyone, the officer included.

No pupil-level field exists anywhere here. Counts are school-level and shown suppressed ("<5").
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .columns import utc_ts


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluation"
    __table_args__ = (
        # One named answer per person per meeting (NULLs, i.e. anonymous answers, never clash).
        sa.UniqueConstraint("meeting_id", "contact_id", name="uq_evaluation_meeting_contact"),
    )
    id: str = Field(primary_key=True, max_length=32, description="random, so ids do not reveal order")
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    contact_id: int | None = Field(
        default=None,
        foreign_key="school_contact.id",
        description="the author; NULL when anonymous (or after the retention purge)",
    )
    anonymous: bool = False
    usefulness: int
    working_together: int
    clarity: int
    overall: int
    comments: str = Field(default="", max_length=2000)
    edit_token_hash: str | None = Field(default=None, max_length=64, index=True)
    submitted_on: date = Field(
        description="the MEETING's day, not the day of answering: any time of answering "
        "would help link an anonymous answer to its author's receipt"
    )
    purged: bool = False


class EvaluationReceipt(SQLModel, table=True):
    """That a contact answered a meeting's evaluation (never which answer is theirs)."""

    __tablename__ = "evaluation_receipt"
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    contact_id: int = Field(foreign_key="school_contact.id", primary_key=True)
    answered_on: date = Field(description="the meeting's day too (see Evaluation.submitted_on)")


class TsmRecord(SQLModel, table=True):
    """The record of one meeting: school-level figures, the lead practitioner, notes; actions below."""

    __tablename__ = "tsm_record"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", unique=True)
    attendance_pct: float | None = None
    pa_count: int | None = None
    sa_count: int | None = None
    sen_count: int | None = None
    fsm_count: int | None = None
    eal_count: int | None = None
    grt_count: int | None = None
    lead_practitioner: str = Field(default="", max_length=120)
    notes: str = Field(default="", max_length=2000)
    created_by: str = Field(max_length=80)
    updated_by: str = Field(max_length=80)
    created_at: datetime = utc_ts(nullable=False)
    updated_at: datetime = utc_ts(nullable=False)


class RecordAction(SQLModel, table=True):
    __tablename__ = "record_action"
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="tsm_record.id", index=True)
    position: int = 0
    text: str = Field(max_length=500)
    owner: str = Field(max_length=16)  # school | la | other
    owner_detail: str = Field(default="", max_length=120)
    due_date: date = Field(index=True)
    done_at: datetime | None = utc_ts(nullable=True)
    done_by: str = Field(default="", max_length=80)
