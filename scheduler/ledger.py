"""Claiming due work exactly once, across restarts and across several workers.

``claim`` inserts ledger rows with ON CONFLICT DO NOTHING ... RETURNING: the rows that come back are
this worker's and no other worker's, on SQLite and PostgreSQL alike. ``reclaim_expired`` takes over rows
whose lease ran out (their worker died mid-send) with one UPDATE ... RETURNING, guarded on PostgreSQL by
FOR UPDATE SKIP LOCKED so two workers never take the same row.

A claim is (row id, attempt): a takeover bumps ``attempts``, and ``touch`` (right before a send), ``finish`` and
``retry_later`` only match the current attempt of this worker. So a holder whose lease ran out while its item
waited in the send queue finds ``touch`` refused and does not send: the new holder does, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.messaging import Recipient

COLUMNS = (
    Outbound.id,
    Outbound.kind,
    Outbound.subject_kind,
    Outbound.subject_id,
    Outbound.recipient_kind,
    Outbound.recipient_id,
    Outbound.ref,
    Outbound.attempts,
)
CHUNK = 500


@dataclass(frozen=True)
class Due:
    """One message that should go out once: ``kind`` about ``subject`` to ``recipient``, ``ref`` making it unique."""

    kind: str
    subject_kind: str
    subject_id: int
    recipient: Recipient
    ref: str


@dataclass(frozen=True)
class Claim:
    id: int
    due: Due
    attempts: int


def _claim_from_row(row) -> Claim:
    return Claim(
        row.id,
        Due(
            row.kind,
            row.subject_kind,
            row.subject_id,
            Recipient(row.recipient_kind, row.recipient_id),
            row.ref,
        ),
        row.attempts,
    )


class LedgerObserver(Protocol):
    def outbound(self, due: Due, status: str) -> None:
        """An outcome was recorded for ``due`` (sent, failed, undeliverable, skipped), or ``retry``."""


class Ledger:
    """``observer`` (the composition root passes the App's ``tsm.observability.Metrics``) hears of every outcome
    this ledger records: after the commit, and only when the claim was still this worker's."""

    def __init__(
        self,
        db: Database,
        worker_id: str,
        *,
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        observer: LedgerObserver | None = None,
    ) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease = lease
        self.clock = clock
        self.observer = observer

    async def claim(self, items: Sequence[Due]) -> list[Claim]:
        """Insert the items not claimed before; return those this call inserted (this worker's to send)."""
        now = self.clock()
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        out: list[Claim] = []
        unique = list(
            {
                (d.kind, d.subject_kind, d.subject_id, d.recipient.kind, d.recipient.id, d.ref): d
                for d in items
            }.values()
        )
        for i in range(0, len(unique), CHUNK):
            rows = [
                dict(
                    kind=d.kind,
                    subject_kind=d.subject_kind,
                    subject_id=d.subject_id,
                    recipient_kind=d.recipient.kind,
                    recipient_id=d.recipient.id,
                    ref=d.ref,
                    status="claimed",
                    claimed_by=self.worker_id,
                    lease_until=now + self.lease,
                    attempts=1,
                    created_at=now,
                    last_error="",
                )
                for d in unique[i : i + CHUNK]
            ]
            stmt = (
                insert(Outbound).values(rows).on_conflict_do_nothing(constraint="uq_outbound_once")
                if self.db.is_postgres
                else insert(Outbound).values(rows).on_conflict_do_nothing()
            )
            async with self.db.transaction() as s:
                result = await s.exec(stmt.returning(*COLUMNS))
                out.extend(_claim_from_row(r) for r in result)
        return out

    async def reclaim_expired(self, limit: int = 500) -> list[Claim]:
        """Take over claims whose worker's lease has run out (it died, or asked to retry later)."""
        now = self.clock()
        expired = and_(Outbound.status == "claimed", Outbound.lease_until < now)
        pick = select(Outbound.id).where(expired).order_by(Outbound.lease_until).limit(limit)
        if self.db.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(Outbound)
            .where(Outbound.id.in_(pick.scalar_subquery()), expired)
            .values(claimed_by=self.worker_id, lease_until=now + self.lease, attempts=Outbound.attempts + 1)
            .returning(*COLUMNS)
            .execution_options(synchronize_session=False)
        )
        async with self.db.transaction() as s:
            return [_claim_from_row(r) for r in await s.exec(stmt)]

    async def rearm(self, ids: Sequence[int], *, max_attempts: int) -> list[Claim]:
        """Take back rows finished ``undeliverable`` (the person had no conversation with the bot then, or had
        blocked it) as this worker's claims, to send now. One guarded UPDATE ... RETURNING: a row is re-armed only while it is still
        ``undeliverable``, so of several workers re-arming the same row exactly one gets it (PostgreSQL re-checks
        the condition after the first writer commits; SQLite has one writer), and the bumped ``attempts``
        makes any older claim on it stale. Rows re-armed ``max_attempts`` times already are left alone."""
        if not ids:
            return []
        now = self.clock()
        out: list[Claim] = []
        unique = sorted(set(ids))
        for i in range(0, len(unique), CHUNK):
            cond = and_(
                Outbound.id.in_(unique[i : i + CHUNK]),
                Outbound.status == "undeliverable",
                Outbound.attempts < max_attempts,
            )
            stmt = (
                update(Outbound)
                .where(cond)
                .values(
                    status="claimed",
                    claimed_by=self.worker_id,
                    lease_until=now + self.lease,
                    attempts=Outbound.attempts + 1,
                    last_error="",
                )
                .returning(*COLUMNS)
                .execution_options(synchronize_session=False)
            )
            async with self.db.transaction() as s:
                out.extend(_claim_from_row(r) for r in await s.exec(stmt))
        return out

    def _mine(self, claim: Claim):
        """The claim's row while it is still this very claim: same worker AND same attempt. A takeover (even by
        this worker's own retry sweep) bumps ``attempts``, so the older holder's writes no longer match."""
        return and_(
            Outbound.id == claim.id,
            Outbound.claimed_by == self.worker_id,
            Outbound.status == "claimed",
            Outbound.attempts == claim.attempts,
        )

    async def touch(self, claim: Claim) -> bool:
        """Right before sending: renew the lease if the claim is still ours. False means another worker (or a
        later attempt) has taken it over, so this holder must not send. With the lease renewed here, a send
        that follows at once cannot be taken over while it is in flight."""
        async with self.db.transaction() as s:
            result = await s.exec(
                update(Outbound)
                .where(self._mine(claim))
                .values(lease_until=self.clock() + self.lease)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    async def finish(self, claim: Claim, status: str, error: str = "") -> bool:
        """Record the outcome, only while the claim is still this worker's."""
        now = self.clock()
        async with self.db.transaction() as s:
            result = await s.exec(
                update(Outbound)
                .where(self._mine(claim))
                .values(
                    status=status,
                    lease_until=None,
                    sent_at=now if status == "sent" else None,
                    last_error=error[:300],
                )
                .execution_options(synchronize_session=False)
            )
            ok = result.rowcount == 1
        if ok and self.observer is not None:
            self.observer.outbound(claim.due, status)
        return ok

    async def retry_later(self, claim: Claim, delay: timedelta, error: str = "") -> None:
        """Keep the claim but let its lease end at ``now + delay``, when any worker may take it over."""
        async with self.db.transaction() as s:
            await s.exec(
                update(Outbound)
                .where(self._mine(claim))
                .values(lease_until=self.clock() + delay, last_error=error[:300])
                .execution_options(synchronize_session=False)
            )
        if self.observer is not None:
            self.observer.outbound(claim.due, "retry")

    async def once(self, job: str, period: str) -> bool:
        """True for exactly one caller, across every worker, per ``(job, period)``: for work that must run once
        per period however many workers there are (e.g. renewing Graph subscriptions once an hour). One insert
        of a finished ledger row of kind ``job`` (subject and recipient 0, no message); not counted as a send."""
        now = self.clock()
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        row = dict(
            kind="job",
            subject_kind="job",
            subject_id=0,
            recipient_kind="job",
            recipient_id=0,
            ref=f"{job}:{period}"[:40],
            status="sent",
            claimed_by=self.worker_id,
            lease_until=None,
            attempts=1,
            created_at=now,
            sent_at=now,
            last_error="",
        )
        stmt = insert(Outbound).values([row])
        stmt = (
            stmt.on_conflict_do_nothing(constraint="uq_outbound_once")
            if self.db.is_postgres
            else stmt.on_conflict_do_nothing()
        )
        async with self.db.transaction() as s:
            return (await s.exec(stmt.returning(Outbound.id))).first() is not None

    async def purge(self, older_than: timedelta = timedelta(days=180)) -> int:
        """Delete finished rows older than ``older_than``. Safe once no sweep can offer their key again: the
        sweeps look at meetings at most 14 days past, weeks and days that are over, and the current term."""
        async with self.db.transaction() as s:
            result = await s.exec(
                delete(Outbound)
                .where(Outbound.status != "claimed", Outbound.created_at < self.clock() - older_than)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount

    async def counts(self) -> dict[str, int]:
        async with self.db.reader() as s:
            rows = await s.exec(text("SELECT status, COUNT(*) FROM outbound GROUP BY status"))
            return {status: n for status, n in rows}
