"""The Teams channel's own state: where the bot can reach someone (conversation references), the activities
it already handled (so a redelivered one is handled once), and the files it serves as download links.
Created by migrations ``0002`` and ``0008``.

Nothing here holds a message body: a conversation reference is addresses and ids only. A ``bot_file`` row holds
the file a user was handed (an invitation: the meeting, attendees' names and emails; never pupil data).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import JSON, Column, Field, LargeBinary, SQLModel

from .columns import utc_ts


class BotConversation(SQLModel, table=True):
    """Where the bot can write to someone proactively: stored at install and refreshed on every message.

    ``blocked_at`` is set when the channel answered 403 (app uninstalled or the user blocked the bot);
    sends to a blocked conversation are not attempted until the user writes again.
    """

    __tablename__ = "bot_conversation"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=400, unique=True)
    conversation_type: str = Field(default="personal", max_length=24)
    tenant_id: str = Field(default="", max_length=64, index=True)
    aad_object_id: str | None = Field(default=None, max_length=64, index=True)
    user_id: str = Field(default="", max_length=400)
    service_url: str = Field(max_length=400)
    channel_id: str = Field(default="msteams", max_length=32)
    bot_id: str = Field(default="", max_length=400)
    reference: dict = Field(sa_column=Column(JSON, nullable=False))
    contact_id: int | None = Field(default=None, foreign_key="school_contact.id", index=True)
    officer_id: int | None = Field(default=None, foreign_key="officer.id", index=True)
    installed: bool = True
    blocked_at: datetime | None = utc_ts(nullable=True)
    last_error: str = Field(default="", max_length=300)
    updated_at: datetime = utc_ts(nullable=False)
    greeted_at: datetime | None = utc_ts(nullable=True)  # the one greeting (a reinstall is not greeted again)


class BotProcessedActivity(SQLModel, table=True):
    """An incoming activity already handled: the channel may deliver the same activity (same id) again.

    ``response`` keeps an invoke's answer so a redelivered invoke gets the same card back.
    """

    __tablename__ = "bot_processed_activity"
    conversation_id: str = Field(max_length=400, primary_key=True)
    activity_id: str = Field(max_length=200, primary_key=True)
    received_at: datetime = utc_ts(nullable=False, index=True)
    response: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class BotFile(SQLModel, table=True):
    """A file a reply handed over as a download link (``GET /files/<token>/<name>``): the ``.ics`` invitation of the
    local calendar, a report's CSV. Kept here, not in a bot's memory, so the link works on any instance behind a
    load balancer and after a restart, until ``expires_at``; expired rows are purged by the scheduler's daily
    housekeeping. Only the SHA-256 of the link's token is stored: the table alone cannot make a working link.
    Created by migration ``0008``.
    """

    __tablename__ = "bot_file"
    token_hash: str = Field(max_length=64, primary_key=True)
    name: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    meeting_id: int | None = Field(default=None, index=True)  # the invitation's meeting (found by its UID)
    made_for: str = Field(default="", max_length=80)  # the actor key of the turn: "contact:12", "officer:3"
    school_id: int | None = Field(default=None)  # a school contact's school
    created_at: datetime = utc_ts(nullable=False)
    expires_at: datetime = utc_ts(nullable=False, index=True)
