"""Changes made in Outlook, brought into the database (the source of truth for bookings).

The Graph adapter turns change notifications and delta pages into plain :class:`~tsm.ports.CalendarChange`
objects; this service knows no SDK. For an event that is one of our meetings:

- attendees' answers update ``meeting_attendee.response``; a new decline is a notice to the officer;
- the officer moving the event in Outlook moves the meeting: its blocks and day seat are re-reserved through the
  booking service's own reservation code, so the database still refuses a clash. A move the database cannot
  take (another meeting's time, a full day, another term) is not applied: the officer gets a notice instead;
- the officer deleting (or cancelling) the event in Outlook cancels the meeting with the reason
  "deleted in Outlook" (no calendar write: Outlook has already told the attendees).

Every change writes an audit row. While a meeting has calendar work of ours still pending in the outbox, Graph
shows an event we are about to change: its times are not taken as the officer's (answers still are).
Applying the same change twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ..adapters.db.calendars import CalendarOutbox
from ..adapters.db.directory import Officer, School
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog
from ..adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool, MeetingStatusChange
from ..domain.errors import BookingRefused
from ..domain.model import MeetingStatus
from ..domain.text import when_text
from ..ports import CalendarChange
from . import meetings as meetings_
from .events import EventKind, iso, record

log = logging.getLogger(__name__)

OUTLOOK_KEY = "system:outlook"
CHANGEABLE = (MeetingStatus.BOOKED.value, MeetingStatus.MOVED.value)


def _now() -> datetime:
    return datetime.now(UTC)


class CalendarChanges:
    """Applies :class:`CalendarChange` objects to meetings. ``booking`` is the BookingService whose reservation
    code (``tsm.services.meetings``: ``move_to``/``deactivate``) a move or a delete reuses, so the invariants stay in
    one place."""

    def __init__(self, db: Database, booking, *, clock: Callable[[], datetime] = _now) -> None:
        self.db = db
        self.booking = booking
        self.clock = clock

    async def meeting_for_event(self, officer_id: int, event_id: str) -> int | None:
        async with self.db.reader() as s:
            return (
                await s.exec(
                    select(Meeting.id).where(
                        Meeting.officer_id == officer_id, Meeting.calendar_event_id == event_id
                    )
                )
            ).first()

    async def apply(self, change: CalendarChange) -> str:
        """Bring one change into the database. Returns what happened: ``untracked`` (not our meeting),
        ``unchanged``, ``updated`` (answers or join URL), ``moved``, ``move_refused`` or ``cancelled``."""
        now = self.clock()
        try:
            async with self.db.transaction() as s:
                q = select(Meeting).where(
                    Meeting.officer_id == change.officer_id, Meeting.calendar_event_id == change.event_id
                )
                if self.db.is_postgres:
                    q = (
                        q.with_for_update()
                    )  # one writer per meeting: the bot's own move/cancel waits, or we do
                m = (await s.exec(q)).first()
                if m is None:
                    return "untracked"
                pending = (
                    await s.exec(
                        select(CalendarOutbox.id).where(
                            CalendarOutbox.meeting_id == m.id, CalendarOutbox.status == "pending"
                        )
                    )
                ).first() is not None
                result = "unchanged"
                if change.kind == "updated":
                    if await self._responses(s, m, change, now):
                        result = "updated"
                    if change.join_url and m.join_url != change.join_url:
                        m.join_url = change.join_url
                        s.add(m)
                        result = "updated"
                if pending or m.status not in CHANGEABLE or m.start <= now:
                    # Our own write is on its way, or the meeting is over / no longer active: Outlook's times
                    # are not the officer's decision to take over.
                    return result
                if change.kind == "deleted":
                    await self._cancel(s, m, now)
                    return "cancelled"
                if change.start and change.end and (change.start, change.end) != (m.start, m.end):
                    return await self._move(s, m, change.start, change.end, now)
                return result
        except IntegrityError:
            # A concurrent booking took the time inside our savepoint's window: refuse, as a clash.
            return await self._refuse_move(change, now, "another meeting has just been booked at that time")

    async def _responses(self, s, m: Meeting, change: CalendarChange, now: datetime) -> bool:
        if not change.attendee_responses:
            return False
        changed = False
        atts = list(await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == m.id)))
        for a in atts:
            new = change.attendee_responses.get(a.email.lower())
            if new is None or new == a.response:
                continue
            old, a.response = a.response, new
            s.add(a)
            changed = True
            s.add(
                AuditLog(
                    at=now,
                    actor=OUTLOOK_KEY,
                    action="meeting.attendee_response",
                    entity="meeting",
                    entity_id=str(m.id),
                    detail={"attendee_id": a.id, "from": old, "to": new},
                )
            )
            if new == "declined" and m.status in CHANGEABLE:
                tz, label = await self._where_when(s, m)
                _notice(
                    s,
                    m.id,
                    "attendee_declined",
                    now,
                    f"{a.name} ({label}) declined the TSM on {when_text(m.start, m.end, tz)}.",
                )
        return changed

    async def _where_when(self, s, m: Meeting):
        schools = await meetings_.schools_of(s, m.id)
        _, tz = await self.booking.ref.policy_for_la(s, schools[0].la_id) if schools else (None, UTC)
        return tz, " & ".join(sc.name for sc in schools) or "a school"

    async def _cancel(self, s, m: Meeting, now: datetime) -> None:
        tz, label = await self._where_when(s, m)
        await meetings_.deactivate(s, m, MeetingStatus.CANCELLED, OUTLOOK_KEY, now, "deleted in Outlook")
        s.add(
            AuditLog(
                at=now,
                actor=OUTLOOK_KEY,
                action="meeting.cancel",
                entity="meeting",
                entity_id=str(m.id),
                detail={"reason": "deleted in Outlook"},
            )
        )
        # The officer deleted it in their Outlook: to the school, the officer cancelled it.
        record(
            s,
            EventKind.CANCELLED,
            f"officer:{m.officer_id}",
            now,
            meeting_id=m.id,
            start=iso(m.start),
            reason="deleted in the link officer's Outlook calendar",
            source="outlook",
        )
        _notice(
            s,
            m.id,
            "deleted_in_outlook",
            now,
            f"The TSM with {label} on {when_text(m.start, m.end, tz)} was deleted in Outlook, so it is cancelled "
            "here too. The school can book another time.",
        )
        log.info("meeting %s cancelled: deleted in Outlook", m.id)

    async def _move(self, s, m: Meeting, start: datetime, end: datetime, now: datetime) -> str:
        officer = await s.get(Officer, m.officer_id)
        school_ids = list(
            await s.exec(select(MeetingSchool.school_id).where(MeetingSchool.meeting_id == m.id))
        )
        school = await s.get(School, school_ids[0])
        policy, tz = await self.booking.ref.policy_for_la(s, school.la_id)
        cal = await self.booking.ref.calendar(s, school.la_id)
        term = cal.term_for(start.astimezone(tz).date())
        if term is None or term.id != m.term_id:
            await self._notice_refused(s, m, start, end, now, "that is not in the meeting's own term")
            return "move_refused"
        old = (m.start, m.end)
        try:
            async with s.begin_nested():
                await meetings_.move_to(s, m, start, end, MeetingStatus.MOVED, officer, policy, tz, now)
        except (IntegrityError, BookingRefused) as exc:
            await s.refresh(m)
            why = (
                exc.message
                if isinstance(exc, BookingRefused)
                else "it clashes with another TSM (travel time included)"
            )
            await self._notice_refused(s, m, start, end, now, why)
            return "move_refused"
        s.add(
            MeetingStatusChange(
                meeting_id=m.id,
                status=m.status,
                at=now,
                actor=OUTLOOK_KEY,
                start=start,
                end=end,
                reason="moved in Outlook",
            )
        )
        s.add(
            AuditLog(
                at=now,
                actor=OUTLOOK_KEY,
                action="meeting.move",
                entity="meeting",
                entity_id=str(m.id),
                detail={"old_start": old[0].isoformat(), "new_start": start.isoformat(), "source": "outlook"},
            )
        )
        record(
            s,
            EventKind.MOVED,
            f"officer:{m.officer_id}",
            now,
            meeting_id=m.id,
            old_start=iso(old[0]),
            start=iso(start),
            source="outlook",
        )
        log.info("meeting %s moved in Outlook", m.id)
        return "moved"

    async def _notice_refused(
        self, s, m: Meeting, start: datetime, end: datetime, now: datetime, why: str
    ) -> None:
        tz, label = await self._where_when(s, m)
        _notice(
            s,
            m.id,
            "move_refused",
            now,
            f"You moved the TSM with {label} in Outlook to {when_text(start, end, tz)}, but {why}. "
            f"The booking still says {when_text(m.start, m.end, tz)}: please move it through the TSM bot, "
            "or back in Outlook.",
        )
        s.add(
            AuditLog(
                at=now,
                actor=OUTLOOK_KEY,
                action="meeting.move_refused",
                entity="meeting",
                entity_id=str(m.id),
                detail={"new_start": start.isoformat()},
            )
        )
        log.info("meeting %s: a move in Outlook was not applied", m.id)

    async def _refuse_move(self, change: CalendarChange, now: datetime, why: str) -> str:
        async with self.db.transaction() as s:
            m = (
                await s.exec(
                    select(Meeting).where(
                        Meeting.officer_id == change.officer_id, Meeting.calendar_event_id == change.event_id
                    )
                )
            ).first()
            if m is None or change.start is None or change.end is None:
                return "unchanged"
            await self._notice_refused(s, m, change.start, change.end, now, why)
        return "move_refused"


def _notice(s, meeting_id: int, notice: str, at: datetime, text: str) -> None:
    """What Outlook changed or refused, for the meeting's officer: a domain event, delivered like every message
    (tsm.notifications; the officer's "my week" lists it if it could not be delivered)."""
    record(
        s, EventKind.OUTLOOK_CHANGE, OUTLOOK_KEY, at, meeting_id=meeting_id, notice=notice, text=_cut(text)
    )


def _cut(text: str) -> str:
    return text if len(text) <= 500 else text[:497] + "..."
