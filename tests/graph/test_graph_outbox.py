"""The calendar outbox (CalendarSync) with the real Graph adapter: the booking commits first, the worker writes
Outlook afterwards and stores the event id; failures back off, then reach the officer; crashes are repaired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import local, officer_notices
from graph_stack import ANN, make_stack
from sqlmodel import select

from tsm.adapters.calendar_graph import build_graph_calendar
from tsm.adapters.db.calendars import CalendarOutbox
from tsm.adapters.db.directory import Officer
from tsm.adapters.db.meetings import MeetingSchool
from tsm.bootstrap import build_app
from tsm.services.calendar_sync import LEASE

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

EVENTS_PATH = r"/users/[^/]+/events$"
CREATE = "/v1.0/users/{user}/events"


@pytest.fixture
async def fast(any_db_url):
    """No SDK retries, so every Graph failure reaches the outbox at once."""
    async with make_stack(any_db_url, graph_retry_max=0) as st:
        yield st


@pytest.fixture
async def fast_sqlite(sqlite_url):
    async with make_stack(sqlite_url, graph_retry_max=0) as st:
        yield st


async def outbox(stack, meeting_id: int) -> list[CalendarOutbox]:
    async with stack.app.db.reader() as s:
        return list(
            await s.exec(
                select(CalendarOutbox)
                .where(CalendarOutbox.meeting_id == meeting_id)
                .order_by(CalendarOutbox.id)
            )
        )


async def notices(stack, kind: str | None = None):
    return await officer_notices(stack.app, kind)


async def test_the_booking_is_confirmed_while_outlook_is_down_and_the_worker_catches_up(fast):
    who, school = fast.world.contact("low_primary.lead"), fast.world.schools["low_primary"]
    await fast.app.booking.free_slots(who, school)  # the school looked at the slots: free/busy is cached
    fast.emulator.fail("*", ".*", status=503, count=1000)  # then Outlook goes down
    result = await fast.book()
    assert result.meeting.status == "booked" and "TSM booked" in result.message  # confirmed at once
    meeting = await fast.meeting(result.meeting.id)
    assert meeting.calendar_event_id is None
    (row,) = await outbox(fast, meeting.id)
    assert (row.op, row.status, row.attempts) == ("create", "pending", 1)
    assert row.next_attempt_at > fast.clock.now and "503" in row.last_error
    assert fast.emulator.events(ANN) == []

    assert await fast.app.sync.process_due() == 0  # not due yet: nothing is tried
    assert fast.emulator.count("POST", CREATE) == 1

    fast.emulator.clear_faults()
    fast.clock.now = row.next_attempt_at
    assert await fast.app.sync.process_due() == 1
    (event,) = fast.emulator.events(ANN)
    meeting = await fast.meeting(result.meeting.id)
    assert meeting.calendar_event_id == event["id"] and meeting.join_url == event["onlineMeeting"]["joinUrl"]
    (row,) = await outbox(fast, meeting.id)
    assert (row.status, row.attempts, row.last_error, row.lease_until) == ("done", 2, "", None)
    assert await fast.app.sync.process_due() == 0
    assert len(fast.emulator.events(ANN)) == 1


async def test_failures_back_off_then_reach_the_officer_after_the_bounded_attempts(fast_sqlite):
    st = fast_sqlite
    st.emulator.fail("POST", EVENTS_PATH, status=503, count=1000)
    result = await st.book()
    delays = []
    for _ in range(5):
        (row,) = await outbox(st, result.meeting.id)
        if row.status != "pending":
            break
        delays.append((row.next_attempt_at - st.clock.now).total_seconds())
        st.clock.now = row.next_attempt_at
        await st.app.sync.process_due()
    (row,) = await outbox(st, result.meeting.id)
    assert (row.status, row.attempts) == ("failed", 3)  # outbox_max_attempts=3 in these tests
    assert st.emulator.count("POST", CREATE) == 3
    base = st.app.sync.base_delay
    assert len(delays) == 2
    assert (
        base <= delays[0] <= base * 1.25 and 2 * base <= delays[1] <= 2 * base * 1.25
    )  # exponential, jittered
    (notice,) = await notices(st, "calendar_failed")
    assert notice.officer_id == st.world.officers["ann"] and notice.meeting_id == result.meeting.id
    assert "could not be added to your Outlook calendar" in notice.text
    assert "The booking itself stands" in notice.text and "Low Primary School" in notice.text
    meeting = await st.meeting(result.meeting.id)
    assert meeting.status == "booked"  # the booking stands

    st.clock.now += timedelta(days=1)
    assert await st.app.sync.process_due() == 0  # a failed row is not retried for ever
    assert st.emulator.count("POST", CREATE) == 3


async def test_a_mailbox_outside_the_access_policy_fails_at_once_with_a_clear_notice(fast_sqlite):
    st = fast_sqlite
    result = await st.book()  # free/busy first: allowed
    st.emulator.set_forbidden(ANN)
    moved = await st.app.booking.move(
        st.world.contact("low_primary.lead"), result.meeting.id, local(2026, 1, 8, 10)
    )
    assert moved.meeting.start == local(2026, 1, 8, 10)
    rows = await outbox(st, result.meeting.id)
    assert [(r.op, r.status, r.attempts) for r in rows] == [("create", "done", 1), ("update", "failed", 1)]
    (notice,) = await notices(st, "calendar_failed")
    assert "could not be changed in your Outlook calendar" in notice.text
    assert "application access policy" in notice.text


async def test_a_crash_between_commit_and_graph_call_is_repaired_on_restart(fast):
    fast.app.booking.sync = None  # the process dies right after the booking's commit
    result = await fast.book()
    assert fast.emulator.events(ANN) == []
    (row,) = await outbox(fast, result.meeting.id)
    assert (row.status, row.attempts) == ("pending", 0)

    # restart: a new process, its own Graph client, the same database
    app2 = build_app(fast.settings, clock=fast.clock, calendar=build_graph_calendar(fast.settings))
    try:
        assert await app2.sync.process_due() == 1
    finally:
        await app2.close()
    (event,) = fast.emulator.events(ANN)
    assert (await fast.meeting(result.meeting.id)).calendar_event_id == event["id"]
    assert {a["emailAddress"]["address"] for a in event["attendees"]} == {
        "lead@100001.sch.example",
        "head@100001.sch.example",
    }


async def test_a_crash_during_the_graph_call_is_repaired_after_the_lease_without_a_second_event(fast_sqlite):
    st = fast_sqlite
    st.app.booking.sync = None
    result = await st.book()
    st.emulator.slow("POST", EVENTS_PATH, seconds=0.3)
    worker = asyncio.create_task(st.app.sync.process_due())
    for _ in range(200):  # the create has reached Graph...
        if st.emulator.count("POST", CREATE):
            break
        await asyncio.sleep(0.01)
    worker.cancel()  # ...and the worker dies before the answer
    with pytest.raises(asyncio.CancelledError):
        await worker
    for _ in range(200):  # Graph carries the create out anyway
        if st.emulator.events(ANN):
            break
        await asyncio.sleep(0.01)
    assert len(st.emulator.events(ANN)) == 1
    (row,) = await outbox(st, result.meeting.id)
    assert row.status == "pending" and row.lease_until is not None

    assert await st.app.sync.process_due() == 0  # the dead worker's lease still holds
    st.clock.now += LEASE + timedelta(seconds=1)
    assert await st.app.sync.process_due() == 1
    (event,) = st.emulator.events(ANN)  # the same transactionId: Graph gives back the first event
    assert (await st.meeting(result.meeting.id)).calendar_event_id == event["id"]
    assert st.emulator.count("POST", CREATE) == 2


async def test_the_outbox_retry_of_a_lost_create_answer_finds_the_first_event(fast_sqlite):
    st = fast_sqlite
    st.emulator.fail("POST", EVENTS_PATH, status=503, after_perform=True)  # created, then the answer is lost
    result = await st.book()
    (row,) = await outbox(st, result.meeting.id)
    assert row.status == "pending" and len(st.emulator.events(ANN)) == 1
    st.clock.now = row.next_attempt_at
    assert await st.app.sync.process_due() == 1
    (event,) = st.emulator.events(ANN)
    assert (await st.meeting(result.meeting.id)).calendar_event_id == event["id"]


async def test_moves_and_cancellations_reach_outlook_in_order(fast_sqlite):
    st = fast_sqlite
    who = st.world.contact("low_primary.lead")
    result = await st.book()
    event_id = (await st.meeting(result.meeting.id)).calendar_event_id
    await st.app.booking.move(who, result.meeting.id, local(2026, 1, 9, 11))
    event = st.emulator.event(ANN, event_id)
    assert event["start"]["dateTime"].startswith("2026-01-09T11:00:00")  # PATCHed, same event
    await st.app.booking.cancel(who, result.meeting.id, "Ofsted visit")
    assert st.emulator.event(ANN, event_id) is None
    (cancel,) = st.emulator.cancellations
    assert cancel["eventId"] == event_id and cancel["comment"] == "Ofsted visit"
    assert [(r.op, r.status) for r in await outbox(st, result.meeting.id)] == [
        ("create", "done"),
        ("update", "done"),
        ("cancel", "done"),
    ]
    async with st.app.db.reader() as s:
        ms = (await s.exec(select(MeetingSchool).where(MeetingSchool.meeting_id == result.meeting.id))).one()
    assert ms.active_term_id is None


async def test_an_officer_without_a_mailbox_gets_a_notice_instead_of_endless_retries(fast_sqlite):
    st = fast_sqlite
    async with st.app.db.transaction() as s:
        ann = await s.get(Officer, st.world.officers["ann"])
        ann.mailbox = ""
        s.add(ann)
    offer = await st.app.booking.free_slots(
        st.world.contact("low_primary.lead"), st.world.schools["low_primary"]
    )
    assert offer.slots and st.emulator.count() == 0  # no Outlook calendar to read: not even a call
    result = await st.book()
    assert result.meeting.status == "booked"
    (row,) = await outbox(st, result.meeting.id)
    assert (row.status, row.attempts) == ("failed", 1)
    (notice,) = await notices(st, "calendar_failed")
    assert "no Outlook mailbox" in notice.text
    assert st.emulator.count() == 0


async def test_one_meeting_s_trouble_does_not_stop_the_sweep_for_the_others(fast_sqlite, monkeypatch):
    st = fast_sqlite
    st.app.booking.sync = None
    first = await st.book()
    second = await st.book("secondary", local(2026, 1, 8, 13), mode="on_site")
    real = st.app.sync.process_meeting

    async def broken_for_the_first(meeting_id):
        if meeting_id == first.meeting.id:
            raise RuntimeError("database hiccup")
        return await real(meeting_id)

    monkeypatch.setattr(st.app.sync, "process_meeting", broken_for_the_first)
    assert await st.app.sync.process_due() == 1
    assert (await st.meeting(second.meeting.id)).calendar_event_id is not None
