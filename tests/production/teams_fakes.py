"""A fake Bot Connector and literal Teams activities, for the production tests (the server under test is real).

``FakeConnector`` stands in for the Bot Connector at the activities' ``serviceUrl``: it records every activity the
bot sends (replies and proactive messages), answers roster lookups from ``members``, and can run in the test's
event loop or in a thread of its own (``start_in_thread``) for servers in other processes.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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
    url: str = ""
    # conversation id -> answers to give its next sends instead of accepting them: (status, headers, error code)
    fail_plan: dict[str, list[tuple[int, dict, str]]] = field(default_factory=dict)
    attempts: Any = field(default_factory=lambda: __import__("collections").Counter())  # sends tried, per conversation
    hang_next: int = 0  # the next N sends hang (never answered while the test runs) and are not recorded
    hung: threading.Event = field(default_factory=threading.Event)  # set when a send is hanging
    release: threading.Event = field(default_factory=threading.Event)  # set to let hanging sends end (with a 503)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        a = web.Application()
        a.add_routes([web.post("/v3/conversations/{cid}/activities/{aid}", self._send),
                      web.post("/v3/conversations/{cid}/activities", self._send),
                      web.post("/v3/conversations", self._create),
                      web.get("/v3/conversations/{cid}/members/{mid}", self._member)])
        return a

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid = request.match_info["cid"]
        with self._lock:
            self.attempts[cid] += 1
            plan = self.fail_plan.get(cid)
            failure = plan.pop(0) if plan else None
        if failure is not None:
            status, headers, code = failure
            return web.json_response({"error": {"code": code, "message": "refused by the fake connector"}},
                                     status=status, headers=headers)
        with self._lock:
            hang = self.hang_next > 0
            self.hang_next -= hang
        if hang:
            self.hung.set()
            await asyncio.to_thread(self.release.wait)  # a threading.Event: set from the test's thread
            return web.json_response({"error": {"code": "ServiceUnavailable", "message": "hung"}}, status=503)
        with self._lock:
            self.sent.append(Sent(request.match_info["cid"], request.match_info.get("aid"), body))
        return web.json_response({"id": f"reply-{next(self._ids)}"})

    async def _create(self, request: web.Request) -> web.Response:
        return web.json_response({"id": f"a:created-{next(self._ids)}", "activityId": ""})

    async def _member(self, request: web.Request) -> web.Response:
        m = self.members.get(request.match_info["mid"])
        if m is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "no"}}, status=404)
        return web.json_response(m)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)


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


_ids = itertools.count(1000)


def base(service_url: str, *, conv: str, user_id: str, aad: str | None, name: str = "Someone",
         tenant: str = TENANT) -> dict:
    frm: dict[str, Any] = {"id": user_id, "name": name}
    if aad:
        frm["aadObjectId"] = aad
    return {
        "id": f"f:{next(_ids)}",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "localTimestamp": "2026-11-25T10:00:00.000+00:00",
        "localTimezone": "Europe/London",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": frm,
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conv},
        "recipient": {"id": BOT_ID, "name": "TSM bot"},
        "entities": [{"locale": "en-GB", "country": "GB", "platform": "Web", "timezone": "Europe/London",
                      "type": "clientInfo"}],
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-GB",
    }


def message(service_url: str, text: str, *, conv: str, user_id: str, aad: str | None, value: dict | None = None,
            **kw) -> dict:
    a = base(service_url, conv=conv, user_id=user_id, aad=aad, **kw)
    a.update(type="message", text=text, textFormat="plain")
    if value is not None:
        a["value"] = value
    return a


def invoke(service_url: str, verb: Any, data: Any, *, conv: str, user_id: str, aad: str | None, **kw) -> dict:
    a = base(service_url, conv=conv, user_id=user_id, aad=aad, **kw)
    a.update(type="invoke", name="adaptiveCard/action",
             value={"action": {"type": "Action.Execute", "id": "act-1", "verb": verb, "data": data},
                    "trigger": "manual"})
    return a


def installation_update(service_url: str, *, conv: str, user_id: str, aad: str | None, **kw) -> dict:
    a = base(service_url, conv=conv, user_id=user_id, aad=aad, **kw)
    a.update(type="installationUpdate", action="add")
    return a
