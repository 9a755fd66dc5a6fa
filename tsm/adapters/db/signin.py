"""The web page's sign-in: single-use links sent by email and the sessions they open. Created by migration ``0011``.

Only the SHA-256 of a link's or a session's token is stored: the table alone cannot sign anyone in. A link or a
session belongs to exactly one school contact or one officer (``person_kind`` + ``person_id``). A link may carry
a card (an emailed proposal) shown once the person is signed in; it holds ids and times, never pupil data.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from .columns import utc_ts


class SignInLink(SQLModel, table=True):
    __tablename__ = "signin_link"
    __table_args__ = (sa.Index("ix_signin_link_person", "person_kind", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_kind: str = Field(max_length=16)  # contact | officer
    person_id: int
    card: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = utc_ts(nullable=False)
    expires_at: datetime = utc_ts(nullable=False, index=True)
    used_at: datetime | None = utc_ts(nullable=True)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    __table_args__ = (sa.Index("ix_web_session_person", "person_kind", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_kind: str = Field(max_length=16)
    person_id: int
    created_at: datetime = utc_ts(nullable=False)
    expires_at: datetime = utc_ts(nullable=False, index=True)
    revoked_at: datetime | None = utc_ts(nullable=True)
    # What the page shows next (the reply to the last action: text, card, file links), so a POST redirects to a GET.
    view: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
