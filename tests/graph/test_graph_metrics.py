"""The Graph metrics come from a middleware of the Graph client's own pipeline (``ObservingHandler``, below the SDK's
retry handler), given to the client when the composition root builds it: every HTTP attempt the emulator receives
is counted once, the SDK's own retries included, and a client built without an observer counts nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from factories import local, make_world
from graph_stack import ANN, NOW, graph_settings

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import GraphCalendar, ObservingHandler, graph_middleware, make_graph_client
from tsm.bootstrap import build_app
from tsm.clock import FixedClock

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

EVENTS = r"/users/[^/]+/events$"


@pytest.fixture
async def emulator():
    emu = GraphEmulator(notification_retry_delays=(0.2,))
    await emu.start()
    emu.advance_time((NOW - datetime.now(UTC)).total_seconds())
    yield emu
    await emu.stop()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, str]] = []

    def graph_request(self, method, status, seconds, *, error=None, retry_after=""):
        assert seconds >= 0
        self.calls.append((method, status, type(error).__name__ if error else ""))


def _counted(metrics, name: str = "tsm_graph_calls_total") -> float:
    return sum(s.value for fam in metrics.registry.collect() for s in fam.samples if s.name == name)


async def test_the_apps_graph_metrics_count_what_the_emulator_received(sqlite_url, emulator, tmp_path):
    """The production path: build_app builds the Graph calendar itself, its client with the App's metrics as the
    middleware's observer. A 429 the SDK retries on its own (the adapter never sees it) is counted too."""
    settings = graph_settings(sqlite_url, emulator, graph_join_url_reads=0, invitations_dir=tmp_path / "inv")
    app = build_app(settings, clock=FixedClock(NOW))
    try:
        assert isinstance(app.calendar, GraphCalendar)
        world = await make_world(app.db)
        emulator.reset_counters()
        emulator.throttle("POST", EVENTS, retry_after=0)
        result = await app.booking.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
        )
        assert result.meeting.status == "booked" and len(emulator.events(ANN)) == 1
        m = app.metrics
        received = emulator.count()
        assert received >= 3  # getSchedule, the throttled create, its retry
        assert _counted(m) == received
        assert _counted(m, "tsm_graph_request_seconds_count") == received
        assert m.value("tsm_graph_calls_total", method="POST", status="4xx") == 1
        assert m.value("tsm_graph_throttles_total") == 1
        assert m.value("tsm_graph_calls_total", method="POST", status="2xx") == emulator.count("POST") - 1
    finally:
        await app.close()


async def test_the_middleware_sees_every_attempt_and_a_client_without_it_counts_nothing(emulator):
    settings = graph_settings("sqlite://", emulator, graph_retry_max=2)
    handlers = graph_middleware(settings, Recorder())
    assert isinstance(
        handlers[-1], ObservingHandler
    )  # last: below the retry handler, so it sees each attempt
    assert not any(isinstance(h, ObservingHandler) for h in graph_middleware(settings))

    recorder = Recorder()
    client, close = make_graph_client(settings, observer=recorder)
    plain, close_plain = make_graph_client(settings)
    try:
        emulator.seed_event(ANN, start=local(2026, 1, 7, 9), end=local(2026, 1, 7, 10))
        emulator.reset_counters()
        emulator.fail("GET", EVENTS, status=503)  # retried by the SDK's retry handler
        page = await client.users.by_user_id(ANN).events.get()
        assert page is not None and len(page.value) == 1
        assert recorder.calls == [("GET", 503, ""), ("GET", 200, "")]
        assert emulator.count("GET") == len(recorder.calls)

        await plain.users.by_user_id(ANN).events.get()  # the same SDK without the middleware: not observed
        assert emulator.count("GET") == 3 and len(recorder.calls) == 2
    finally:
        await close()
        await close_plain()

    # No answer at all (nothing listens): counted as an attempt without a status, with the error's type.
    dead = graph_settings("sqlite://", emulator, graph_base_url="http://127.0.0.1:9/v1.0", graph_retry_max=0)
    recorder = Recorder()
    client, close = make_graph_client(dead, observer=recorder)
    try:
        with pytest.raises(httpx.ConnectError):
            await client.users.by_user_id(ANN).events.get()
    finally:
        await close()
    assert recorder.calls == [("GET", None, "ConnectError")]
