"""Tables of the conversations (issue 4b): the slots a card offered, kept server-side. Created by a migration.

A card carries only an offer's id and the start it picks; the handler re-reads the offer, checks the person
acting is the one it was made for (or a contact of its school) and that the start is one it holds. The row
also keeps the flow's state (which school, term, mode, meeting), so a restart or a second instance continues
a conversation where it stopped. No message bodies, no pupil data.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import JSON, Column, Field, SQLModel

from .columns import utc_ts


class ChatOffer(SQLModel, table=True):
    __tablename__ = "chat_offer"
    id: str = Field(primary_key=True, max_length=32)  # random, unguessable (uuid4 hex)
    kind: str = Field(
        max_length=16
    )  # book (a school books) | officer_book | move | proposal (officer booked for a school)
    actor_key: str = Field(
        default="", max_length=80, index=True
    )  # who may use it; "" = any contact of its schools
    school_ids: list = Field(sa_column=Column(JSON, nullable=False))
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    term_id: int = Field(foreign_key="term.id", index=True)  # migration 0013: reports by term
    mode: str = Field(max_length=16)
    meeting_type: str = Field(max_length=32)
    duration_minutes: int
    timezone: str = Field(max_length=64)
    slots: list = Field(
        sa_column=Column(JSON, nullable=False)
    )  # starts, as minutes since the Unix epoch (UTC)
    context: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # words for the cards
    created_at: datetime = utc_ts(nullable=False)
    expires_at: datetime = utc_ts(nullable=False, index=True)
