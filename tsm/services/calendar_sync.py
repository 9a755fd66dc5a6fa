"""The calendar outbox: calendar writes committed with the booking, done after it, retried with backoff.

A booking is confirmed as soon as its transaction commits. ``CalendarSync`` then claims the meeting's
pending outbox rows in order (create → update → cancel), calls the calendar port and stores the event id
and join URL. A failure is retried with exponential backoff; after ``max_attempts`` (or at once for a failure that
retrying cannot fix, e.g. a mailbox outside the application access policy, or data the calendar cannot take) the
row is marked failed and a ``calendar_failed`` event tells the officer, whose booking stands but is not in their
calendar. An update waiting for its retry is superseded by a later write of the same meeting (the meeting's
cancellation is never held up behind it). A crash between commit and calendar call leaves the row pending,
so the next sweep (``process_due``) repairs it.

``deferred`` (the server and the worker, ``tsm.composition``): the booking service does not call the calendar at
all; the scheduler's outbox sweep does, woken by the change (``SchedulerService.wake``), so a person's turn never
waits on Outlook. The confirmation says "booked" at once; when Outlook answers with a Teams meeting's join link, a
``join_link`` event recorded with it (in the same transaction) has the person who booked sent the link through the
ledger (``tsm.notifications``). Not deferred (the CLI, which waits): the booking does its calendar work right after
its commit and its answer carries the link.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, update
from sqlmodel import col, select

from ..adapters.db.calendars import CalendarOutbox
from ..adapters.db.directory import LA, Officer
from ..adapters.db.engine import Database
from ..adapters.db.meetings import Meeting, MeetingAttendee
from ..domain.model import Mode
from ..domain.text import when_text
from ..ports import Attendee, CalendarError, CalendarPort, CalendarRef, EventDetails, EventResult
from .events import EventKind, iso, record
from .meetings import schools_of

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=120)


def _now() -> datetime:
    return datetime.now(UTC)


class CalendarSync:
    def __init__(
        self,
        db: Database,
        calendar: CalendarPort,
        *,
        clock: Callable[[], datetime] = _now,
        max_attempts: int = 6,
        base_delay: float = 30.0,
        deferred: bool = False,
    ) -> None:
        self.db = db
        self.calendar = calendar
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.deferred = deferred  # calendar writes only in the outbox sweep, never in a booking's turn

    async def process_meeting(self, meeting_id: int) -> list[EventResult]:
        """Do a meeting's pending calendar work now (right after its booking commits)."""
        results = []
        while True:
            row = await self._claim_next(meeting_id)
            if row is None:
                return results
            result = await self._run(row)
            if result is None:
                return results
            results.append(result)

    async def process_due(self, limit: int = 100) -> int:
        """One sweep: every meeting whose first pending row is due. Returns rows completed."""
        now = self.clock()
        async with self.db.reader() as s:
            rows = list(
                await s.exec(
                    select(CalendarOutbox.meeting_id)
                    .where(CalendarOutbox.status == "pending", CalendarOutbox.next_attempt_at <= now)
                    .distinct()
                    .limit(limit)
                )
            )
        done = 0
        for meeting_id in rows:
            try:
                done += len(await self.process_meeting(meeting_id))
            except Exception:  # noqa: BLE001 - one meeting's trouble must not stop the sweep for the others
                log.exception("calendar outbox sweep: meeting %s could not be processed", meeting_id)
        return done

    async def _claim_next(self, meeting_id: int) -> CalendarOutbox | None:
        now = self.clock()
        async with self.db.transaction() as s:
            pending = list(
                await s.exec(
                    select(CalendarOutbox)
                    .where(CalendarOutbox.meeting_id == meeting_id, CalendarOutbox.status == "pending")
                    .order_by(CalendarOutbox.id)
                    .limit(20)
                )
            )
            # An update that failed and waits for its retry does not hold up what came after it: the later write
            # carries the meeting as it is now (details are read when a row runs), so the update is superseded.
            while (
                len(pending) > 1
                and pending[0].op == "update"
                and pending[0].attempts > 0
                and pending[0].next_attempt_at > now
            ):
                await s.exec(
                    update(CalendarOutbox)
                    .where(CalendarOutbox.id == pending[0].id, CalendarOutbox.status == "pending")
                    .values(status="superseded", lease_until=None)
                )
                pending.pop(0)
            row = pending[0] if pending else None
            if row is None or row.next_attempt_at > now:
                return None
            claimed = await s.exec(
                update(CalendarOutbox)
                .where(
                    CalendarOutbox.id == row.id,
                    CalendarOutbox.status == "pending",
                    or_(col(CalendarOutbox.lease_until).is_(None), CalendarOutbox.lease_until < now),
                )
                .values(lease_until=now + LEASE, attempts=CalendarOutbox.attempts + 1)
            )
            if claimed.rowcount != 1:
                return None  # another worker holds it
            await s.refresh(row)
            return row

    async def _run(self, row: CalendarOutbox) -> EventResult | None:
        try:
            details, event_id = await self.details(row.meeting_id)
            if row.op == "create":
                result = await self.calendar.create_event(details)
            elif row.op == "update":
                result = await self.calendar.update_event(event_id, details)
            else:
                result = await self.calendar.cancel_event(event_id, details, row.message)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried or surfaced
            await self._failed(row, exc)
            return None
        now = self.clock()
        async with self.db.transaction() as s:
            m = await s.get(Meeting, row.meeting_id)
            if result.event_id and row.op != "cancel":
                m.calendar_event_id = result.event_id
            first_link = bool(result.join_url) and not m.join_url and row.op != "cancel"
            if result.join_url:
                m.join_url = result.join_url
            s.add(m)
            person = _booker(m.booked_by)
            if self.deferred and first_link and person and m.status in ("booked", "moved"):
                # The confirmation went out before Outlook answered: the person who booked is sent the link.
                record(
                    s,
                    EventKind.JOIN_LINK,
                    "system:calendar",
                    now,
                    meeting_id=m.id,
                    person=person,
                    start=iso(m.start),
                )
            await s.exec(
                update(CalendarOutbox)
                .where(CalendarOutbox.id == row.id)
                .values(status="done", lease_until=None, last_error="")
            )
            log.info("calendar %s done for meeting %s at %s", row.op, row.meeting_id, now.isoformat())
        return result

    async def _failed(self, row: CalendarOutbox, exc: Exception) -> None:
        # What the meeting's own data made impossible (an address the calendar refuses, text it cannot encode) is
        # not retried: the officer is told at once instead of the row blocking the meeting's later writes.
        retryable = (
            getattr(exc, "retryable", True)
            if isinstance(exc, CalendarError)
            else not isinstance(exc, ValueError | TypeError | KeyError)
        )
        final = not retryable or row.attempts >= self.max_attempts
        delay = timedelta(seconds=self.base_delay * (2 ** (row.attempts - 1)) * (1 + random.random() / 4))
        log.warning(
            "calendar %s failed for meeting %s (attempt %s): %s",
            row.op,
            row.meeting_id,
            row.attempts,
            type(exc).__name__,
        )
        reason = str(exc) if isinstance(exc, CalendarError) else f"an unexpected error ({type(exc).__name__})"
        async with self.db.transaction() as s:
            await s.exec(
                update(CalendarOutbox)
                .where(CalendarOutbox.id == row.id)
                .values(
                    status="failed" if final else "pending",
                    lease_until=None,
                    last_error=reason[:500],
                    next_attempt_at=self.clock() + delay,
                )
            )
            if final:  # the officer is told, like every message (tsm.notifications)
                record(
                    s,
                    EventKind.CALENDAR_FAILED,
                    "system:calendar",
                    self.clock(),
                    meeting_id=row.meeting_id,
                    op=row.op,
                    text=await self._failure_text(s, row, reason),
                )

    async def _failure_text(self, s, row: CalendarOutbox, reason: str) -> str:
        """What the officer is told when a calendar write has finally failed."""
        m = await s.get(Meeting, row.meeting_id)
        schools = await schools_of(s, m.id)
        la = await s.get(LA, schools[0].la_id) if schools else None
        tz = ZoneInfo(la.timezone if la else "Europe/London")
        what = {"create": "added to", "update": "changed in", "cancel": "removed from"}.get(
            row.op, "written to"
        )
        text = (
            f"The TSM with {' & '.join(sc.name for sc in schools) or 'a school'} on "
            f"{when_text(m.start, m.end, tz)} could not be {what} your Outlook calendar: {reason} "
            "The booking itself stands in the TSM bot."
        )
        if len(text) > 500:
            text = text[:497] + "..."
        return text

    async def details(self, meeting_id: int) -> tuple[EventDetails, str | None]:
        async with self.db.reader() as s:
            m = await s.get(Meeting, meeting_id)
            officer = await s.get(Officer, m.officer_id)
            schools = await schools_of(s, meeting_id)
            atts = list(
                await s.exec(
                    select(MeetingAttendee)
                    .where(MeetingAttendee.meeting_id == meeting_id)
                    .order_by(MeetingAttendee.id)
                )
            )
            la = await s.get(LA, schools[0].la_id) if schools else None
        return event_details(
            m, officer, schools, atts, ZoneInfo(la.timezone if la else "Europe/London")
        ), m.calendar_event_id


