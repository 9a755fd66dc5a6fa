"""The Graph emulator, driven through the real msgraph-sdk over HTTP (as the Graph adapter will be)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import web
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph_core import GraphClientFactory

from dev.graph_emulator import GraphEmulator

ROOT = Path(__file__).resolve().parents[2]  # the project root: where `python -m dev.graph_emulator` runs
OFFICER = "jo.bloggs@la.example.gov.uk"
OTHER = "sam.smith@la.example.gov.uk"
DAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday

# msgraph-sdk 1.65's request builders warn about their own deprecated per-builder configuration classes.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


def at(hour: float, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hour)


def dttz(value: datetime) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=value.strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC")


@pytest.fixture
async def emulator():
    emu = GraphEmulator(notification_retry_delays=(0.2,))
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def graph(emulator: GraphEmulator):
    """The SDK as platform.md builds it against a local Graph: default middleware, so retries are on."""
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(timeout=15))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = emulator.graph_url
    yield GraphServiceClient(request_adapter=adapter)
    await http.aclose()


class Receiver:
    """A notification endpoint: answers Graph's validation handshake and records notifications."""

    def __init__(self, *, echo_token: bool = True) -> None:
        self.echo_token = echo_token
        self.validations: list[str] = []
        self.notifications: list[dict] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            self.validations.append(token)
            if not self.echo_token:
                return web.Response(status=404)
            return web.Response(text=token, content_type="text/plain")
        self.notifications.extend((await request.json())["value"])
        self.arrived.set()
        return web.Response(status=202)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/notify"
        return self

    async def wait_for(self, predicate, within: float = 5.0) -> dict:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for item in self.notifications:
                if predicate(item):
                    return item
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.2)
        raise AssertionError(f"no matching notification in {self.notifications}")

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


@pytest.fixture
async def receiver():
    rec = await Receiver().start()
    yield rec
    await rec.stop()


def schedule_body(
    schedules: list[str], start: datetime, end: datetime, interval: int = 30
) -> GetSchedulePostRequestBody:
    return GetSchedulePostRequestBody(
        schedules=schedules, start_time=dttz(start), end_time=dttz(end), availability_view_interval=interval
    )


async def test_get_schedule_through_the_sdk(emulator: GraphEmulator, graph: GraphServiceClient):
    emulator.seed_event(OFFICER, subject="Team meeting", start=at(9), end=at(10), show_as="busy")
    emulator.seed_event(OFFICER, subject="Maybe", start=at(10.5), end=at(11), show_as="tentative")
    emulator.seed_event(OFFICER, subject="Leave", start=at(13), end=at(14), show_as="oof")
    emulator.seed_event(OFFICER, subject="Reminder", start=at(15), end=at(16), show_as="free")
    emulator.seed_event(OFFICER, subject="Next day", start=at(33), end=at(34))

    result = await graph.users.by_user_id(OFFICER).calendar.get_schedule.post(
        schedule_body([OFFICER, OTHER], at(9), at(17))
    )

    mine, theirs = result.value
    assert mine.schedule_id == OFFICER
    assert mine.availability_view == "2201000033000000"
    assert [(i.status, i.subject) for i in mine.schedule_items] == [
        (FreeBusyStatus.Busy, "Team meeting"),
        (FreeBusyStatus.Tentative, "Maybe"),
        (FreeBusyStatus.Oof, "Leave"),
        (FreeBusyStatus.Free, "Reminder"),
    ]
    assert mine.schedule_items[0].start.date_time.startswith("2026-11-02T09:00:00")
    assert mine.working_hours.days_of_week
    assert theirs.availability_view == "0" * 16 and theirs.schedule_items == []
    # What msgraph-sdk really sends: PascalCase parameter names (Graph's docs show camelCase).
    sent = [r for r in emulator.requests if r["route"].endswith("/getSchedule")][-1]["body"]
    assert set(sent) == {"Schedules", "StartTime", "EndTime", "AvailabilityViewInterval"}


