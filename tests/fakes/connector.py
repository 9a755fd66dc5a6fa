"""The fake Bot Connector and literal Teams activities: the bot's server and CloudAdapter under test are real.

:class:`FakeConnector` is a local aiohttp server standing in for the Bot Connector at the activities'
``serviceUrl``. It records every activity the bot sends (replies and proactive messages) and every send it was
asked for (``attempts``, per conversation), answers the roster lookup from ``members`` (counting the lookups in
``roster_calls``), keeps the ``Authorization`` of every call (``auth_headers``), and can be told to

- refuse the next sends, to anyone (``fail_next``) or to one conversation (``fail_plan``), with a status, headers
  and an error code;
- hang the next sends (``hang_next``) until the test sets ``release``; ``hung`` is set once one hangs.

It runs in the test's event loop (``app()`` on an aiohttp ``TestServer``, see ``tests/bot/conftest.py``) or in a
thread of its own (:class:`ThreadServer`) for servers in other processes; it is thread-safe for that.

The activity builders (``message``, ``invoke``, ``installation_update``, ``conversation_update``, ``member``)
take the connector, or its URL, as where the bot is to answer.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TENANT = "11111111-2222-3333-4444-555555555555"
BOT_ID = "28:bot-app-id"

Failure = tuple[int, dict, str]  # (status, headers, error code)


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict


@dataclass
class FakeConnector:
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, dict] = field(default_factory=dict)  # user id -> TeamsChannelAccount JSON
    url: str = ""
    fail_next: list[Failure] = field(default_factory=list)  # answers to give the next sends, to anyone
    fail_plan: dict[str, list[Failure]] = field(default_factory=dict)  # the same, per conversation id
    attempts: Counter = field(default_factory=Counter)  # sends asked for, per conversation (.total(): all)
    roster_calls: int = 0
    auth_headers: list[str] = field(default_factory=list)  # Authorization of every call the bot made
    hang_next: int = 0  # the next N sends hang (never answered while the test runs) and are not recorded
    hung: threading.Event = field(default_factory=threading.Event)  # set when a send is hanging
    release: threading.Event = field(
        default_factory=threading.Event
    )  # set to let hanging sends end (with a 503)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        a = web.Application()
        a.add_routes(
            [
                web.post("/v3/conversations/{cid}/activities/{aid}", self._send),
                web.post("/v3/conversations/{cid}/activities", self._send),
                web.post("/v3/conversations", self._create),
                web.get("/v3/conversations/{cid}/members/{mid}", self._member),
            ]
        )
        return a

    async def _send(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        with self._lock:
            self.attempts[cid] += 1
            self.auth_headers.append(request.headers.get("Authorization", ""))
            plan = self.fail_plan.get(cid)
            failure = plan.pop(0) if plan else self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            status, headers, code = failure
            return web.json_response(
                {"error": {"code": code, "message": "refused by the fake connector"}},
                status=status,
                headers=headers,
            )
        body = await request.json()
        with self._lock:
            hang = self.hang_next > 0
            self.hang_next -= hang
        if hang:
            self.hung.set()
            await asyncio.to_thread(self.release.wait)  # a threading.Event: set from the test's thread
            return web.json_response({"error": {"code": "ServiceUnavailable", "message": "hung"}}, status=503)
        with self._lock:
            self.sent.append(Sent(cid, request.match_info.get("aid"), body))
        return web.json_response({"id": f"reply-{next(self._ids)}"})

    async def _create(self, request: web.Request) -> web.Response:
        with self._lock:
            self.auth_headers.append(request.headers.get("Authorization", ""))
        return web.json_response({"id": f"a:created-{next(self._ids)}", "activityId": ""})

    async def _member(self, request: web.Request) -> web.Response:
        with self._lock:
            self.roster_calls += 1
            self.auth_headers.append(request.headers.get("Authorization", ""))
        m = self.members.get(request.match_info["mid"])
        if m is None:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation", "message": "no"}}, status=404
            )
        return web.json_response(m)

    def snapshot(self) -> list[Sent]:
        """What was sent so far (a copy: safe while a thread of the connector appends)."""
        with self._lock:
            return list(self.sent)

    def texts(self) -> list[str]:
        return [s.activity.get("text") or "" for s in self.snapshot()]

    def cards(self) -> list[dict]:
        out = []
        for s in self.snapshot():
            for a in s.activity.get("attachments") or []:
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                    out.append(a["content"])
        return out


class ThreadServer:
    """Runs aiohttp applications on loopback in an event loop of their own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._runners: list[web.AppRunner] = []

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serve(self, app: web.Application, port: int = 0) -> str:
        async def start() -> str:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
            self._runners.append(runner)
            return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

        return self.run(start())

    def close(self) -> None:
        async def stop() -> None:
            for r in reversed(self._runners):
                await r.cleanup()

        try:
            self.run(stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


# ---------------------------------------------------------------------- literal Teams activities

_ids = itertools.count(1000)
_NO_DATA: Any = object()


def _base(
    to: FakeConnector | str, *, conv: str, user_id: str, aad: str | None, name: str, tenant: str
) -> dict:
    frm: dict[str, Any] = {"id": user_id, "name": name}
    if aad:
        frm["aadObjectId"] = aad
    return {
        "id": f"f:{next(_ids)}",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "localTimestamp": "2026-11-25T10:00:00.000+00:00",
        "localTimezone": "Europe/London",
        "serviceUrl": to if isinstance(to, str) else to.url,
        "channelId": "msteams",
        "from": frm,
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conv},
        "recipient": {"id": BOT_ID, "name": "TSM bot"},
        "entities": [
            {
                "locale": "en-GB",
                "country": "GB",
                "platform": "Web",
                "timezone": "Europe/London",
                "type": "clientInfo",
            }
        ],
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-GB",
    }


