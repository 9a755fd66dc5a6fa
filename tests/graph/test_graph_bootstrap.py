"""What the scheduler and the server get from the composition root for Outlook calendars."""

from __future__ import annotations

import logging

import pytest
from factories import local, make_world
from graph_stack import ANN, NOW, graph_settings

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import GraphCalendar, GraphWatcher
from tsm.bootstrap import build_app, build_graph_watcher_if_configured
from tsm.clock import FixedClock
from tsm.settings import Settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


async def test_no_watcher_with_the_local_calendar(sqlite_url, tmp_path):
    app = build_app(Settings(_env_file=None, database_url=sqlite_url, invitations_dir=tmp_path))
    try:
        assert build_graph_watcher_if_configured(app) is None
    finally:
        await app.close()


async def test_the_graph_backend_gives_a_watcher_whose_entry_points_run(sqlite_url, caplog):
    emulator = GraphEmulator()
    await emulator.start()
    emulator.advance_time((NOW - emulator.now()).total_seconds())
    clock = FixedClock(NOW)
    app = build_app(
        graph_settings(sqlite_url, emulator, notification_url="", graph_client_state=""), clock=clock
    )
    try:
        assert isinstance(app.calendar, GraphCalendar)
        world = await make_world(app.db)
        watcher = build_graph_watcher_if_configured(app)
        assert isinstance(watcher, GraphWatcher) and not watcher.notifications_configured
        with caplog.at_level(logging.WARNING):
            counts = await watcher.renew_subscriptions()  # no URL: notifications off, not a crash
        assert counts["created"] == 0 and emulator.subscriptions() == []
        assert "TSM_GRAPH_NOTIFICATION_URL" in caplog.text
        result = await app.booking.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
        )
        assert result.meeting.status == "booked"
        assert await app.sync.process_due() == 0  # the booking already did its calendar work
        assert len(emulator.events(ANN)) == 1
        swept = await watcher.sweep_delta()
        assert swept["officers"] == 2 and swept["failed"] == 0
    finally:
        await app.close()
        await emulator.stop()
