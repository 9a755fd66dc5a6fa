"""Helpers for the transport tests (fixtures in conftest.py): the transport under test, the real aiohttp server
and CloudAdapter, in front of the fake Bot Connector of ``fakes.connector`` (which also builds the literal Teams
activities the tests post); a small router to exercise it without the booking flows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from factories import make_world
from fakes.connector import FakeConnector

from tsm.bootstrap import build_app
from tsm.chat import Reply, Router
from tsm.settings import Settings


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def hit(self, key: str) -> None:
        self.calls[key] = self.calls.get(key, 0) + 1


def make_test_router(counter: Counter) -> Router:
    """A small router: enough to exercise the transport without the booking flows."""
    router = Router()

    @router.command("ping", help="answers pong")
    async def ping(ctx, data):
        counter.hit("ping")
        return Reply(text=f"pong {ctx.actor.kind}:{ctx.actor.id} tz={ctx.tz.key}")

    @router.verb("test.card")
    async def card(ctx, data):
        counter.hit("test.card")
        n = data.get("n")
        return Reply(
            text="Here is your card",
            card={
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": [{"type": "TextBlock", "text": f"n={n!r}"}],
            },
        )

    @router.verb("test.fail")
    async def fail(ctx, data):
        counter.hit("test.fail")
        raise RuntimeError("boom")

    @router.verb("test.change")
    async def change(ctx, data):
        """A real change that tells someone else: school staff ask to book (recorded as a domain event)."""
        counter.hit("test.change")
        await ctx.services.conversation.request_booking(ctx.actor, ctx.actor.school_id)
        return Reply(text="Your officer will be told.")

    @router.verb("test.file")
    async def file(ctx, data):
        counter.hit("test.file")
        return Reply(
            text="Booked.",
            files=(("tsm-invitation.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),),
        )

    return router


@dataclass
class Harness:
    client: TestClient
    app: Any
    runtime: Any
    connector: FakeConnector
    counter: Counter
    world: Any

    async def post(self, activity: dict, headers: dict | None = None):
        return await self.client.post("/api/messages", json=activity, headers=headers or {})

    async def drain(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0.01)


async def make_harness(
    url: str,
    connector: FakeConnector,
    *,
    router: Router | None = None,
    counter=None,
    world: bool = True,
    bot_options: dict | None = None,
    tenants: list[tuple[str, str, str]] = (),
    **settings_kw,
) -> Harness:
    """``tenants``: (tenant id, kind, ref) registered before the server starts (``tsm tenants add``)."""
    settings = Settings(database_url=url, _env_file=None, run_scheduler=False, **settings_kw)
    app = build_app(settings)
    w = await make_world(app.db) if world else None
    for tenant_id, kind, ref in tenants:
        await app.directory.tenants.add(tenant_id, kind, ref, actor="test")
    counter = counter or Counter()
    from tsm.server import RUNTIME_KEY, build_web_app

    web_app = build_web_app(
        app, router=router or make_test_router(counter), run_scheduler=False, bot_options=bot_options
    )
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return Harness(client, app, web_app[RUNTIME_KEY], connector, counter, w)


def production(connector: FakeConnector, tenant: str = "11111111-2222-3333-4444-555555555555") -> dict:
    """What a bot with an app id needs besides it (issue 12): its public URL, the serviceUrls it may answer (here
    the fake connector's) and a registered tenant (the LA's, and the school of the users the tests play)."""
    return {
        "public_url": "https://tsm.example",
        "teams_service_urls": [connector.url],
        "tenants": [(tenant, "la", "926"), (tenant, "school", "100001")],
    }
