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
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, bindparam, delete, func, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from tsm.adapters.db.engine import Database
from tsm.adapters.db.hot import HotStatement
from tsm.adapters.db.teams import BotConversation, BotProcessedActivity
from tsm.services.actors import Actor
from tsm.services.booking import now_utc

log = logging.getLogger(__name__)

KEEP_PROCESSED = timedelta(days=3)  # the channel redelivers within minutes; older claims are purged
REF_REFRESH = 60.0  # an unchanged conversation reference is rewritten at most once a minute per process


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("saving an invoke's answer failed (%s)", type(future.exception()).__name__)


@dataclass
class _Op:
    """One queued write: a claim (conversation id, activity id), a reference upsert, an invoke answer."""

    claim: tuple[str, str] | None = None
    upsert: dict[str, Any] | None = None
    response: tuple[str, str, dict] | None = None
    received_at: datetime | None = None
    future: asyncio.Future | None = None


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


def _pg_claims():
    """Claim a batch of activities on PostgreSQL: one statement whatever the batch's size (the ids as three arrays,
    unnested), so it is compiled once and prepared by the driver; the rows that went in are the claims won."""
    t = BotProcessedActivity.__table__
    rows = (
        func.unnest(
            bindparam("conversation_ids", type_=postgresql.ARRAY(String)),
            bindparam("activity_ids", type_=postgresql.ARRAY(String)),
            bindparam(
                "received_at", type_=postgresql.ARRAY(DateTime())
            ),  # naive UTC, as the column stores it
        )
        .table_valued("c", "a", "t")
        .render_derived(name="claims")
    )
    return (
        postgresql.insert(t)
        .from_select(
            ["conversation_id", "activity_id", "received_at"], core_select(rows.c.c, rows.c.a, rows.c.t)
        )
        .on_conflict_do_nothing(index_elements=["conversation_id", "activity_id"])
        .returning(t.c.conversation_id, t.c.activity_id)
    )


_PG_CLAIMS = _pg_claims()
_PG_CLAIMS_HOT = HotStatement(_PG_CLAIMS)  # the claims-only batch, straight to the driver


