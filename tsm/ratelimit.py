"""The one sliding-window rate limiter: never more than N events in any window of T seconds.

:class:`SlidingWindow` is the log itself (non-blocking: how long until one more event fits, and record it if it
does); everything else is built from it:

- :class:`SlidingWindowLimiter`: ``await acquire()`` waits its turn (proactive sends); waiters are served in
  arrival order (an asyncio.Lock is FIFO) and ``defer`` honours a server's ``Retry-After``;
- :class:`KeyedLimiters`: one window per key (a conversation, a tenant, a sender), the least recently used
  dropped past ``max_keys`` so memory stays bounded;
- :class:`SendLimiter`: Teams' limits for one bot process, per conversation 7 sends a second, 60 in 30 seconds
  and 1800 an hour, and per app per tenant 50 requests a second (platform notes);
- :class:`TurnLimiter`: the per-user chat limit the router applies before anything else (``hit`` refuses at
  once, never waits; a refused turn is not recorded, so it does not extend the penalty).

A token bucket lets a burst plus its refill through in one second (up to twice the rate); a sliding window log
does not, so it is used here.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

TEAMS_CONVERSATION_LIMITS = ((7, 1.0), (60, 30.0), (1800, 3600.0))
TEAMS_TENANT_LIMITS = ((50, 1.0),)

Limits = tuple[tuple[int, float], ...]


def checked_limits(limits: Iterable[tuple[int, float]]) -> Limits:
    """``limits`` as (count, seconds) pairs; none at all means no limit."""
    pairs = tuple((int(n), float(t)) for n, t in limits)
    if any(n < 1 or t <= 0 for n, t in pairs):
        raise ValueError("limits are (count >= 1, seconds > 0) pairs")
    return pairs


class SlidingWindow:
    """A log of the last events' times, checked against every (count, seconds) limit."""

    __slots__ = ("limits", "clock", "_log", "_blocked_until")

    def __init__(
        self, limits: Iterable[tuple[int, float]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = checked_limits(limits)
        self.clock = clock
        self._log: deque[float] = deque(maxlen=max((n for n, _ in self.limits), default=0))
        self._blocked_until = 0.0

    def wait(self, now: float | None = None) -> float:
        """Seconds until one more event keeps every window within its count (0 or less: it fits now)."""
        now = self.clock() if now is None else now
        wait = self._blocked_until - now
        log = self._log
        for n, window in self.limits:
            if len(log) >= n:
                wait = max(wait, log[-n] + window - now)
        return wait

    def hit(self) -> float:
        """Record one event now if it fits and return 0; else record nothing and return the seconds to wait."""
        now = self.clock()
        wait = self.wait(now)
        if wait > 0:
            return wait
        self._log.append(now)
        return 0.0

    def defer(self, seconds: float) -> None:
        """The server said Retry-After: count the next ``seconds`` as used up."""
        self._blocked_until = max(self._blocked_until, self.clock() + seconds)


class SlidingWindowLimiter(SlidingWindow):
    """A :class:`SlidingWindow` to wait on: ``await acquire()`` returns once one more event fits, and records it."""

    __slots__ = ("sleep", "_lock")

    def __init__(
        self,
        limits: Iterable[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(limits, clock=clock)
        self.sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.wait()) > 0:
                await self.sleep(wait)
            self._log.append(self.clock())


W = TypeVar("W", bound=SlidingWindow)


class KeyedLimiters(Generic[W]):
    """One window per key (a conversation, a tenant, a sender), the least recently used dropped past
    ``max_keys``. ``kind`` is the window's class (waitable :class:`SlidingWindowLimiter` by default); ``kw`` its
    options (clock, sleep)."""

    def __init__(
        self,
        limits: Iterable[tuple[int, float]],
        *,
        max_keys: int = 10_000,
        kind: type[W] = SlidingWindowLimiter,  # type: ignore[assignment]
        **kw: Any,
    ) -> None:
        self.limits = checked_limits(limits)
        self.max_keys = max_keys
        self.kind = kind
        self.kw = kw
        self._by_key: OrderedDict[str, W] = OrderedDict()

    def get(self, key: str) -> W:
        limiter = self._by_key.pop(key, None)
        if limiter is None:
            limiter = self.kind(self.limits, **self.kw)
        self._by_key[key] = limiter
        while len(self._by_key) > self.max_keys:
            self._by_key.popitem(last=False)
        return limiter


class SendLimiter:
    """Teams' limits for one bot process: per tenant and per conversation (shared by every sender)."""

    def __init__(
        self, *, conversation_limits=TEAMS_CONVERSATION_LIMITS, tenant_limits=TEAMS_TENANT_LIMITS, **kw
    ) -> None:
        self.conversations: KeyedLimiters[SlidingWindowLimiter] = KeyedLimiters(conversation_limits, **kw)
        self.tenants: KeyedLimiters[SlidingWindowLimiter] = KeyedLimiters(tenant_limits, **kw)

    async def acquire(self, tenant_id: str, conversation_id: str) -> None:
        await self.conversations.get(conversation_id).acquire()
        await self.tenants.get(tenant_id).acquire()


class TurnLimiter:
    """Per-sender windows that never wait: ``hit(key)`` records a turn and returns 0, or returns the seconds to
    wait when one more turn would exceed any window (and then records nothing: a refused turn does not extend the
    penalty). The least recently seen senders are forgotten past ``max_keys``. No limits: no limit."""

    def __init__(
        self,
        limits: Iterable[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self.limits = checked_limits(limits)
        self.clock = clock
        self.max_keys = max_keys
        self._windows: KeyedLimiters[SlidingWindow] = KeyedLimiters(
            self.limits, max_keys=max_keys, kind=SlidingWindow, clock=clock
        )

    @classmethod
    def for_chat(cls, settings: Any, **kw: Any) -> TurnLimiter:
        """The chat's per-user limit from ``Settings`` (``TSM_CHAT_BURST_*``, ``TSM_CHAT_SUSTAINED_*``; 0 turns
        turns a window off)."""
        limits = (
            (settings.chat_burst_turns, settings.chat_burst_seconds),
            (settings.chat_sustained_turns, settings.chat_sustained_seconds),
        )
        return cls([(n, t) for n, t in limits if n > 0], **kw)

    def hit(self, key: str) -> float:
        if not self.limits:
            return 0.0
        return self._windows.get(key).hit()
