"""Each sweep's watermark: the due time up to which it has read (``sweep_mark``, migration 0013).

A sweep that finds work by a due time (a meeting's start minus the reminder's lead, a meeting's end plus the margin,
an evaluation request's send time plus the reminder's delay) reads only the rows whose due time fell in
``(mark - OVERLAP, now]`` through an index on that time, claims them, then moves its mark to ``now``. So an idle run
costs one read of the mark and one indexed range that comes back empty, whatever the history holds.

- The overlap re-reads the last few minutes: a change committed a moment after another worker's read (its time
  written before the read, its commit after) is still seen. What the overlap brings back again is already in the
  ledger, whose unique key keeps it once.
- Several workers share a mark: each may read the same window; the ledger decides who sends. A mark only moves
  forward (a worker whose clock lags cannot move it back), and only after the claims were committed, so a worker
  that dies in between leaves the window to be read again.
- The first run (no mark yet) and a run after a long stop read back at most ``lookback``: how long a due item
  stays worth sending (e.g. a reminder until the meeting starts), which is what the sweeps read before marks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tsm.adapters.db.delivery import SweepMark
from tsm.adapters.db.engine import Database

OVERLAP = timedelta(minutes=5)


class Marks:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def get(self, name: str, session: AsyncSession | None = None) -> datetime | None:
        if session is not None:  # in the sweep's own read: one transaction for the mark and the window
            return (await session.exec(select(SweepMark.mark).where(SweepMark.name == name))).first()
        async with self.db.reader() as s:
            return (await s.exec(select(SweepMark.mark).where(SweepMark.name == name))).first()

    async def since(
        self,
        name: str,
        lookback: timedelta,
        now: datetime | None = None,
        session: AsyncSession | None = None,
    ) -> datetime:
        """The lower bound of this run's window (exclusive): the mark less the overlap, never further back than
        ``lookback`` from now, and never after now (a clock set back reads again rather than skipping).

        A sweep whose window came back empty need not move its mark (the next window is then a little wider and
        as empty, through the same index): an idle run is this read and the window's, in one transaction."""
        now = now or self.clock()
        mark = await self.get(name, session)
        if mark is None:
            return now - lookback
        return max(min(mark, now) - OVERLAP, now - lookback)

    async def advance(self, name: str, to: datetime) -> None:
        """Move the mark forward to ``to`` (never back): one upsert."""
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        stmt = insert(SweepMark).values(name=name, mark=to)
        stmt = stmt.on_conflict_do_update(
            index_elements=[SweepMark.name],
            set_={"mark": stmt.excluded.mark},
            where=SweepMark.mark < stmt.excluded.mark,
        )
        async with self.db.transaction() as s:
            await s.exec(stmt)
