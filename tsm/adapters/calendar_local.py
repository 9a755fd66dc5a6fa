"""The local calendar: officers' events kept in the database, and an RFC 5545 ``.ics`` invitation for
every booking, move and cancellation, so the embedded default works with no Microsoft tenant."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from icalendar import Calendar, Event, vCalAddress, vText
from sqlmodel import col, select

from ..domain.model import Interval
from ..ports import CalendarRef, EventDetails, EventResult
from .db.calendars import CalendarEvent
from .db.engine import Database

BLOCKING = ("busy", "tentative", "oof")  # workingElsewhere and free do not block a slot
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

    def __init__(self, db: Database, invitations_dir: Path | None = None) -> None:
        self.db = db
        self.invitations_dir = invitations_dir

    async def busy(self, calendars: Sequence[CalendarRef], window: Interval) -> dict[int, list[Interval]]:
        ids = [c.officer_id for c in calendars]
        out: dict[int, list[Interval]] = defaultdict(list)
        async with self.db.reader() as s:
            rows = await s.exec(
                select(CalendarEvent).where(
                    col(CalendarEvent.officer_id).in_(ids),
                    CalendarEvent.cancelled == False,  # noqa: E712
                    col(CalendarEvent.show_as).in_(BLOCKING),
                    CalendarEvent.start < window.end,
                    CalendarEvent.end > window.start,
                )
            )
            for ev in rows:
                out[ev.officer_id].append(Interval(ev.start, ev.end))
        return {i: out.get(i, []) for i in ids}

    def _write(self, details: EventDetails, ics: bytes, method: str) -> None:
        if self.invitations_dir is None:
            return
        self.invitations_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", details.ical_uid)
        (self.invitations_dir / f"{safe}-{details.sequence}-{method.lower()}.ics").write_bytes(ics)

    async def create_event(self, details: EventDetails) -> EventResult:
        async with self.db.transaction() as s:
            existing = (await s.exec(select(CalendarEvent).where(CalendarEvent.ical_uid == details.ical_uid))).first()
            ev = existing or CalendarEvent(officer_id=details.organizer.officer_id, start=details.start, end=details.end)
            ev.start, ev.end = details.start, details.end
            ev.subject, ev.location = details.subject, details.location
            ev.meeting_id, ev.ical_uid, ev.cancelled, ev.show_as = details.meeting_id, details.ical_uid, False, "busy"
            s.add(ev)
            await s.flush()
            event_id = str(ev.id)
        ics = build_ics(details, "REQUEST")
        self._write(details, ics, "REQUEST")
        return EventResult(event_id=event_id, join_url=None, ics=ics)

    async def update_event(self, event_id: str | None, details: EventDetails) -> EventResult:
        found = False
        if event_id is not None and event_id.isdigit():
            async with self.db.transaction() as s:
                ev = await s.get(CalendarEvent, int(event_id))
                if ev is not None:
                    found = True
                    ev.start, ev.end, ev.subject, ev.location, ev.cancelled = (
                        details.start, details.end, details.subject, details.location, False)
                    s.add(ev)
        if not found:
            return await self.create_event(details)
        ics = build_ics(details, "REQUEST")
        self._write(details, ics, "REQUEST")
        return EventResult(event_id=event_id, ics=ics)

    async def cancel_event(self, event_id: str | None, details: EventDetails, message: str) -> EventResult:
        if event_id is not None and event_id.isdigit():
            async with self.db.transaction() as s:
                ev = await s.get(CalendarEvent, int(event_id))
                if ev is not None:
                    ev.cancelled = True
                    s.add(ev)
        ics = build_ics(details, "CANCEL", comment=message)
        self._write(details, ics, "CANCEL")
        return EventResult(event_id=event_id or "", ics=ics)
