"""The send limiter keeps every sliding window within Teams' counts, on a simulated clock."""

from __future__ import annotations

import asyncio

import pytest
from fakes.clock import FakeClock

from tsm.ratelimit import SendLimiter, SlidingWindowLimiter


def max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def test_no_window_ever_holds_more_than_its_count():
    t = FakeClock()
    lim = SlidingWindowLimiter(((7, 1.0), (60, 30.0)), clock=t.monotonic, sleep=t.sleep)
    stamps = []
    for _ in range(200):
        await lim.acquire()
        stamps.append(t.monotonic())
    assert max_in_window(stamps, 1.0) == 7
    assert max_in_window(stamps, 30.0) == 60
    assert stamps[59] < 30.0 <= stamps[60]  # the 61st waits for the 30-second window


async def test_two_thousand_sends_at_fifty_a_second_take_just_under_forty_seconds():
    t = FakeClock()
    lim = SlidingWindowLimiter(((50, 1.0),), clock=t.monotonic, sleep=t.sleep)
    stamps = []

    async def send():
        await lim.acquire()
        stamps.append(t.monotonic())

    await asyncio.gather(*(send() for _ in range(2000)))
    assert max_in_window(sorted(stamps), 1.0) == 50
    assert stamps[-1] == pytest.approx(39.0)


async def test_retry_after_blocks_the_conversation_for_that_long():
    t = FakeClock()
    lim = SlidingWindowLimiter(((7, 1.0),), clock=t.monotonic, sleep=t.sleep)
    await lim.acquire()
    lim.defer(5.0)
    await lim.acquire()
    assert t.monotonic() == pytest.approx(5.0)


async def test_conversations_have_their_own_windows_but_share_the_tenants():
    t = FakeClock()
    lim = SendLimiter(
        conversation_limits=((2, 1.0),), tenant_limits=((3, 1.0),), clock=t.monotonic, sleep=t.sleep
    )
    for conv in ("a", "b", "c"):
        await lim.acquire("tenant", conv)
    assert t.monotonic() == 0.0  # three conversations, one send each: within the tenant's 3
    await lim.acquire("tenant", "d")
    assert t.monotonic() == pytest.approx(1.0)  # the fourth waits for the tenant's window
