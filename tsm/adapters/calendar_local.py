"""The local calendar: officers' events kept in the database, and an RFC 5545 ``.ics`` invitation for
every booking, move and cancellation, so the embedded default works with no Microsoft tenant."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import bindparam, false
from sqlalchemy import select as core_select
from sqlmodel import select

from ..domain.model import Interval
from ..ports import CalendarRef, EventDetails, EventResult
from .db.calendars import CalendarEvent
from .db.engine import Database
from .db.hot import constants_in

BLOCKING = ("busy", "tentative", "oof")  # workingElsewhere and free do not block a slot


def _busy_query(officers):
    """The blocking entries of ``officers`` (a condition on the officer id) overlapping a window, built once: three
    columns as plain rows (every free-times card reads it; no ORM entities, no statement built per call)."""
    c = CalendarEvent.__table__.c
    return core_select(c.officer_id, c.start, c.end).where(
        officers(c.officer_id),
        c.cancelled == false(),
        constants_in(c.show_as, BLOCKING),
        c.start < bindparam("before"),
        c.end > bindparam("after"),
    )


_BUSY = _busy_query(lambda officer_id: officer_id.in_(bindparam("ids", expanding=True)))
# One officer's (bind ``officer_id``): what ``busy_select`` gives a caller to read with its own rows.
_BUSY_ONE = _busy_query(lambda officer_id: officer_id == bindparam("officer_id"))
PRODID = "-//TSM bot//Targeting Support Meetings//EN"


def build_ics(details: EventDetails, method: str, *, comment: str = "", now: datetime | None = None) -> bytes:
    """An iTIP message (RFC 5546) carrying one VEVENT: REQUEST for a booking or a move, CANCEL for a cancellation."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    ev = Event()
    ev.add("uid", details.ical_uid)
    ev.add("sequence", details.sequence)
    ev.add("dtstamp", now or datetime.now(UTC))
    ev.add("dtstart", details.start.astimezone(UTC))
    ev.add("dtend", details.end.astimezone(UTC))
    ev.add("summary", details.subject)
    if details.location:
        ev.add("location", details.location)
    description = details.body_text + (f"\n\n{comment}" if comment else "")
    ev.add("description", description)
    ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{details.organizer_email}")
    organizer.params["cn"] = vText(details.organizer_name)
    ev["organizer"] = organizer
    for a in details.attendees:
        att = vCalAddress(f"mailto:{a.email}")
        att.params["cn"] = vText(a.name)
        att.params["role"] = vText("REQ-PARTICIPANT" if a.required else "OPT-PARTICIPANT")
        att.params["partstat"] = vText("NEEDS-ACTION")
        att.params["rsvp"] = vText("TRUE")
        ev.add("attendee", att, encode=0)
    cal.add_component(ev)
    return cal.to_ical()


