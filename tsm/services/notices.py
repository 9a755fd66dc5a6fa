"""Notices to officers (``officer_notice``): calendar writes that finally failed, meetings changed or deleted in
Outlook, attendees' declines. The bot's "my week" and the scheduler read the unseen ones and mark them seen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col, select

from ..adapters.db.delivery import OfficerNotice
from ..adapters.db.engine import Database


@dataclass(frozen=True)
class NoticeView:
    id: int
    officer_id: int
    meeting_id: int | None
    kind: str
    text: str
    created_at: datetime


class Notices:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.clock = clock

    async def unseen(self, officer_id: int) -> list[NoticeView]:
        async with self.db.reader() as s:
            rows = await s.exec(select(OfficerNotice).where(OfficerNotice.officer_id == officer_id,
                                                            col(OfficerNotice.seen_at).is_(None))
                                .order_by(OfficerNotice.id))
            return [NoticeView(n.id, n.officer_id, n.meeting_id, n.kind, n.text, n.created_at) for n in rows]

    async def mark_seen(self, officer_id: int, notice_ids: Sequence[int]) -> int:
        async with self.db.transaction() as s:
            done = await s.exec(update(OfficerNotice).where(OfficerNotice.officer_id == officer_id,
                                                            col(OfficerNotice.id).in_(list(notice_ids)),
                                                            col(OfficerNotice.seen_at).is_(None))
                                .values(seen_at=self.clock()))
            return done.rowcount
