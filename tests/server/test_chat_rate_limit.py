"""The per-user rate limit in Router.dispatch: over the limit, a polite "slow down" and nothing processed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fakes.clock import FakeClock

from tsm.chat.router import Incoming, Reply, Router, Who
from tsm.observability import Metrics
from tsm.ratelimit import TurnLimiter
from tsm.services.actors import Actor
from tsm.settings import Settings


def test_turn_limiter_windows_and_refusals_that_do_not_extend_the_penalty():
    clock = FakeClock(seconds=1000.0)
    lim = TurnLimiter([(3, 10.0), (5, 60.0)], clock=clock.monotonic)
    assert [lim.hit("u") for _ in range(3)] == [0, 0, 0]
    assert lim.hit("u") == pytest.approx(10.0)
    assert lim.hit("other") == 0  # one sender's flood does not slow anyone else
    clock.advance(timedelta(seconds=4))
    assert lim.hit("u") == pytest.approx(6.0)  # refused turns were not recorded
    clock.advance(timedelta(seconds=6))
    assert lim.hit("u") == 0 and lim.hit("u") == 0  # 5 in the last 60 s now
    assert lim.hit("u") == pytest.approx(50.0)  # the sustained window bites
    clock.advance(timedelta(seconds=50))
    assert lim.hit("u") == 0


def test_turn_limiter_forgets_the_least_recent_senders():
    lim = TurnLimiter([(1, 100.0)], clock=FakeClock(seconds=1000.0).monotonic, max_keys=2)
    assert lim.hit("a") == 0 and lim.hit("b") == 0 and lim.hit("c") == 0
    assert lim.hit("a") == 0  # forgotten: a fresh window (memory stays bounded under many senders)
    assert lim.hit("c") > 0


def test_no_limits_means_no_limit():
    lim = TurnLimiter([])
    assert all(lim.hit("u") == 0 for _ in range(1000))
    with pytest.raises(ValueError):
        TurnLimiter([(0, 1.0)])


def _router(calls: list[str]) -> Router:
    router = Router()

    @router.command("ping", help="ping")
    async def ping(ctx, data):
        calls.append(ctx.actor.key)
        return Reply(text="pong")

    @router.verb("test.touch")
    async def touch(ctx, data):
        calls.append("touch")
        return Reply(text="touched")

    return router


def _services(**settings):
    return SimpleNamespace(settings=Settings(_env_file=None, **settings), metrics=Metrics())


async def test_dispatch_refuses_a_flood_before_identifying_or_handling():
    calls: list[str] = []
    identified: list[str] = []
    router = _router(calls)
    services = _services(chat_burst_turns=3, chat_burst_seconds=60, chat_sustained_turns=0)

    async def identify(who: Who):
        identified.append(who.aad_object_id)
        return Actor("contact", 1, 1, "Lead")

    alice = Who(aad_object_id="aad-alice", tenant_id="t1")
    replies = [
        await router.dispatch(
            Incoming(who=alice, text="ping"),
            identify=identify,
            services=services,
            clock=lambda: datetime.now(UTC),
        )
        for _ in range(5)
    ]
    assert [r.text for r in replies[:3]] == ["pong"] * 3
    for r in replies[3:]:
        assert r.error and "faster than I can take them" in r.text and "nothing was changed" in r.text
    assert (
        len(calls) == 3 and len(identified) == 3
    )  # refused turns touched neither the directory nor a handler
    # Card actions count against the same sender and are refused the same way.
    act = await router.dispatch(
        Incoming(who=alice, verb="test.touch", data={}),
        identify=identify,
        services=services,
        clock=lambda: datetime.now(UTC),
    )
    assert act.error and "touch" not in calls
    # Someone else is unaffected.
    bob = await router.dispatch(
        Incoming(who=Who(aad_object_id="aad-bob", tenant_id="t1"), text="ping"),
        identify=identify,
        services=services,
        clock=lambda: datetime.now(UTC),
    )
    assert bob.text == "pong"
    m = services.metrics
    assert m.value("tsm_turns_total", kind="message", outcome="rate_limited") == 2
    assert m.value("tsm_turns_total", kind="action", outcome="rate_limited") == 1
    assert m.value("tsm_turns_total", kind="message", outcome="ok") == 4


async def test_unknown_users_are_limited_too_by_their_channel_identity():
    router = _router([])
    services = _services(chat_burst_turns=2, chat_burst_seconds=60, chat_sustained_turns=0)

    async def nobody(who):
        return None

    stranger = Who(aad_object_id=None, channel_user_id="29:stranger")
    texts = [
        (
            await router.dispatch(
                Incoming(who=stranger, text="hi"),
                identify=nobody,
                services=services,
                clock=lambda: datetime.now(UTC),
            )
        ).text
        for _ in range(3)
    ]
    assert "can't find you" in texts[0] and "can't find you" in texts[1]
    assert "faster than I can take them" in texts[2]
    assert services.metrics.value("tsm_turns_total", kind="message", outcome="unknown_user") == 2


async def test_limit_off_when_configured_zero():
    calls: list[str] = []
    router = _router(calls)
    services = _services(chat_burst_turns=0, chat_sustained_turns=0)

    async def identify(who):
        return Actor("officer", 2)

    for _ in range(50):
        await router.dispatch(
            Incoming(who=Who(aad_object_id="x"), text="ping"),
            identify=identify,
            services=services,
            clock=lambda: datetime.now(UTC),
        )
    assert len(calls) == 50


def test_default_settings_allow_a_brisk_booking_flow_but_not_a_flood():
    s = Settings(_env_file=None)
    # A booking is about 6 turns (book, mode, date, time, attendees, confirm): doable at human speed.
    assert s.chat_burst_turns >= 6 and s.chat_burst_seconds <= 30
    assert (
        s.chat_sustained_turns / s.chat_sustained_seconds <= 1.0
    )  # never more than a turn a second sustained