class LocalCalendar:
    """CalendarPort over the ``calendar_event`` table; invitations are written to ``invitations_dir``."""

    in_database = (
        True  # tsm.ports.InDatabaseCalendar: "Book it" writes the event in the booking's transaction
    )

    def __init__(self, db: Database, invitations_dir: Path | None = None) -> None:
        self.db = db
        self.invitations_dir = invitations_dir

    async def busy(self, calendars: Sequence[CalendarRef], window: Interval) -> dict[int, list[Interval]]:
        async with self.db.reader() as s:
            return await self.busy_in(s, calendars, window)

    def busy_select(self):
        """``busy_in``'s read for one officer, as a statement (``tsm.ports.BusyAsStatement``)."""
        return _BUSY_ONE

    async def busy_in(
        self, s, calendars: Sequence[CalendarRef], window: Interval
    ) -> dict[int, list[Interval]]:
        """``busy`` read in the caller's session (``tsm.ports.InDatabaseCalendar``)."""
        ids = [c.officer_id for c in calendars]
        out: dict[int, list[Interval]] = defaultdict(list)
        rows = await (await s.connection()).execute(
            _BUSY, {"ids": ids, "before": window.end, "after": window.start}
        )
        for officer_id, start, end in rows:
            out[officer_id].append(Interval(start, end))
        return {i: out.get(i, []) for i in ids}

    def create_in(self, s, details: EventDetails) -> str:
        """A new meeting's event, added to the caller's (the booking's) transaction. Its event id is the meeting's
        iCalendar UID, known before anything is written, so the meeting row carries it from its INSERT."""
        s.add(
            CalendarEvent(
                officer_id=details.organizer.officer_id,
                start=details.start,
                end=details.end,
                subject=details.subject,
                location=details.location,
                show_as="busy",
                meeting_id=details.meeting_id,
                ical_uid=details.ical_uid,
                cancelled=False,
            )
        )
        return details.ical_uid

    def invitation(self, details: EventDetails, method: str) -> bytes:
        """The ``.ics`` for the attendees, written under ``invitations_dir`` (after the booking committed)."""
        ics = build_ics(details, method)
        self._write(details, ics, method)
        return ics

    @staticmethod
    async def _find(s, event_id: str | None) -> CalendarEvent | None:
        """An event by its id: the row's number (events written through ``create_event``) or the meeting's UID
        (events written in the booking's transaction, ``create_in``)."""
        if not event_id:
            return None
        if event_id.isdigit():
            return await s.get(CalendarEvent, int(event_id))
        return (await s.exec(select(CalendarEvent).where(CalendarEvent.ical_uid == event_id))).first()

    def _write(self, details: EventDetails, ics: bytes, method: str) -> None:
        if self.invitations_dir is None:
            return
        self.invitations_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", details.ical_uid)
        (self.invitations_dir / f"{safe}-{details.sequence}-{method.lower()}.ics").write_bytes(ics)

    def purge_invitations(self, now: datetime, older_than: timedelta) -> int:
        """Delete the ``.ics`` files written more than ``older_than`` before ``now`` (they hold attendees' names
        and emails; the invitation itself went out by email and as a download link with its own expiry)."""
        if self.invitations_dir is None or not self.invitations_dir.is_dir():
            return 0
        cutoff = (now - older_than).timestamp()
        removed = 0
        for f in self.invitations_dir.glob("*.ics"):
            try:
                if f.is_file() and f.stat().st_mtime < cutoff:
                    f.unlink()
                    removed += 1
            except FileNotFoundError:  # another worker's sweep took it
                continue
        return removed

    async def create_event(self, details: EventDetails) -> EventResult:
        async with self.db.transaction() as s:
            existing = (
                await s.exec(select(CalendarEvent).where(CalendarEvent.ical_uid == details.ical_uid))
            ).first()
            ev = existing or CalendarEvent(
                officer_id=details.organizer.officer_id, start=details.start, end=details.end
            )
            ev.start, ev.end = details.start, details.end
            ev.subject, ev.location = details.subject, details.location
            ev.meeting_id, ev.ical_uid, ev.cancelled, ev.show_as = (
                details.meeting_id,
                details.ical_uid,
                False,
                "busy",
            )
            s.add(ev)
            await s.flush()
            event_id = str(ev.id)
        ics = build_ics(details, "REQUEST")
        self._write(details, ics, "REQUEST")
        return EventResult(event_id=event_id, join_url=None, ics=ics)

    async def update_event(self, event_id: str | None, details: EventDetails) -> EventResult:
        found = False
        if event_id:
            async with self.db.transaction() as s:
                ev = await self._find(s, event_id)
                if ev is not None:
                    found = True
                    ev.start, ev.end, ev.subject, ev.location, ev.cancelled = (
                        details.start,
                        details.end,
                        details.subject,
                        details.location,
                        False,
                    )
                    s.add(ev)
        if not found:
            return await self.create_event(details)
        ics = build_ics(details, "REQUEST")
        self._write(details, ics, "REQUEST")
        return EventResult(event_id=event_id, ics=ics)

    async def cancel_event(self, event_id: str | None, details: EventDetails, message: str) -> EventResult:
        if event_id:
            async with self.db.transaction() as s:
                ev = await self._find(s, event_id)
                if ev is not None:
                    ev.cancelled = True
                    s.add(ev)
        ics = build_ics(details, "CANCEL", comment=message)
        self._write(details, ics, "CANCEL")
        return EventResult(event_id=event_id or "", ics=ics)
