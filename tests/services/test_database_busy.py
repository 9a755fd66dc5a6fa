"""Issue 12 B7 on PostgreSQL: a row another transaction holds (a stuck session, a long migration) makes a write wait
at most the lock timeout, then ``ServiceBusy`` (503 with Retry-After at the transports), with nothing changed, not
a request hanging until Teams gives up."""

from __future__ import annotations

import time

import psycopg
import pytest
from factories import local, make_world

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.domain.errors import ServiceBusy
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData


@pytest.mark.postgres
async def test_a_row_held_by_another_session_answers_busy_within_the_lock_timeout(pg_url, tmp_path):
    db = Database(pg_url, lock_timeout=0.5)
    try:
        world = await make_world(db)
        clock = FixedClock(local(2026, 1, 5, 8))
        cal = LocalCalendar(db, tmp_path)
        svc = BookingService(db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock))
        who = world.contact("low_primary.lead")
        r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
        with psycopg.connect(pg_url) as other:  # another session holds the meeting's row
            other.execute("SELECT id FROM meeting WHERE id = %s FOR UPDATE", (r.meeting.id,))
            t0 = time.monotonic()
            with pytest.raises(ServiceBusy):
                await svc.cancel(who, r.meeting.id, "Ofsted visit")
            assert time.monotonic() - t0 < 5
            other.rollback()
        assert (await svc.get_meeting(who, r.meeting.id)).status == "booked"  # nothing changed
        assert (
            await svc.cancel(who, r.meeting.id, "Ofsted visit")
        ).meeting.status == "cancelled"  # lock gone
    finally:
        await db.dispose()
