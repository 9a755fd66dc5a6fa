"""The tests' clock is the product's: :class:`tsm.clock.FixedClock`, which stands still until told otherwise
(``clock.now = ...``, ``clock.advance(timedelta(...))``). Use it directly.

:class:`FakeClock` is that clock for tests that simulate time passing inside the code under test: it also reads
as monotonic seconds (``clock.monotonic``, for what takes a monotonic clock: the Graph adapter's busy cache, the
rate limiters) and its ``async sleep`` moves it on instead of waiting (each sleep kept in ``sleeps``). Seconds
are kept as a float, so sleeping 1/7 s seven times is exactly what the code under test computed; ``now`` moves
with them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tsm.clock import FixedClock

__all__ = ["FakeClock", "FixedClock"]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # any instant: a Monday of the spring term 2026


class FakeClock(FixedClock):
    def __init__(self, now: datetime = START, *, seconds: float = 0.0) -> None:
        """``now``: the instant it starts at; ``seconds``: what ``monotonic()`` reads then."""
        self._origin = now.astimezone(UTC) if now.tzinfo is not None else now
        self._seconds_at_origin = seconds
        self.elapsed = 0.0  # seconds since the start
        self.sleeps: list[float] = []  # every ``sleep`` asked for, in order
        super().__init__(now)

    @property
    def now(self) -> datetime:  # type: ignore[override]
        return self._origin + timedelta(seconds=self.elapsed)

    @now.setter
    def now(self, value: datetime) -> None:
        self.elapsed = (value - self._origin).total_seconds()

    def monotonic(self) -> float:
        return self._seconds_at_origin + self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        await asyncio.sleep(0)  # a sleep lets others run, as a real one does