async def test_get_schedule_accepts_documented_camel_case(emulator: GraphEmulator):
    emulator.seed_event(OFFICER, start=at(9), end=at(9.5))
    body = {
        "schedules": [OFFICER],
        "startTime": {"dateTime": "2026-11-02T09:00:00", "timeZone": "GMT Standard Time"},
        "endTime": {"dateTime": "2026-11-02T10:00:00", "timeZone": "GMT Standard Time"},
        "availabilityViewInterval": 15,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.graph_url}/users/{OFFICER}/calendar/getschedule",
            json=body,
            headers={"Prefer": 'outlook.timezone="GMT Standard Time"'},
        ) as resp,
    ):
        assert resp.status == 200
        data = await resp.json()
    info = data["value"][0]
    assert data["@odata.context"].endswith("$metadata#Collection(microsoft.graph.scheduleInformation)")
    assert info["availabilityView"] == "2200"
    assert info["scheduleItems"][0]["start"] == {
        "dateTime": "2026-11-02T09:00:00.0000000",
        "timeZone": "GMT Standard Time",
    }


async def test_get_schedule_limits(graph: GraphServiceClient):
    too_many = [f"officer{i}@la.example.gov.uk" for i in range(21)]
    with pytest.raises(ODataError) as err:
        await graph.users.by_user_id(OFFICER).calendar.get_schedule.post(
            schedule_body(too_many, at(9), at(17))
        )
    assert err.value.response_status_code == 400

    with pytest.raises(ODataError) as err:
        await graph.users.by_user_id(OFFICER).calendar.get_schedule.post(
            schedule_body([OFFICER], DAY, DAY + timedelta(days=63))
        )
    assert err.value.response_status_code == 400
    assert err.value.error.code == "ErrorTimeIntervalTooBig"

    ok = await graph.users.by_user_id(OFFICER).calendar.get_schedule.post(
        schedule_body(too_many[:20], DAY, DAY + timedelta(days=61), interval=1440)
    )
    assert len(ok.value) == 20 and ok.value[0].availability_view == "0" * 61


def new_event(
    subject: str = "TSM: Example Primary",
    *,
    transaction_id: str | None = None,
    online: bool = False,
    attendees: tuple[str, ...] = (),
) -> Event:
    return Event(
        subject=subject,
        start=dttz(at(10)),
        end=dttz(at(11)),
        transaction_id=transaction_id,
        is_online_meeting=online or None,
        online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness if online else None,
        attendees=[Attendee(email_address=EmailAddress(address=a, name=a)) for a in attendees] or None,
    )


async def test_lost_answer_after_create_is_retried_and_transaction_id_prevents_a_duplicate(
    emulator: GraphEmulator, graph: GraphServiceClient
):
    emulator.fail("POST", r"/users/[^/]+/events$", status=503, after_perform=True, retry_after=1)

    created = await graph.users.by_user_id(OFFICER).events.post(new_event(transaction_id="tsm-42-0"))

    posts = [r for r in emulator.requests if r["method"] == "POST"]
    assert [p["status"] for p in posts] == [503, 201]
    assert posts[1]["retryAttempt"] == "1"  # the SDK's RetryHandler, not us
    events = emulator.events(OFFICER)
    assert len(events) == 1 and events[0]["id"] == created.id and events[0]["transactionId"] == "tsm-42-0"


async def test_without_transaction_id_the_sdk_retry_duplicates(
    emulator: GraphEmulator, graph: GraphServiceClient
):
    emulator.fail("POST", r"/users/[^/]+/events$", status=503, after_perform=True, retry_after=1)
    await graph.users.by_user_id(OFFICER).events.post(new_event())
    assert len(emulator.events(OFFICER)) == 2


async def test_429_is_retried_after_retry_after(emulator: GraphEmulator, graph: GraphServiceClient):
    seeded = emulator.seed_event(OFFICER, start=at(9), end=at(10))
    emulator.throttle("GET", r"/events/", retry_after=1)

    started = time.monotonic()
    event = await graph.users.by_user_id(OFFICER).events.by_event_id(seeded["id"]).get()

    assert time.monotonic() - started >= 1.0
    assert event.id == seeded["id"]
    assert emulator.counters()[("GET", "/v1.0/users/{user}/events/{event}")] == 2
    assert [r["status"] for r in emulator.requests] == [429, 200]


async def test_join_url_arrives_late(emulator: GraphEmulator, graph: GraphServiceClient):
    emulator.join_url_after_reads = 1

    created = await graph.users.by_user_id(OFFICER).events.post(new_event(online=True))
    assert created.is_online_meeting and created.online_meeting is None

    again = await graph.users.by_user_id(OFFICER).events.by_event_id(created.id).get()
    assert again.online_meeting.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")


