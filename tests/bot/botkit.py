"""Helpers for the transport tests (fixtures in conftest.py): the transport under test: the real aiohttp server and CloudAdapter, a fake Bot Connector, literal Teams activities.

``FakeConnector`` is a local aiohttp server standing in for the Bot Connector at the activities' ``serviceUrl``:
it records every activity the bot sends, answers the roster lookup from ``members``, and can be told to fail the
next sends (``fail_next``) with a status, headers and an error code.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from factories import make_world

from tsm.bootstrap import build_app
from tsm.chat import Reply, Router
from tsm.settings import Settings

TENANT = "11111111-2222-3333-4444-555555555555"
BOT_ID = "28:bot-app-id"


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict


@dataclass
class FakeConnector:
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, dict] = field(default_factory=dict)  # user id -> TeamsChannelAccount JSON
    roster_calls: int = 0
    fail_next: list[tuple[int, dict, str]] = field(default_factory=list)  # (status, headers, error code)
    attempts: int = 0
    auth_headers: list[str] = field(default_factory=list)  # Authorization of every call the bot made
    url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        a = web.Application()
        a.add_routes([web.post("/v3/conversations/{cid}/activities/{aid}", self._send),
                      web.post("/v3/conversations/{cid}/activities", self._send),
                      web.get("/v3/conversations/{cid}/members/{mid}", self._member)])
        return a

    async def _send(self, request: web.Request) -> web.Response:
        self.attempts += 1
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if self.fail_next:
            status, headers, code = self.fail_next.pop(0)
            return web.json_response({"error": {"code": code, "message": "refused by the fake"}}, status=status,
                                     headers=headers)
        body = await request.json()
        self.sent.append(Sent(request.match_info["cid"], request.match_info.get("aid"), body))
        return web.json_response({"id": f"reply-{next(self._ids)}"})

    async def _member(self, request: web.Request) -> web.Response:
        self.roster_calls += 1
        self.auth_headers.append(request.headers.get("Authorization", ""))
        m = self.members.get(request.match_info["mid"])
        if m is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "no"}}, status=404)
        return web.json_response(m)

    def texts(self) -> list[str]:
        return [s.activity.get("text") or "" for s in self.sent]

    def cards(self) -> list[dict]:
        out = []
        for s in self.sent:
            for a in s.activity.get("attachments") or []:
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                    out.append(a["content"])
        return out


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
        return Reply(text="Here is your card", card={"type": "AdaptiveCard", "version": "1.5",
                                                     "body": [{"type": "TextBlock", "text": f"n={n!r}"}]})

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
        return Reply(text="Booked.", files=(("tsm-invitation.ics", "text/calendar",
                                             b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),))

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
        return await self.client.post("/api/messages", json=activity,
                                      headers=headers or {})

    async def drain(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0.01)


async def make_harness(url: str, connector: FakeConnector, *, router: Router | None = None, counter=None,
                       world: bool = True, bot_options: dict | None = None, **settings_kw) -> Harness:
    settings = Settings(database_url=url, _env_file=None, run_scheduler=False, **settings_kw)
    app = build_app(settings)
    w = await make_world(app.db) if world else None
    counter = counter or Counter()
    from tsm.server import RUNTIME_KEY, build_web_app

    web_app = build_web_app(app, router=router or make_test_router(counter), run_scheduler=False,
                            bot_options=bot_options)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return Harness(client, app, web_app[RUNTIME_KEY], connector, counter, w)


# ---------------------------------------------------------------------- literal Teams activities

_ids = itertools.count(1000)


def _base(connector: FakeConnector, *, conv: str, user_id: str, aad: str | None, name: str, tenant: str) -> dict:
    frm = {"id": user_id, "name": name}
    if aad:
        frm["aadObjectId"] = aad
    return {
        "id": f"f:{next(_ids)}",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "localTimestamp": "2026-11-25T10:00:00.000+00:00",
        "localTimezone": "Europe/London",
        "serviceUrl": connector.url,
        "channelId": "msteams",
        "from": frm,
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conv},
        "recipient": {"id": BOT_ID, "name": "TSM bot"},
        "entities": [{"locale": "en-GB", "country": "GB", "platform": "Web", "timezone": "Europe/London",
                      "type": "clientInfo"}],
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-GB",
    }


def message(connector, text: str, *, conv="a:conv-1", user_id="29:user-1", aad="aad-1", name="Lee Lead",
            tenant=TENANT, value: dict | None = None, id: str | None = None) -> dict:
    a = _base(connector, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(type="message", text=text, textFormat="plain")
    if value is not None:
        a["value"] = value
    if id:
        a["id"] = id
    return a


def invoke(connector, verb: str, data: dict | None = None, *, conv="a:conv-1", user_id="29:user-1", aad="aad-1",
           name="Lee Lead", tenant=TENANT, id: str | None = None, action_type="Action.Execute") -> dict:
    a = _base(connector, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(type="invoke", name="adaptiveCard/action",
             value={"action": {"type": action_type, "id": "act-1", "verb": verb, "data": data or {}},
                    "trigger": "manual"})
    if id:
        a["id"] = id
    return a


def installation_update(connector, action="add", *, conv="a:conv-1", user_id="29:user-1", aad="aad-1",
                        name="Lee Lead", tenant=TENANT) -> dict:
    a = _base(connector, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(type="installationUpdate", action=action)
    return a


def conversation_update(connector, *, conv="a:conv-1", user_id="29:user-1", aad="aad-1", name="Lee Lead",
                        tenant=TENANT, removed=False) -> dict:
    a = _base(connector, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a["type"] = "conversationUpdate"
    a["membersRemoved" if removed else "membersAdded"] = [{"id": BOT_ID}]
    a["channelData"] = {"tenant": {"id": tenant}, "eventType": "teamMemberAdded"}
    return a


def member(user_id: str, email: str, aad: str, name: str = "Lee Lead") -> dict:
    return {"id": user_id, "name": name, "aadObjectId": aad, "email": email, "userPrincipalName": email,
            "tenantId": TENANT, "userRole": "user"}
