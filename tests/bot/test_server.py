"""The server as a whole: the in-process scheduler, the Graph notification route, /healthz when things break."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from botkit import Counter, make_test_router

from dev.graph_emulator import GraphEmulator
from tsm.bootstrap import build_app
from tsm.server import STATE_KEY, build_web_app
from tsm.settings import Settings


async def _client(settings: Settings, **kw) -> tuple[TestClient, object]:
    app = build_app(settings)
    web_app = build_web_app(app, router=make_test_router(Counter()), **kw)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return client, app


def _tasks_left() -> list[asyncio.Task]:
    """Tasks still pending once the server and the app are closed: each would be cancelled by the loop's close,
    and one busy with a database connection could hang it (the server must wait for its own tasks)."""
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


async def test_scheduler_runs_in_process_and_stops_with_the_server(sqlite_url):
    client, app = await _client(
        Settings(database_url=sqlite_url, _env_file=None)
    )  # run_scheduler defaults on
    try:
        body = await (await client.get("/healthz")).json()
        assert body["status"] == "ok" and body["scheduler"] == {"enabled": True, "running": True}
        service = client.server.app[STATE_KEY]["scheduler"]
        assert service.running
    finally:
        await client.close()
        await app.close()
    assert not service.running
    assert _tasks_left() == []


async def test_healthz_is_503_when_the_database_is_unreachable():
    client, app = await _client(
        Settings(database_url="postgresql://postgres@127.0.0.1:9/none", _env_file=None), run_scheduler=False
    )
    try:
        r = await client.get("/healthz")
        body = await r.json()
        assert r.status == 503 and body["status"] == "degraded" and body["database"]["ok"] is False
    finally:
        await client.close()
        await app.close()


async def test_graph_notification_route_is_mounted_with_the_graph_calendar(sqlite_url):
    emulator = GraphEmulator()
    await emulator.start()
    settings = Settings(
        database_url=sqlite_url,
        _env_file=None,
        calendar_backend="graph",
        graph_base_url=emulator.graph_url,
        graph_notification_url="https://bot.example/api/graph/n",
        graph_client_state="a-long-random-client-state-for-the-test",
    )
    try:
        client, app = await _client(settings, run_scheduler=False)
        try:
            r = await client.post("/api/graph/notifications?validationToken=hello%20graph")
            assert r.status == 200 and await r.text() == "hello graph"
            health = await (await client.get("/healthz")).json()
            assert health["graph"]["configured"] is True and health["graph"]["notifications"] is True
        finally:
            await client.close()
            await app.close()
        # Without a notification URL there is no route.
        settings2 = settings.model_copy(update={"graph_notification_url": ""})
        client, app = await _client(settings2, run_scheduler=False)
        try:
            r = await client.post("/api/graph/notifications?validationToken=x")
            assert r.status in (404, 405)
        finally:
            await client.close()
            await app.close()
        assert _tasks_left() == []
    finally:
        await emulator.stop()
