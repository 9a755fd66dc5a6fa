"""Sending one claimed item: the step every sweep shares, so exactly-once has one implementation.

compose from the database as it is now → touch the lease (another worker may have taken the claim over while
this one waited: then it is theirs) → send → record the outcome in the ledger. Throttled or failed sends are
retried with backoff (or after the channel's Retry-After) until ``max_attempts``, then recorded as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from tsm.messaging import Message, MessengerPort, SendStatus

from .ledger import Claim, Due, Ledger

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    undeliverable: int = 0
    retry: int = 0
    failed: int = 0
    lost: int = 0  # taken over by another worker (our lease ran out) before we sent: theirs to send now
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: SweepResult) -> None:
        for k in ("claimed", "sent", "skipped", "undeliverable", "retry", "failed", "lost"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.by_kind.items():
            self.by_kind[k] = self.by_kind.get(k, 0) + v


class Counts(Protocol):
    sent: int
    skipped: int
    undeliverable: int
    retry: int
    failed: int
    lost: int


async def deliver(
    claim: Claim,
    counts: Counts,
    *,
    ledger: Ledger,
    messenger: MessengerPort,
    compose: Callable[[Due], Awaitable[Message | None]],
    max_attempts: int,
) -> SendStatus | None:
    """Deliver one claim and count the outcome; returns the send status when a send was attempted."""
    try:
        message = await compose(claim.due)
    except Exception as exc:  # noqa: BLE001
        log.exception(
            "could not compose %s for %s %s", claim.due.kind, claim.due.subject_kind, claim.due.subject_id
        )
        await retry_or_fail(claim, counts, type(exc).__name__, ledger=ledger, max_attempts=max_attempts)
        return None
    if message is None:
        await ledger.finish(claim, "skipped")
        counts.skipped += 1
        return None
    if not await ledger.touch(claim):
        counts.lost += 1  # our lease ran out while this waited and another worker took it: theirs now
        return None
    try:
        sent = await messenger.send(claim.due.recipient, message)
    except Exception as exc:  # noqa: BLE001 - a messenger bug must not lose the claim
        log.exception("messenger failed on %s", claim.due.kind)
        await retry_or_fail(claim, counts, type(exc).__name__, ledger=ledger, max_attempts=max_attempts)
        return None
    if sent.status is SendStatus.SENT:
        await ledger.finish(claim, "sent")
        counts.sent += 1
    elif sent.status in (SendStatus.NO_CONVERSATION, SendStatus.BLOCKED):
        await ledger.finish(claim, "undeliverable", sent.status.value)
        counts.undeliverable += 1
    else:
        await retry_or_fail(
            claim,
            counts,
            sent.detail or sent.status.value,
            sent.retry_after,
            ledger=ledger,
            max_attempts=max_attempts,
        )
    return sent.status


async def send_as_one(
    claims: Sequence[Claim],
    message: Message,
    counts: Counts,
    *,
    ledger: Ledger,
    messenger: MessengerPort,
    max_attempts: int,
) -> tuple[SendStatus | None, list[Claim]]:
    """One message standing for several claimed items to one recipient (a digest: ``scheduler.digests``), composed
    by the caller. Each claim's lease is renewed right before the send, as :func:`deliver` does; those another worker
    has taken over meanwhile are theirs (``lost``) and left out. The outcome is recorded on every claim sent for,
    so exactly-once holds per ledger row: the rows go out together once, or are retried or re-armed together.
    Returns the send status (None: nothing sent) and the claims it was sent for."""
    mine = [c for c in claims if await ledger.touch(c)]
    counts.lost += len(claims) - len(mine)
    if not mine:
        return None, []
    try:
        sent = await messenger.send(mine[0].due.recipient, message)
    except Exception as exc:  # noqa: BLE001 - a messenger bug must not lose the claims
        log.exception("messenger failed on a digest of %d", len(mine))
        for c in mine:
            await retry_or_fail(c, counts, type(exc).__name__, ledger=ledger, max_attempts=max_attempts)
        return None, mine
    for c in mine:
        if sent.status is SendStatus.SENT:
            await ledger.finish(c, "sent")
            counts.sent += 1
        elif sent.status in (SendStatus.NO_CONVERSATION, SendStatus.BLOCKED):
            await ledger.finish(c, "undeliverable", sent.status.value)
            counts.undeliverable += 1
        else:
            await retry_or_fail(
                c,
                counts,
                sent.detail or sent.status.value,
                sent.retry_after,
                ledger=ledger,
                max_attempts=max_attempts,
            )
    return sent.status, mine


async def retry_or_fail(
    claim: Claim,
    counts: Counts,
    error: str,
    retry_after: float | None = None,
    *,
    ledger: Ledger,
    max_attempts: int,
) -> None:
    if claim.attempts >= max_attempts:
        await ledger.finish(claim, "failed", error)
        counts.failed += 1
    else:
        delay = timedelta(seconds=retry_after) if retry_after else timedelta(seconds=30 * 2**claim.attempts)
        await ledger.retry_later(claim, delay, error)
        counts.retry += 1
