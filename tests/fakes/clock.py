"""The tests' clock is the product's: :class:`tsm.clock.FixedClock`, which stands still until told otherwise
(``clock.now = ...``, ``clock.advance(timedelta(...))``). Code that takes a monotonic clock (seconds as a float:
the Graph adapter's busy cache, the rate limiters) reads the same clock through :func:`monotonic`, so one object
steps both."""

from __future__ import annotations

from collections.abc import Callable

from tsm.clock import FixedClock

__all__ = ["FixedClock", "monotonic"]


def monotonic(clock: FixedClock) -> Callable[[], float]:
    """``clock`` as a monotonic clock: its instant in seconds (POSIX time), moving when ``clock`` moves."""
    return lambda: clock().timestamp()