class BotStore:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.db = db
        self.clock = clock
        self._queue: list[_Op] = []
        self._writer: asyncio.Task | None = None
        self._refs: dict[str, tuple[tuple, float]] = {}  # conversation id -> (what was stored, when)
        self._responses: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def _insert(self, table):
        return (postgresql.insert if self.db.is_postgres else sqlite.insert)(table)

    # ------------------------------------------------------------------ inbound

    async def record_turn(
        self,
        ref: RefInfo,
        *,
        activity_id: str | None,
        actor: Actor | None,
        installed: bool = True,
        claim: bool = True,
        store: bool = True,
    ) -> bool:
        """Claim the activity (if it has an id) and store its conversation reference, atomically.

        Returns False when the activity was already claimed (a redelivery): the caller then does nothing more.
        A message from the user clears ``blocked_at``: they can be written to again. The reference is rewritten
        only when it (or the link, or the install state) changed, or ``REF_REFRESH`` seconds have passed.
        """
        now = self.clock()
        contact_id = actor.id if actor is not None and actor.kind == "contact" else None
        officer_id = actor.id if actor is not None and actor.kind in ("officer", "admin") else None
        values = dict(
            conversation_id=ref.conversation_id,
            conversation_type=ref.conversation_type[:24],
            tenant_id=ref.tenant_id[:64],
            aad_object_id=(ref.aad_object_id or None),
            user_id=ref.user_id[:400],
            service_url=ref.service_url[:400],
            channel_id=ref.channel_id[:32],
            bot_id=ref.bot_id[:400],
            reference=ref.reference,
            installed=installed,
            blocked_at=None,
            last_error="",
            updated_at=now,
        )
        if actor is not None:  # an unidentified turn keeps the link made earlier
            values.update(contact_id=contact_id, officer_id=officer_id)
        sig = (
            json.dumps(ref.reference, sort_keys=True, default=str),
            actor is not None,
            contact_id,
            officer_id,
            installed,
        )
        seen = self._refs.get(ref.conversation_id)
        upsert = store and (seen is None or seen[0] != sig or time.monotonic() - seen[1] > REF_REFRESH)
        key = (ref.conversation_id, activity_id[:200]) if claim and activity_id else None
        if key is None and not upsert:
            return True
        op = _Op(
            claim=key,
            upsert=values if upsert else None,
            received_at=now,
            future=asyncio.get_running_loop().create_future(),
        )
        self._submit(op)
        won = await op.future
        if upsert:
            self._refs[ref.conversation_id] = (sig, time.monotonic())
            while len(self._refs) > 50_000:
                self._refs.pop(next(iter(self._refs)))
        return won

    # ------------------------------------------------------------------ the group-commit writer

    def _submit(self, op: _Op) -> None:
        self._queue.append(op)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        """Runs the queued writes, all that arrived meanwhile in ONE transaction (group commit): under load a
        turn's claim costs a fraction of a transaction, and this process never queues on SQLite's write lock
        against itself."""
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                won = await self._write(batch)
            except Exception as exc:
                for op in batch:
                    if op.future is not None and not op.future.done():
                        op.future.set_exception(exc)
                continue
            first: set[tuple[str, str]] = set()
            for op in batch:
                result = True
                if op.claim is not None:
                    result = op.claim in won and op.claim not in first
                    first.add(op.claim)
                if op.future is not None and not op.future.done():
                    op.future.set_result(result)

    async def _write(self, batch: list[_Op]) -> set[tuple[str, str]]:
        table = BotProcessedActivity.__table__
        claims = {op.claim: op.received_at for op in batch if op.claim is not None}
        won: set[tuple[str, str]] = set()
        if self.db.is_postgres and claims:
            params = {
                "conversation_ids": [c for c, _ in claims],
                "activity_ids": [a for _, a in claims],
                "received_at": [at.astimezone(UTC).replace(tzinfo=None) for at in claims.values()],
            }
            if all(op.upsert is None and op.response is None for op in batch):
                # Claims only (a turn's usual batch): one statement, atomic by itself, in autocommit: one round
                # trip instead of BEGIN, INSERT and COMMIT (tsm.adapters.db.hot).
                return {(r[0], r[1]) for r in await _PG_CLAIMS_HOT.write(self.db, **params)}
        async with self._core_transaction() as conn:
            if claims and self.db.is_postgres:
                won = {(r[0], r[1]) for r in (await conn.execute(_PG_CLAIMS, params)).all()}
            elif claims:
                ins = (
                    self._insert(table)
                    .values(
                        [
                            {"conversation_id": c, "activity_id": a, "received_at": at, "response": None}
                            for (c, a), at in claims.items()
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["conversation_id", "activity_id"])
                    .returning(table.c.conversation_id, table.c.activity_id)
                )
                won = {(r[0], r[1]) for r in (await conn.execute(ins)).all()}
            for op in batch:
                if op.upsert is not None:
                    up = self._insert(BotConversation.__table__).values(**op.upsert)
                    set_ = {k: v for k, v in op.upsert.items() if k != "conversation_id"}
                    await conn.execute(
                        up.on_conflict_do_update(index_elements=["conversation_id"], set_=set_)
                    )
                if op.response is not None:
                    c, a, body = op.response
                    await conn.execute(
                        update(table)
                        .where(table.c.conversation_id == c, table.c.activity_id == a)
                        .values(response=body)
                    )
        return won

    def _core_transaction(self):
        return self.db.core_transaction()  # a locked database raises ServiceBusy (503 + Retry-After)

    async def release(self, conversation_id: str, activity_id: str | None) -> None:
        """The turn failed before anything was answered: let a redelivery try again."""
        if not activity_id:
            return
        async with self.db.transaction() as s:
            await s.exec(
                delete(BotProcessedActivity).where(
                    BotProcessedActivity.conversation_id == conversation_id,
                    BotProcessedActivity.activity_id == activity_id[:200],
                )
            )

    async def save_response(self, conversation_id: str, activity_id: str | None, response: dict) -> None:
        """Keep an invoke's answer for redeliveries: at once in this process, in the database with the next group
        commit (not awaited: it rides in the transaction that claims the next turns, and the answer goes out now;
        another instance asked for it meanwhile waits for it, see :meth:`stored_response`)."""
        if not activity_id:
            return
        key = (conversation_id, activity_id[:200])
        self._responses[key] = response
        while len(self._responses) > 2000:
            self._responses.popitem(last=False)
        op = _Op(response=(key[0], key[1], response), future=asyncio.get_running_loop().create_future())
        op.future.add_done_callback(_log_failure)
        self._submit(op)

    async def flush(self) -> None:
        """Wait until every queued write is committed (shutdown, tests)."""
        while self._queue or (self._writer is not None and not self._writer.done()):
            if self._writer is not None and not self._writer.done():
                await asyncio.wait([self._writer])
            else:
                await asyncio.sleep(0)

    async def stored_response(
        self, conversation_id: str, activity_id: str, *, wait: float = 10.0, poll: float = 0.1
    ) -> dict | None:
        """The answer kept for an invoke; waits a little while the first delivery is still being handled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            mine = self._responses.get((conversation_id, activity_id[:200]))
            if mine is not None:
                return mine
            async with self.db.reader() as s:
                row = await s.get(BotProcessedActivity, (conversation_id, activity_id[:200]))
                if row is None or row.response is not None:
                    return None if row is None else row.response
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(poll)

    async def claim_greeting(self, conversation_id: str) -> bool:
        """True once per conversation: the caller greets. Atomic across instances (one UPDATE that only a
        conversation not greeted yet matches), so a reinstall, or Teams' conversationUpdate and installationUpdate
        for one install, greets once."""
        async with self.db.transaction() as s:
            res = await s.exec(
                update(BotConversation)
                .where(
                    BotConversation.conversation_id == conversation_id,
                    col(BotConversation.greeted_at).is_(None),
                )
                .values(greeted_at=self.clock())
            )
            return bool(res.rowcount)

    async def unclaim_greeting(self, conversation_id: str) -> None:
        """The greeting could not be sent: the next install activity may greet."""
        async with self.db.transaction() as s:
            await s.exec(
                update(BotConversation)
                .where(BotConversation.conversation_id == conversation_id)
                .values(greeted_at=None)
            )

    async def set_installed(self, conversation_id: str, installed: bool) -> None:
        self._refs.pop(conversation_id, None)
        async with self.db.transaction() as s:
            await s.exec(
                update(BotConversation)
                .where(BotConversation.conversation_id == conversation_id)
                .values(installed=installed, updated_at=self.clock())
            )

    async def purge_processed(self, older_than: timedelta = KEEP_PROCESSED) -> int:
        async with self.db.transaction() as s:
            res = await s.exec(
                delete(BotProcessedActivity).where(
                    col(BotProcessedActivity.received_at) < self.clock() - older_than
                )
            )
            return res.rowcount or 0

    # ------------------------------------------------------------------ outbound

    async def conversation_for(self, kind: str, person_id: int) -> ConversationRow | None:
        """The person's 1:1 conversation with the bot, the most recently used first."""
        column = BotConversation.contact_id if kind == "contact" else BotConversation.officer_id
        async with self.db.reader() as s:
            row = (
                await s.exec(
                    select(BotConversation)
                    .where(
                        column == person_id,
                        BotConversation.conversation_type == "personal",
                        BotConversation.installed == True,  # noqa: E712
                    )  # noqa: E712
                    .order_by(col(BotConversation.updated_at).desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return ConversationRow(
            row.id,
            row.conversation_id,
            row.tenant_id,
            row.service_url,
            row.reference,
            row.blocked_at,
            row.installed,
        )

    async def mark_blocked(self, conversation_id: str, detail: str) -> None:
        self._refs.pop(conversation_id, None)  # the next message from this user must clear the block
        async with self.db.transaction() as s:
            await s.exec(
                update(BotConversation)
                .where(BotConversation.conversation_id == conversation_id)
                .values(blocked_at=self.clock(), last_error=detail[:300])
            )

    async def note_error(self, conversation_id: str, detail: str) -> None:
        async with self.db.transaction() as s:
            await s.exec(
                update(BotConversation)
                .where(BotConversation.conversation_id == conversation_id)
                .values(last_error=detail[:300])
            )
