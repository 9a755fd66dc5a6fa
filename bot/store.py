"""What the transport keeps in the database: conversation references and the activities already handled.

- **Idempotency**: an activity (conversation id + activity id) is claimed by inserting its row with
  ``ON CONFLICT DO NOTHING RETURNING``; no row back means another delivery got there first (on SQLite and
  PostgreSQL alike, across processes). An invoke's answer is kept on the row so a redelivered invoke gets
  the same card back.
- **Conversation references** are upserted (``ON CONFLICT DO UPDATE``) at install and on every message, in
  the same transaction as the claim, linked to the contact or officer the sender was identified as. Only
  addresses and ids are stored, never a message body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from tsm.adapters.db.bot_tables import BotConversation, BotProcessedActivity
from tsm.adapters.db.engine import Database
from tsm.services.actors import Actor
from tsm.services.booking import now_utc

KEEP_PROCESSED = timedelta(days=3)  # the channel redelivers within minutes; older claims are purged


@dataclass(frozen=True)
class ConversationRow:
    id: int
    conversation_id: str
    tenant_id: str
    service_url: str
    reference: dict[str, Any]
    blocked_at: datetime | None
    installed: bool


@dataclass(frozen=True)
class RefInfo:
    """The parts of an activity that make its conversation reference (no text, no attachments)."""

    conversation_id: str
    conversation_type: str
    tenant_id: str
    aad_object_id: str | None
    user_id: str
    service_url: str
    channel_id: str
    bot_id: str
    reference: dict[str, Any]


class BotStore:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.db = db
        self.clock = clock

    def _insert(self, table):
        return (postgresql.insert if self.db.is_postgres else sqlite.insert)(table)

    # ------------------------------------------------------------------ inbound

    async def record_turn(self, ref: RefInfo, *, activity_id: str | None, actor: Actor | None,
                          installed: bool = True, claim: bool = True) -> bool:
        """Claim the activity (if it has an id) and store its conversation reference, in one transaction.

        Returns False when the activity was already claimed (a redelivery): the caller then does nothing more.
        A message from the user clears ``blocked_at``: they can be written to again.
        """
        now = self.clock()
        contact_id = actor.id if actor is not None and actor.kind == "contact" else None
        officer_id = actor.id if actor is not None and actor.kind in ("officer", "admin") else None
        values = dict(conversation_id=ref.conversation_id, conversation_type=ref.conversation_type[:24],
                      tenant_id=ref.tenant_id[:64], aad_object_id=(ref.aad_object_id or None),
                      user_id=ref.user_id[:400], service_url=ref.service_url[:400], channel_id=ref.channel_id[:32],
                      bot_id=ref.bot_id[:400], reference=ref.reference, installed=installed, blocked_at=None,
                      last_error="", updated_at=now)
        set_ = {k: v for k, v in values.items() if k != "conversation_id"}
        if actor is not None:  # an unidentified turn keeps the link made earlier
            values.update(contact_id=contact_id, officer_id=officer_id)
            set_.update(contact_id=contact_id, officer_id=officer_id)
        async with self.db.transaction() as s:
            if claim and activity_id:
                ins = self._insert(BotProcessedActivity.__table__).values(
                    conversation_id=ref.conversation_id, activity_id=activity_id[:200], received_at=now,
                    response=None).on_conflict_do_nothing(index_elements=["conversation_id", "activity_id"]) \
                    .returning(BotProcessedActivity.__table__.c.activity_id)
                if (await s.exec(ins)).first() is None:  # RETURNING gives no row when the claim existed
                    return False
            up = self._insert(BotConversation.__table__).values(**values)
            up = up.on_conflict_do_update(index_elements=["conversation_id"], set_=set_)
            await s.exec(up)
        return True

    async def release(self, conversation_id: str, activity_id: str | None) -> None:
        """The turn failed before anything was answered: let a redelivery try again."""
        if not activity_id:
            return
        async with self.db.transaction() as s:
            await s.exec(delete(BotProcessedActivity).where(
                BotProcessedActivity.conversation_id == conversation_id,
                BotProcessedActivity.activity_id == activity_id[:200]))

    async def save_response(self, conversation_id: str, activity_id: str | None, response: dict) -> None:
        if not activity_id:
            return
        async with self.db.transaction() as s:
            await s.exec(update(BotProcessedActivity).where(
                BotProcessedActivity.conversation_id == conversation_id,
                BotProcessedActivity.activity_id == activity_id[:200]).values(response=response))

    async def stored_response(self, conversation_id: str, activity_id: str, *, wait: float = 10.0,
                              poll: float = 0.1) -> dict | None:
        """The answer kept for an invoke; waits a little while the first delivery is still being handled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            async with self.db.reader() as s:
                row = await s.get(BotProcessedActivity, (conversation_id, activity_id[:200]))
                if row is None or row.response is not None:
                    return None if row is None else row.response
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(poll)

    async def set_installed(self, conversation_id: str, installed: bool) -> None:
        async with self.db.transaction() as s:
            await s.exec(update(BotConversation).where(BotConversation.conversation_id == conversation_id)
                         .values(installed=installed, updated_at=self.clock()))

    async def purge_processed(self, older_than: timedelta = KEEP_PROCESSED) -> int:
        async with self.db.transaction() as s:
            res = await s.exec(delete(BotProcessedActivity).where(
                col(BotProcessedActivity.received_at) < self.clock() - older_than))
            return res.rowcount or 0

    # ------------------------------------------------------------------ outbound

    async def conversation_for(self, kind: str, person_id: int) -> ConversationRow | None:
        """The person's 1:1 conversation with the bot, the most recently used first."""
        column = BotConversation.contact_id if kind == "contact" else BotConversation.officer_id
        async with self.db.reader() as s:
            row = (await s.exec(select(BotConversation).where(column == person_id,
                                                              BotConversation.conversation_type == "personal",
                                                              BotConversation.installed == True)  # noqa: E712
                                .order_by(col(BotConversation.updated_at).desc()).limit(1))).first()
        if row is None:
            return None
        return ConversationRow(row.id, row.conversation_id, row.tenant_id, row.service_url, row.reference,
                               row.blocked_at, row.installed)

    async def mark_blocked(self, conversation_id: str, detail: str) -> None:
        async with self.db.transaction() as s:
            await s.exec(update(BotConversation).where(BotConversation.conversation_id == conversation_id)
                         .values(blocked_at=self.clock(), last_error=detail[:300]))

    async def note_error(self, conversation_id: str, detail: str) -> None:
        async with self.db.transaction() as s:
            await s.exec(update(BotConversation).where(BotConversation.conversation_id == conversation_id)
                         .values(last_error=detail[:300]))