def message(
    to: FakeConnector | str,
    text: str,
    *,
    conv="a:conv-1",
    user_id="29:user-1",
    aad: str | None = "aad-1",
    name="Lee Lead",
    tenant=TENANT,
    value: Any = None,
    id: str | None = None,
) -> dict:
    a = _base(to, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(type="message", text=text, textFormat="plain")
    if value is not None:
        a["value"] = value
    if id:
        a["id"] = id
    return a


def invoke(
    to: FakeConnector | str,
    verb: Any,
    data: Any = _NO_DATA,
    *,
    conv="a:conv-1",
    user_id="29:user-1",
    aad: str | None = "aad-1",
    name="Lee Lead",
    tenant=TENANT,
    id: str | None = None,
    action_type="Action.Execute",
) -> dict:
    """An ``adaptiveCard/action`` invoke; ``verb`` and ``data`` are sent as given (the fuzz tests send anything)."""
    a = _base(to, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(
        type="invoke",
        name="adaptiveCard/action",
        value={
            "action": {
                "type": action_type,
                "id": "act-1",
                "verb": verb,
                "data": {} if data is _NO_DATA else data,
            },
            "trigger": "manual",
        },
    )
    if id:
        a["id"] = id
    return a


def installation_update(
    to: FakeConnector | str,
    action="add",
    *,
    conv="a:conv-1",
    user_id="29:user-1",
    aad: str | None = "aad-1",
    name="Lee Lead",
    tenant=TENANT,
) -> dict:
    a = _base(to, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a.update(type="installationUpdate", action=action)
    return a


def conversation_update(
    to: FakeConnector | str,
    *,
    conv="a:conv-1",
    user_id="29:user-1",
    aad: str | None = "aad-1",
    name="Lee Lead",
    tenant=TENANT,
    removed=False,
) -> dict:
    a = _base(to, conv=conv, user_id=user_id, aad=aad, name=name, tenant=tenant)
    a["type"] = "conversationUpdate"
    a["membersRemoved" if removed else "membersAdded"] = [{"id": BOT_ID}]
    a["channelData"] = {"tenant": {"id": tenant}, "eventType": "teamMemberAdded"}
    return a


def member(user_id: str, email: str, aad: str, name: str = "Lee Lead") -> dict:
    """The roster's answer for one user (``FakeConnector.members[user_id] = member(...)``)."""
    return {
        "id": user_id,
        "name": name,
        "aadObjectId": aad,
        "email": email,
        "userPrincipalName": email,
        "tenantId": TENANT,
        "userRole": "user",
    }
