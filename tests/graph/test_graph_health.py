"""``GraphCalendar.health``: one cheap Graph call for an officer's mailbox, its answer kept a minute, never raising;
and ``/healthz`` reporting Graph down as degraded (503), like the database."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from factories import make_world
from graph_stack import graph_settings

import tsm.adapters.calendar_graph as graph
from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import build_graph_calendar
from tsm.bootstrap import build_app
from tsm.server import build_web_app

EVENTS = "/v1.0/users/{user}/events"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _calendar(stack):
    cal = build_graph_calendar(stack.settings, stack.app.db)  # finds an officer's mailbox in the database
    ticks = Ticks()
    cal._monotonic = ticks
    return cal, ticks


async def test_health_is_one_cheap_call_kept_a_minute(stack):
    cal, ticks = _calendar(stack)
    try:
        before = stack.emulator.count("GET", EVENTS)
        answers = await asyncio.gather(
            *(cal.health() for _ in range(5))
        )  # concurrent /healthz polls share it
        assert all(a["ok"] is True and a["detail"] == "ok" for a in answers)
        assert stack.emulator.count("GET", EVENTS) == before + 1
        ticks.now += 59
        assert (await cal.health())["ok"] is True
        assert stack.emulator.count("GET", EVENTS) == before + 1  # cached: Graph is not asked again
        ticks.now += 2
        assert (await cal.health())["ok"] is True
        assert stack.emulator.count("GET", EVENTS) == before + 2
        assert "ann@la.example" not in str(answers[0])  # the officer's address is not reported
    finally:
        await cal.close()


async def test_health_reports_graph_down_refusing_or_slow_without_raising(stack, monkeypatch):
    cal, ticks = _calendar(stack)
    try:
        stack.emulator.fail("GET", r"/users/[^/]+/events$", status=503, count=50)
        down = await cal.health()
        assert down["ok"] is False and down["detail"] == "unreachable"
        stack.emulator.clear_faults()
        assert (await cal.health())["ok"] is False  # still the cached answer within the minute
        ticks.now += 61
        assert (await cal.health())["ok"] is True  # Graph back: the next check after the minute says so

        stack.emulator.fail("GET", r"/users/[^/]+/events$", status=403, count=50)
        ticks.now += 61
        refused = await cal.health()
        assert refused["ok"] is False and refused["detail"] == "refused"
        stack.emulator.clear_faults()

        monkeypatch.setattr(graph, "HEALTH_TIMEOUT", 0.3)
        stack.emulator.slow("GET", r"/users/[^/]+/events$", seconds=2, count=1)
        ticks.now += 61
        slow = await cal.health()
        assert slow["ok"] is False and "no answer within" in slow["detail"]
    finally:
        await cal.close()


async def test_health_with_no_officer_mailbox_yet_is_ok_and_calls_nothing(stack):
    cal = build_graph_calendar(stack.settings)  # no database, nothing called yet: no mailbox to check
    try:
        before = stack.emulator.count()
        answer = await cal.health()
        assert answer["ok"] is True and "no officer mailbox" in answer["detail"]
        assert stack.emulator.count() == before
    finally:
        await cal.close()


async def test_healthz_is_503_degraded_when_graph_fails(sqlite_url):
    emulator = GraphEmulator()
    await emulator.start()
    try:
        app = build_app(graph_settings(sqlite_url, emulator, run_scheduler=False))
        await make_world(app.db)
        client = TestClient(TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1"))
        await client.start_server()
        try:
            r = await client.get("/healthz")
            body = await r.json()
            assert r.status == 200 and body["status"] == "ok"
            assert body["graph"]["configured"] is True and body["graph"]["ok"] is True
            assert body["graph"]["detail"] == "ok"

            emulator.fail("GET", r"/users/[^/]+/events$", status=503, count=50)
            app.calendar._health = None  # the minute has passed
            r = await client.get("/healthz")
            body = await r.json()
            assert r.status == 503 and body["status"] == "degraded"
            assert body["graph"]["ok"] is False and body["graph"]["detail"] == "unreachable"
            assert body["database"]["ok"] is True
        finally:
            await client.close()
            await app.close()
    finally:
        await emulator.stop()
