"""``POST /api/graph/notifications`` (tsm.web.graph_notifications) over real HTTP: the validation handshake,
clientState checks, 202 before processing, and junk refused with 4xx, never 500."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from graph_stack import ANN, CLIENT_STATE
from sqlmodel import select

from tsm.adapters.calendar_graph import GraphWatcher
from tsm.adapters.db.meetings import MeetingAttendee
from tsm.ports import CalendarRef
from tsm.settings import Settings
from tsm.web.graph_notifications import PATH, GraphNotificationReceiver, graph_routes

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

SECRET = "the-real-client-state-9f8e7d6c5b4a"


class FakeWatcher:
    """Checks clientState with the real GraphWatcher.accepts; records what it is asked to handle."""

    def __init__(self, *, block: asyncio.Event | None = None, fail: bool = False) -> None:
        self._real = GraphWatcher.__new__(GraphWatcher)
        self._real._client_state = SECRET
        self.block = block
        self.fail = fail
        self.handled: list[list[dict]] = []
        self.started = asyncio.Event()

    def accepts(self, client_state: object) -> bool:
        return self._real.accepts(client_state)

    async def handle(self, items):
        self.started.set()
        if self.block is not None:
            await self.block.wait()
        if self.fail:
            raise RuntimeError("database is down")
        self.handled.append(items)
        return {"changes": len(items)}


@pytest.fixture
async def serve():
    runners = []

    async def start(routes) -> str:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}{PATH}"

    yield start
    for runner in runners:
        await runner.cleanup()


def item(client_state: str | None = SECRET, event_id: str = "AAMk1") -> dict:
    out = {
        "subscriptionId": "sub-1",
        "changeType": "updated",
        "resource": f"Users/u/Events/{event_id}",
        "resourceData": {"id": event_id},
        "tenantId": "t",
    }
    if client_state is not None:
        out["clientState"] = client_state
    return out


async def post(url: str, body: bytes | str, **kw) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, **kw) as resp:
        return resp.status, resp.content_type, await resp.text()


async def test_validation_handshake_echoes_the_token_as_plain_text(serve):
    watcher = FakeWatcher()
    url = await serve(graph_routes(watcher))
    token = "Validation: Testing client application reachability for subscription Request-Id: 1a2b&c=d"
    async with aiohttp.ClientSession() as http, http.post(url, params={"validationToken": token}) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert await resp.text() == token
    assert watcher.handled == [] and not watcher.started.is_set()


async def test_answers_202_before_processing_and_processes_afterwards(serve):
    release = asyncio.Event()
    watcher = FakeWatcher(block=release)
    receiver = GraphNotificationReceiver(watcher)
    url = await serve(receiver.routes())
    status, _, _ = await asyncio.wait_for(post(url, json.dumps({"value": [item()]})), 2)
    assert status == 202
    await asyncio.wait_for(watcher.started.wait(), 2)
    assert watcher.handled == [] and receiver.pending == 1  # still being processed, and referenced
    release.set()
    async with asyncio.timeout(2):
        await receiver.drain()
    assert [[i["resourceData"]["id"] for i in batch] for batch in watcher.handled] == [["AAMk1"]]
    assert receiver.pending == 0


async def test_bad_client_state_is_ignored_and_logged_without_the_secret_or_body(serve, caplog):
    watcher = FakeWatcher()
    receiver = GraphNotificationReceiver(watcher)
    url = await serve(receiver.routes())
    body = {
        "value": [
            item("guess", "AAMk-bad"),
            item(None, "AAMk-none"),
            item(SECRET, "AAMk-good"),
            item(SECRET[:-1], "AAMk-prefix"),
        ]
    }
    with caplog.at_level(logging.DEBUG, logger="tsm.web.graph_notifications"):
        status, _, _ = await post(url, json.dumps(body))
        async with asyncio.timeout(2):
            await receiver.drain()
    assert status == 202
    assert [[i["resourceData"]["id"] for i in batch] for batch in watcher.handled] == [["AAMk-good"]]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "3 Graph notification(s)" in warnings[0].getMessage()
    logged = caplog.text
    assert SECRET not in logged and "guess" not in logged and "AAMk" not in logged
    assert receiver.stats["rejected"] == 3 and receiver.stats["accepted"] == 1


async def test_only_bad_client_states_start_no_processing(serve, caplog):
    watcher = FakeWatcher()
    receiver = GraphNotificationReceiver(watcher)
    url = await serve(receiver.routes())
    with caplog.at_level(logging.WARNING, logger="tsm.web.graph_notifications"):
        status, _, _ = await post(url, json.dumps({"value": [item("wrong")]}))
    assert status == 202 and receiver.pending == 0 and not watcher.started.is_set()
    assert "clientState" in caplog.text


@pytest.mark.parametrize(
    "body,status",
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"value": "x"}', 400),
        (b'{"nothing": []}', 400),
        (b"\xff\xfe\x00", 400),
        ("[" * 100_000 + "]" * 100_000, 400),
    ],
)
async def test_malformed_bodies_answer_400_never_500(serve, body, status):
    watcher = FakeWatcher()
    url = await serve(graph_routes(watcher))
    got, content_type, _ = await post(url, body, headers={"Content-Type": "application/json"})
    assert got == status and content_type == "text/plain"
    assert not watcher.started.is_set()


async def test_oversized_bodies_answer_413_with_or_without_content_length(serve):
    watcher = FakeWatcher()
    url = await serve(graph_routes(watcher, max_body_bytes=2_000))
    big = json.dumps({"value": [item() for _ in range(50)]}).encode()
    assert len(big) > 2_000
    status, _, _ = await post(url, big)
    assert status == 413

    async def chunks():
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    status, _, _ = await post(url, chunks())  # chunked: no Content-Length to trust
    assert status == 413
    small = json.dumps({"value": [item()]})
    status, _, _ = await post(url, small)
    assert status == 202


async def test_a_failure_while_processing_is_logged_not_answered_500(serve, caplog):
    watcher = FakeWatcher(fail=True)
    receiver = GraphNotificationReceiver(watcher)
    url = await serve(receiver.routes())
    with caplog.at_level(logging.ERROR, logger="tsm.web.graph_notifications"):
        status, _, _ = await post(url, json.dumps({"value": [item()]}))
        async with asyncio.timeout(2):
            await receiver.drain()
    assert status == 202
    assert receiver.stats["failed"] == 1
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


async def test_the_server_can_own_the_background_tasks(serve):
    watcher = FakeWatcher()
    spawned = []

    def spawn(coro):
        task = asyncio.get_running_loop().create_task(coro)
        spawned.append(task)
        return task

    url = await serve(graph_routes(watcher, spawn=spawn))
    status, _, _ = await post(url, json.dumps({"value": [item()]}))
    assert status == 202 and len(spawned) == 1
    await asyncio.wait_for(spawned[0], 2)
    assert len(watcher.handled) == 1


async def test_the_emulator_s_notification_with_a_wrong_client_state_changes_nothing(stack, caplog):
    """End to end: a subscription whose clientState is not ours (e.g. left by another deployment) makes Graph
    post notifications we must not trust: the decline it reports is not applied."""
    result = await stack.book()
    event_id = (await stack.meeting(result.meeting.id)).calendar_event_id
    ref_officer = stack.world.officers["ann"]
    expires = stack.emulator.now() + timedelta(hours=1)
    await stack.calendar.create_subscription(
        CalendarRef(ref_officer, ANN), stack.notification_url, "not-ours", expires
    )
    head = result.meeting.attendees[0].email
    with caplog.at_level(logging.WARNING, logger="tsm.web.graph_notifications"):
        stack.emulator.set_response(ANN, event_id, head, "declined")
        await stack.settle(1)
    assert stack.emulator.notifications[-1]["status"] == 202
    assert stack.receiver.stats["rejected"] == 1 and stack.receiver.stats["accepted"] == 0
    assert "clientState" in caplog.text and CLIENT_STATE not in caplog.text and "not-ours" not in caplog.text
    async with stack.app.db.reader() as s:
        responses = {
            a.email: a.response
            for a in await s.exec(
                select(MeetingAttendee).where(MeetingAttendee.meeting_id == result.meeting.id)
            )
        }
    assert responses[head] == "none"


def test_the_watcher_refuses_everything_without_a_configured_secret():
    watcher = GraphWatcher.__new__(GraphWatcher)
    watcher._client_state = Settings(_env_file=None).graph_client_state.get_secret_value()
    assert watcher._client_state == ""
    assert not watcher.accepts("") and not watcher.accepts(None) and not watcher.accepts("anything")