async def test_attendee_decline_is_visible_on_get(emulator: GraphEmulator, graph: GraphServiceClient):
    created = await graph.users.by_user_id(OFFICER).events.post(
        new_event(attendees=("head@school.example.org", "senco@school.example.org"))
    )
    assert created.attendees[0].status.response == ResponseType.None_

    emulator.set_response(OFFICER, created.id, "HEAD@school.example.org", "declined")

    event = await graph.users.by_user_id(OFFICER).events.by_event_id(created.id).get()
    responses = {a.email_address.address: a.status.response for a in event.attendees}
    assert responses == {
        "head@school.example.org": ResponseType.Declined,
        "senco@school.example.org": ResponseType.None_,
    }


async def test_delta_pages_then_reports_changes_and_removals(
    emulator: GraphEmulator, graph: GraphServiceClient
):
    from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

    first = emulator.seed_event(OFFICER, subject="one", start=at(9), end=at(10))
    second = emulator.seed_event(OFFICER, subject="two", start=at(11), end=at(12))
    emulator.seed_event(OFFICER, subject="outside the window", start=at(9 + 24 * 10), end=at(10 + 24 * 10))
    delta = graph.users.by_user_id(OFFICER).calendar_view.delta
    config = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=DAY.isoformat(), end_date_time=(DAY + timedelta(days=7)).isoformat()
        )
    )
    config.headers.add("Prefer", "odata.maxpagesize=1")

    page = await delta.get(config)
    seen = [e.id for e in page.value]
    while page.odata_next_link:
        page = await delta.with_url(page.odata_next_link).get()
        seen += [e.id for e in page.value]
    assert seen == [first["id"], second["id"]] and page.odata_delta_link

    emulator.move_event(OFFICER, first["id"], at(14), at(15))  # the officer, in Outlook
    emulator.delete_event(OFFICER, second["id"])
    created = await graph.users.by_user_id(OFFICER).events.post(new_event())

    changes = await delta.with_url(page.odata_delta_link).get()
    by_id = {e.id: e for e in changes.value}
    assert set(by_id) == {first["id"], second["id"], created.id}
    assert by_id[first["id"]].start.date_time.startswith("2026-11-02T14:00:00")
    assert by_id[second["id"]].additional_data["@removed"] == {"reason": "deleted"}
    assert "@removed" not in by_id[created.id].additional_data

    quiet = await delta.with_url(changes.odata_delta_link).get()
    assert quiet.value == [] and quiet.odata_delta_link


async def test_subscription_handshake_and_notifications(
    emulator: GraphEmulator, graph: GraphServiceClient, receiver: Receiver
):
    sub = await graph.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=receiver.url,
            resource=f"users/{OFFICER}/events",
            expiration_date_time=datetime.now(UTC) + timedelta(minutes=60),
            client_state="s3cret",
        )
    )
    assert len(receiver.validations) == 1 and receiver.validations[0].startswith("Validation: ")
    assert sub.id and sub.client_state == "s3cret"

    created = await graph.users.by_user_id(OFFICER).events.post(
        new_event(attendees=("head@school.example.org",))
    )
    note = await receiver.wait_for(lambda n: n["changeType"] == "created")
    assert note["subscriptionId"] == sub.id and note["clientState"] == "s3cret"
    assert note["resource"] == f"Users/{emulator.user_id(OFFICER)}/Events/{created.id}"
    assert note["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert note["resourceData"]["id"] == created.id and note["tenantId"] == emulator.tenant_id

    emulator.set_response(OFFICER, created.id, "head@school.example.org", "accepted")
    await receiver.wait_for(lambda n: n["changeType"] == "updated" and n["resourceData"]["id"] == created.id)

    await graph.users.by_user_id(OFFICER).events.by_event_id(created.id).delete()
    await receiver.wait_for(lambda n: n["changeType"] == "deleted")
    assert [n["changeType"] for n in receiver.notifications] == ["created", "updated", "deleted"]


async def test_subscription_refused_when_the_handshake_fails(
    emulator: GraphEmulator, graph: GraphServiceClient
):
    rec = await Receiver(echo_token=False).start()
    try:
        with pytest.raises(ODataError) as err:
            await graph.subscriptions.post(
                Subscription(
                    change_type="created",
                    notification_url=rec.url,
                    resource=f"users/{OFFICER}/events",
                    expiration_date_time=datetime.now(UTC) + timedelta(minutes=60),
                )
            )
        assert err.value.response_status_code == 400 and err.value.error.code == "ValidationError"
        assert emulator.subscriptions() == []
    finally:
        await rec.stop()


async def test_subscription_renewal_beyond_4230_minutes_is_refused(
    graph: GraphServiceClient, receiver: Receiver
):
    sub = await graph.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=receiver.url,
            resource=f"users/{OFFICER}/events",
            expiration_date_time=datetime.now(UTC) + timedelta(minutes=60),
        )
    )

    with pytest.raises(ODataError) as err:
        await graph.subscriptions.by_subscription_id(sub.id).patch(
            Subscription(expiration_date_time=datetime.now(UTC) + timedelta(minutes=4240))
        )
    assert err.value.response_status_code == 400 and err.value.error.code == "ExtensionError"
    assert "4230 minutes" in err.value.error.message

    wanted = datetime.now(UTC) + timedelta(minutes=4200)
    renewed = await graph.subscriptions.by_subscription_id(sub.id).patch(
        Subscription(expiration_date_time=wanted)
    )
    assert abs(renewed.expiration_date_time - wanted) < timedelta(seconds=1)


