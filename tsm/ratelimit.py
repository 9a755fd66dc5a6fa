"""Send limits as sliding windows: never more than N sends in any window of T seconds.

Teams allows a bot, per conversation, 7 sends a second, 60 in 30 seconds and 1800 an hour, and per
app per tenant 50 requests a second (platform notes). A token bucket lets a burst plus its refill
through in one second (up to twice the rate); a sliding window log does not, so it is used here.
Waiters are served in arrival order (an asyncio.Lock is FIFO).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

TEAMS_CONVERSATION_LIMITS = ((7, 1.0), (60, 30.0), (1800, 3600.0))
TEAMS_TENANT_LIMITS = ((50, 1.0),)


class SlidingWindowLimiter:
    def __init__(self, limits: Sequence[tuple[int, float]], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = asyncio.sleep) -> None:
        if not limits or any(n < 1 or t <= 0 for n, t in limits):
            raise ValueError("limits are (count >= 1, seconds > 0) pairs")
        self.limits = tuple(limits)
        self.clock = clock
        self.sleep = sleep
        self._log: deque[float] = deque(maxlen=max(n for n, _ in self.limits))
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _wait(self, now: float) -> float:
        """Seconds until one more send keeps every window within its count."""
        wait = self._blocked_until - now
        for n, window in self.limits:
            if len(self._log) >= n:
                wait = max(wait, self._log[-n] + window - now)
        return wait

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self._wait(self.clock())) > 0:
                await self.sleep(wait)
            self._log.append(self.clock())

    def defer(self, seconds: float) -> None:
        """The server said Retry-After: count the next ``seconds`` as used up."""
        self._blocked_until = max(self._blocked_until, self.clock() + seconds)


class KeyedLimiters:
    """One limiter per key (a conversation, a tenant), the least recently used dropped past ``max_keys``."""

    def __init__(self, limits: Sequence[tuple[int, float]], *, max_keys: int = 10_000, **kw) -> None:
        self.limits = limits
        self.max_keys = max_keys
        self.kw = kw
        self._by_key: OrderedDict[str, SlidingWindowLimiter] = OrderedDict()

    def get(self, key: str) -> SlidingWindowLimiter:
        limiter = self._by_key.pop(key, None) or SlidingWindowLimiter(self.limits, **self.kw)
        self._by_key[key] = limiter
        while len(self._by_key) > self.max_keys:
            self._by_key.popitem(last=False)
        return limiter


class SendLimiter:
    """Teams' limits for one bot process: per tenant and per conversation (shared by every sender)."""

    def __init__(self, *, conversation_limits=TEAMS_CONVERSATION_LIMITS, tenant_limits=TEAMS_TENANT_LIMITS,
                 **kw) -> None:
        self.conversations = KeyedLimiters(conversation_limits, **kw)
        self.tenants = KeyedLimiters(tenant_limits, **kw)

    async def acquire(self, tenant_id: str, conversation_id: str) -> None:
        await self.conversations.get(conversation_id).acquire()
        await self.tenants.get(tenant_id).acquire()
