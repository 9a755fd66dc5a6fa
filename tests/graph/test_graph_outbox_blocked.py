"""Issue 12 B5: a calendar write that fails reaches the officer and does not hold up the meeting's later writes.

The attack: an attendee email with CR/LF was accepted, the calendar update it caused failed and was retried, and
the meeting's cancellation waited behind it (Outlook kept the event). Now the address is refused at the door
(tests/services/test_attack_free_text.py), and whatever else makes a write fail: an update waiting for its retry is
superseded by a later write (which carries the meeting as it is), and a failure that retrying cannot fix (data the
calendar cannot take) fails at once with a ``calendar_failed`` event for the officer."""

from __future__ import annotations

import pytest
from factories import local, officer_notices
from graph_stack import ANN, make_stack
from sqlmodel import select

from tsm.adapters.db.calendars import CalendarOutbox

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

EVENT_PATH = r"/users/[^/]+/events/[^/]+$"


@pytest.fixture
async def st(sqlite_url):
    async with make_stack(sqlite_url, graph_retry_max=0) as stack:
        yield stack


async def outbox(st, meeting_id: int) -> list[tuple[str, str]]:
    async with st.app.db.reader() as s:
        return [
            (r.op, r.status)
            for r in await s.exec(
                select(CalendarOutbox)
                .where(CalendarOutbox.meeting_id == meeting_id)
                .order_by(CalendarOutbox.id)
            )
        ]


async def test_a_failing_update_does_not_hold_up_the_cancellation(st):
    who = st.world.contact("low_primary.lead")
    result = await st.book()
    event_id = (await st.meeting(result.meeting.id)).calendar_event_id
    st.emulator.fail(
        "PATCH", EVENT_PATH, status=503, count=1000
    )  # Outlook refuses the update, again and again
    await st.app.booking.add_attendee(
        who, result.meeting.id, name="Pat Pastoral", email="pat@100001.sch.example"
    )
    assert await outbox(st, result.meeting.id) == [("create", "done"), ("update", "pending")]
    await st.app.booking.cancel(who, result.meeting.id, "Ofsted visit")  # before the update's retry is due
    assert await outbox(st, result.meeting.id) == [
        ("create", "done"),
        ("update", "superseded"),
        ("cancel", "done"),
    ]
    assert st.emulator.event(ANN, event_id) is None  # the cancellation reached Outlook at once


async def test_data_the_calendar_cannot_take_fails_at_once_and_reaches_the_officer(st, monkeypatch):
    who = st.world.contact("low_primary.lead")
    result = await st.book()

    async def broken(event_id, details):  # e.g. an address or text the calendar library refuses to encode
        raise ValueError("invalid attendee address")

    monkeypatch.setattr(st.app.sync.calendar, "update_event", broken)
    await st.app.booking.move(who, result.meeting.id, local(2026, 1, 8, 10))
    assert await outbox(st, result.meeting.id) == [
        ("create", "done"),
        ("update", "failed"),
    ]  # one attempt, no retry
    (notice,) = await officer_notices(st.app, "calendar_failed")
    assert (
        notice.officer_id == st.world.officers["ann"]
        and "could not be changed in your Outlook" in notice.text
    )
    monkeypatch.undo()
    await st.app.booking.cancel(who, result.meeting.id, "Ofsted visit")
    assert (await outbox(st, result.meeting.id))[-1] == ("cancel", "done")