async def test_forbidden_mailbox_answers_403_access_denied(
    emulator: GraphEmulator, graph: GraphServiceClient
):
    emulator.set_forbidden(OTHER)
    with pytest.raises(ODataError) as err:
        await graph.users.by_user_id(OTHER).events.post(new_event())
    assert err.value.response_status_code == 403
    assert err.value.error.code == "ErrorAccessDenied"
    assert emulator.events(OTHER) == []


async def test_cancel_removes_the_organizers_copy(emulator: GraphEmulator, graph: GraphServiceClient):
    from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import CancelPostRequestBody

    created = await graph.users.by_user_id(OFFICER).events.post(
        new_event(attendees=("head@school.example.org",))
    )
    await (
        graph.users.by_user_id(OFFICER)
        .events.by_event_id(created.id)
        .cancel.post(CancelPostRequestBody(comment="The school asked to rearrange."))
    )
    assert emulator.events(OFFICER) == []
    assert emulator.cancellations[0]["comment"] == "The school asked to rearrange."  # the SDK sends "Comment"
    with pytest.raises(ODataError) as err:
        await graph.users.by_user_id(OFFICER).events.by_event_id(created.id).get()
    assert err.value.response_status_code == 404 and err.value.error.code == "ErrorItemNotFound"


async def test_control_api_over_http(emulator: GraphEmulator):
    control = emulator.base_url + "/_emulator"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{control}/mailboxes/{OFFICER}/events",
            json={
                "subject": "Busy",
                "start": {"dateTime": "2026-11-02T09:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-11-02T10:00:00", "timeZone": "UTC"},
            },
        ) as resp:
            assert resp.status == 201
            event_id = (await resp.json())["value"][0]["id"]
        async with http.post(
            f"{control}/faults",
            json={"method": "GET", "path": "/calendarView", "status": 504, "retryAfter": 2},
        ) as resp:
            assert resp.status == 201
        view = f"{emulator.graph_url}/users/{OFFICER}/calendarView?startDateTime=2026-11-02T00:00:00Z&endDateTime=2026-11-03T00:00:00Z"
        async with http.get(view) as resp:
            assert resp.status == 504 and resp.headers["Retry-After"] == "2"
            assert (await resp.json())["error"]["code"] == "GatewayTimeout"
        async with http.get(view) as resp:
            assert resp.status == 200
            assert [e["id"] for e in (await resp.json())["value"]] == [event_id]
        async with http.get(f"{control}/counters") as resp:
            counters = await resp.json()
        assert counters["value"] == [
            {"method": "GET", "route": "/v1.0/users/{user}/calendarView", "count": 2}
        ]
        async with http.put(f"{control}/mailboxes/{OFFICER}/forbidden", json={"forbidden": True}):
            pass
        async with http.get(view) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "ErrorAccessDenied"
        async with http.post(f"{control}/reset") as resp:
            assert resp.status == 200
        async with http.get(f"{control}/mailboxes/{OFFICER}/events") as resp:
            assert (await resp.json())["value"] == []


def test_runs_as_a_module():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dev.graph_emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert "Graph emulator: http://127.0.0.1:" in line
        graph_url = line.split()[2]
        with httpx.Client() as http:
            resp = http.get(f"{graph_url}/users/{OFFICER}")
        assert resp.status_code == 200 and json.loads(resp.text)["userPrincipalName"] == OFFICER
    finally:
        proc.terminate()
        proc.wait(timeout=5)
