"""The clock: the one place the product reads the time of day.

Every service takes a clock (a callable returning an aware UTC ``datetime``) from the composition root
(``tsm.bootstrap.build_app``), which builds it from ``Settings.clock_start``:

- unset (production): :class:`SystemClock`, the machine's time;
- set (``TSM_CLOCK_START=2026-11-10T09:00:00+00:00``, for demos and end-to-end tests):
  :class:`StartedClock`, which begins at that instant and then moves on with the real time, so a demo or a
  test behaves the same on any day it is run.

Tests that step time by hand use :class:`FixedClock`. Nothing else in the product calls ``datetime.now``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


class SystemClock:
    """The machine's time, in UTC."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class StartedClock:
    """Starts at ``start`` and moves on at the real pace (measured on the monotonic clock, so a change of the
    machine's date does not move it)."""

    def __init__(self, start: datetime, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start needs a time zone (for example 2026-11-10T09:00:00+00:00)")
        self.start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self._monotonic() - self._t0)

    def __repr__(self) -> str:
        return f"StartedClock({self.start.isoformat()})"


class FixedClock:
    """A clock that stands still until told otherwise: ``clock.now = ...`` or ``clock.advance(...)``."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a FixedClock needs an aware datetime")
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now = self.now + delta
        return self.now

    def __repr__(self) -> str:
        return f"FixedClock({self.now.isoformat()})"


def clock_from_settings(clock_start: datetime | None) -> Clock:
    """The composition root's clock: the system's, or one started at ``clock_start``."""
    return SystemClock() if clock_start is None else StartedClock(clock_start)


def local_today(clock: Clock, tz: str | ZoneInfo = "Europe/London") -> date:
    """Today's date in ``tz`` by ``clock``."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return clock().astimezone(zone).date()
