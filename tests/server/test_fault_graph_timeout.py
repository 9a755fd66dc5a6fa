"""Fault: Microsoft Graph times out (the Graph engineer's tests cover 429 and 503 answers; a timeout is no answer at
all). A create that times out may still have been carried out by Graph: the booking stands, the outbox retries
with the same transactionId, and the officer's calendar ends up with exactly one event. A free/busy read that times
out refuses the booking with nothing written. Every attempt is counted in the app's metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from factories import local, make_world
from prod_figures import record_figures
from sqlalchemy import func
from sqlmodel import select

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import build_graph_calendar
from tsm.adapters.db.calendars import CalendarOutbox
from tsm.adapters.db.meetings import Meeting
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.observability import Metrics
from tsm.ports import CalendarError
from tsm.settings import Settings

NOW = local(2026, 1, 5, 8, 0)
ANN = "ann@la.example"
EVENTS = r"/users/[^/]+/events$"


@pytest.fixture
async def graph_app(sqlite_url, tmp_path):
    emulator = GraphEmulator()
    await emulator.start()
    emulator.advance_time((NOW - datetime.now(UTC)).total_seconds())
    settings = Settings(
        _env_file=None,
        database_url=sqlite_url,
        calendar_backend="graph",
        graph_base_url=emulator.graph_url,
        graph_timeout_seconds=0.5,
        graph_retry_max=1,
        graph_retry_delay=0.0,
        graph_join_url_reads=0,
        outbox_max_attempts=4,
    )
    clock = FixedClock(NOW)
    metrics = Metrics()  # the Graph client's middleware counts into the App's registry
    app = build_app(
        settings, clock=clock, metrics=metrics, calendar=build_graph_calendar(settings, observer=metrics)
    )
    try:
        world = await make_world(app.db)
        yield emulator, app, clock, world
    finally:
        await app.close()
        await emulator.stop()


async def test_a_timed_out_create_books_once_and_makes_one_event(graph_app):
    emulator, app, clock, world = graph_app
    emulator.slow("POST", EVENTS, seconds=1.5)  # Graph does create it, but after the client gave up
    result = await app.booking.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
    )
    meeting_id = result.meeting.id
    assert app.metrics.value("tsm_graph_errors_total", error="ReadTimeout") >= 1
    async with app.db.reader() as s:
        m = await s.get(Meeting, meeting_id)
        assert m.calendar_event_id is None and m.status == "booked"  # the booking stands without its event
        assert (await s.exec(select(CalendarOutbox).where(CalendarOutbox.meeting_id == meeting_id))).one()
    await asyncio.sleep(1.3)  # the slow request completes on the Graph side: the event now exists there
    assert len(emulator.events(ANN)) == 1
    clock.now += timedelta(hours=2)  # past the outbox's backoff
    assert await app.sync.process_due() >= 1
    async with app.db.reader() as s:
        m = await s.get(Meeting, meeting_id)
    events = emulator.events(ANN)
    assert len(events) == 1, "the retry created a second event: transactionId was not honoured"
    assert m.calendar_event_id == events[0]["id"]
    calls = app.metrics.value("tsm_graph_calls_total", method="POST", status="2xx")
    record_figures(
        "graph_timeout",
        {
            "faults_injected": 1,
            "faults_survived": 1,
            "events_in_outlook": len(events),
            "graph_post_2xx": calls,
            "bookings_succeeded": 1,
        },
    )


async def test_a_timed_out_free_busy_read_refuses_cleanly(graph_app):
    emulator, app, clock, world = graph_app
    emulator.slow("POST", r"/calendar/getSchedule$", seconds=1.5, count=5)
    with pytest.raises(CalendarError) as err:
        await app.booking.book(
            world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
        )
    assert err.value.retryable and "Could not reach Microsoft Graph" in str(err.value)
    async with app.db.reader() as s:
        assert (await s.exec(select(func.count()).select_from(Meeting))).one() == 0
        assert (await s.exec(select(func.count()).select_from(CalendarOutbox))).one() == 0
    assert app.metrics.value("tsm_graph_errors_total", error="ReadTimeout") >= 1
    emulator.clear_faults()
    await asyncio.sleep(1.6)  # let the slow requests drain on the emulator side
    result = await app.booking.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
    )
    assert result.meeting.status == "booked"
    record_figures(
        "graph_freebusy_timeout", {"faults_injected": 1, "faults_survived": 1, "bookings_succeeded": 1}
    )


async def test_every_graph_attempt_is_counted_including_the_sdk_retries(graph_app):
    """A 429 the SDK retries by itself never reaches the adapter's code; the metrics still see it."""
    emulator, app, clock, world = graph_app
    emulator.throttle("POST", EVENTS, retry_after=0)
    result = await app.booking.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
    )
    assert result.meeting.status == "booked" and len(emulator.events(ANN)) == 1
    m = app.metrics
    assert m.value("tsm_graph_throttles_total") == 1
    assert m.value("tsm_graph_calls_total", method="POST", status="4xx") == 1  # the 429
    assert (
        m.value("tsm_graph_calls_total", method="POST", status="2xx") >= 2
    )  # getSchedule, then the retried create
    assert emulator.count("POST") == m.value("tsm_graph_calls_total", method="POST", status="4xx") + m.value(
        "tsm_graph_calls_total", method="POST", status="2xx"
    )


async def test_a_chat_turn_stopped_by_an_outlook_timeout_says_so(graph_app):
    """Through the conversation: Outlook does not answer while the dates are looked up; the person is told plainly,
    nothing is written, the turn is counted as 'unavailable' (not as a bug), and the next try works."""
    from card_walker import next_step
    from cardtree import walk

    from tsm.chat.app import build_router
    from tsm.chat.router import Incoming, Who

    emulator, app, clock, world = graph_app
    router = build_router()
    who = Who(email="lead@100001.sch.example", aad_object_id="aad-lead-100001")

    async def turn(**kw):
        return await router.dispatch(
            Incoming(who=who, **kw),
            identify=lambda w: app.directory.identify(w.aad_object_id, w.email),
            services=app,
            clock=clock,
        )

    # "book" looks up the free times at once (the first card shows them, issue 14 item 3): Outlook is slow then
    emulator.slow("POST", r"/calendar/getSchedule$", seconds=1.5, count=5)
    stuck = await turn(text="book")
    assert stuck.error and "Outlook isn't answering" in stuck.text and "nothing was booked" in stuck.text
    assert app.metrics.value("tsm_turns_total", kind="message", outcome="unavailable") == 1
    assert app.metrics.value("tsm_turns_total", kind="message", outcome="error") == 0
    emulator.clear_faults()
    await asyncio.sleep(1.6)
    again = await turn(text="book")
    assert not again.error and again.card is not None
    assert "book.pick_start" in [a.get("verb") for a in walk(again.card)]  # the first card, with its times
    verb, data = next_step(again.card)
    assert verb == "book.pick_mode"
    dates = await turn(verb=verb, data=data)
    assert not dates.error and next_step(dates.card)[0] == "book.pick_date"
