"""The web page's fixtures: the demo LA behind the real server (build_web_app), the clock pinned to a Tuesday of
the demo's autumn term, and a browser-like client per person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer
from pagekit import WebUser
from sqlmodel import select

from tsm.adapters.db.directory import SchoolContact
from tsm.bootstrap import build_app
from tsm.clock import FixedClock, local_today
from tsm.demo import load_demo
from tsm.server import build_web_app
from tsm.settings import Settings


class Site:
    def __init__(self, app, server) -> None:
        self.app, self.server = app, server
        self.clients: list[TestClient] = []

    async def user(self) -> WebUser:
        client = TestClient(self.server, cookie_jar=CookieJar(unsafe=True))
        await client.start_server()
        self.clients.append(client)
        return WebUser(client)

    async def bookable_lead(self, skip_school: int | None = None) -> SchoolContact:
        """An attendance lead whose school books by itself (the demo has contacted-directly schools too)."""
        from tsm.chat.router import Incoming, Who
        from tsm.services.actors import Actor

        async with self.app.db.reader() as s:
            contacts = list(
                await s.exec(
                    select(SchoolContact)
                    .where(SchoolContact.role == "attendance_lead")
                    .order_by(SchoolContact.id)
                )
            )
        from tsm.chat.app import build_router

        router = build_router()
        for c in contacts:
            if c.school_id == skip_school:
                continue
            actor = Actor("contact", c.id, c.school_id, c.name)

            async def ident(_w, actor=actor):
                return actor

            reply = await router.dispatch(
                Incoming(who=Who(channel_user_id=f"probe:{c.id}"), verb="book.start", data={}),
                identify=ident,
                services=self.app,
                clock=self.app.clock,
            )
            if reply.card and "book.pick_mode" in str(reply.card):
                return c
        raise AssertionError("no demo school can book by itself")


@pytest.fixture
async def site(sqlite_url, tmp_path):
    app = build_app(
        Settings(
            database_url=sqlite_url,
            _env_file=None,
            run_scheduler=False,
            invitations_dir=str(tmp_path / "inv"),
            mail_dir=str(tmp_path / "mail"),
        ),
        clock=FixedClock(datetime(2026, 11, 10, 9, tzinfo=UTC)),
    )
    await load_demo(app.db, today=local_today(app.clock))
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    await server.start_server()
    s = Site(app, server)
    yield s
    for c in s.clients:
        await c.close()
    await server.close()
    await app.close()
