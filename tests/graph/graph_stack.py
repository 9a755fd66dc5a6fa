"""The whole Outlook path wired for tests: the Graph emulator, the real msgraph-sdk (GraphCalendar), the booking
service and calendar outbox on a migrated database, the GraphWatcher, and the notification route served over
HTTP so the emulator's change notifications go through it.

The emulator's clock is set to the services' clock (January 2026, the factories' Norfolk spring term), so
subscription expiry and the delta window agree with the meetings' dates.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from factories import World, local, make_world
from sqlmodel import select

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import GraphCalendar, GraphWatcher, build_graph_calendar
from tsm.adapters.db.meetings import Meeting
from tsm.bootstrap import App, build_app
from tsm.clock import FixedClock
from tsm.services.calendar_changes import CalendarChanges
from tsm.settings import Settings
from tsm.web.graph_notifications import GraphNotificationReceiver

NOW = local(2026, 1, 5, 8, 0)  # Monday before Norfolk's spring term (6 Jan - 27 Mar 2026)
CLIENT_STATE = "s3cret-client-state-0123456789abcdef"
ANN = "ann@la.example"
BOB = "bob@la.example"


@dataclass
class Stack:
    emulator: GraphEmulator
    settings: Settings
    clock: FixedClock
    app: App
    calendar: GraphCalendar
    watcher: GraphWatcher
    receiver: GraphNotificationReceiver
    world: World
    notification_url: str
    _runner: web.AppRunner

    async def book(self, school: str = "low_primary", at: datetime | None = None, **kw):
        """A school contact books (the booking service processes the outbox right after its commit)."""
        return await self.app.booking.book(
            self.world.contact(f"{school}.lead"),
            self.world.schools[school],
            at or local(2026, 1, 7, 10),
            **kw,
        )

    async def meeting(self, meeting_id: int) -> Meeting:
        async with self.app.db.reader() as s:
            return (await s.exec(select(Meeting).where(Meeting.id == meeting_id))).one()

    async def settle(self, notifications: int = 0) -> None:
        """Wait for ``notifications`` more deliveries (if asked), every queued one, then their processing."""
        if notifications:
            await self.emulator.wait_notifications(notifications, within=10)
        await self.emulator.drain(within=10)
        await self.receiver.drain()


def _free_port_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def graph_settings(db_url: str, emulator: GraphEmulator, notification_url: str = "", **overrides) -> Settings:
    values = dict(
        database_url=db_url,
        calendar_backend="graph",
        graph_base_url=emulator.graph_url,
        graph_retry_delay=0.0,
        graph_retry_max=3,
        graph_join_url_read_delay=0.0,
        graph_notification_url=notification_url,
        graph_client_state=CLIENT_STATE,
        outbox_max_attempts=3,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def make_stack(
    db_url: str, *, emulator_options: dict | None = None, defer_calendar_writes: bool = False, **overrides
):
    emulator = GraphEmulator(notification_retry_delays=(0.2,), **(emulator_options or {}))
    await emulator.start()
    emulator.advance_time((NOW - datetime.now(UTC)).total_seconds())
    sock = _free_port_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/graph/notifications"
    settings = graph_settings(db_url, emulator, url, **overrides)
    clock = FixedClock(NOW)
    calendar = build_graph_calendar(settings)
    app = build_app(settings, clock=clock, calendar=calendar, defer_calendar_writes=defer_calendar_writes)
    app.sync.base_delay = 10.0
    watcher = GraphWatcher(
        app.db, calendar, CalendarChanges(app.db, app.booking, clock=clock), settings, clock=emulator.now
    )
    receiver = GraphNotificationReceiver(watcher)
    web_app = web.Application()
    web_app.add_routes(receiver.routes())
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        world = await make_world(app.db)
        yield Stack(emulator, settings, clock, app, calendar, watcher, receiver, world, url, runner)
    finally:
        with contextlib.suppress(TimeoutError):
            await emulator.drain(within=5)
        await receiver.on_shutdown()
        await runner.cleanup()
        await emulator.stop()
        await app.close()