def _booker(booked_by: str | None) -> str | None:
    """The person a meeting's ``booked_by`` names, as an event's ``person`` ("contact:12", "officer:3"; an LA admin
    is an officer), or None (the CLI, the system)."""
    kind, _, ident = (booked_by or "").partition(":")
    if kind in ("contact", "officer", "admin") and ident.isdigit():
        return f"{'contact' if kind == 'contact' else 'officer'}:{ident}"
    return None


def event_details(m: Meeting, officer: Officer, schools, attendees, tz: ZoneInfo) -> EventDetails:
    """The calendar entry of a meeting, from rows in hand (``schools`` by name, ``attendees`` in invitation order):
    the outbox's writes and the booking's own (the local calendar, in the booking's transaction) share it."""
    names = " & ".join(sc.name for sc in schools)
    online = m.mode == Mode.TEAMS.value
    body = (
        f"Targeting Support Meeting between {names} and {officer.name} (LA link officer), "
        f"{when_text(m.start, m.end, tz)}, {'on Microsoft Teams' if online else 'at ' + m.location}.\n\n"
        "Please bring the school's overall attendance and the numbers of persistently and severely absent "
        "pupils. No pupil-level data is handed over. A senior leader is expected to attend."
    )
    return EventDetails(
        meeting_id=m.id,
        ical_uid=m.ical_uid,
        sequence=m.ical_sequence,
        organizer=CalendarRef(officer.id, officer.mailbox),
        organizer_name=officer.name,
        organizer_email=officer.email,
        subject=f"Targeting Support Meeting: {names}",
        body_text=body,
        start=m.start,
        end=m.end,
        location=m.location,
        online=online,
        attendees=tuple(Attendee(a.name, a.email, a.required) for a in attendees),
    )
