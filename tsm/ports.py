"""Ports: what the core needs from the outside world. Adapters implement them (local, Graph, Teams)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from .domain.model import Interval


@dataclass(frozen=True)
class CalendarRef:
    """Whose calendar: the officer's id in our database and their mailbox (UPN) for Graph."""

    officer_id: int
    mailbox: str


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    required: bool = True


@dataclass(frozen=True)
class EventDetails:
    """Everything a calendar needs to create, move or cancel a meeting's event."""

    meeting_id: int
    ical_uid: str
    sequence: int
    organizer: CalendarRef
    organizer_name: str
    organizer_email: str
    subject: str
    body_text: str
    start: datetime
    end: datetime
    location: str
    online: bool
    attendees: tuple[Attendee, ...] = ()


@dataclass(frozen=True)
class EventResult:
    event_id: str
    join_url: str | None = None
    ics: bytes | None = None  # the RFC 5545 invitation, where the adapter makes one
    attendee_responses: dict[str, str] = field(default_factory=dict)  # email -> accepted/declined/...


@dataclass(frozen=True)
class CalendarChange:
    """A change an adapter saw in an officer's calendar (change notification or delta), in plain terms.

    ``kind="deleted"``: the event is gone (deleted or cancelled in Outlook). ``kind="updated"``: the event as it
    is now: its times, attendees' answers (email -> accepted/declined/tentativelyAccepted/none/...), join URL.
    """

    officer_id: int
    event_id: str
    kind: Literal["updated", "deleted"]
    start: datetime | None = None
    end: datetime | None = None
    attendee_responses: dict[str, str] = field(default_factory=dict)
    join_url: str | None = None


class CalendarError(Exception):
    """A calendar call failed in a way a person should be told about (e.g. mailbox outside the access policy)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class CalendarPort(Protocol):
    async def busy(self, calendars: Sequence[CalendarRef], window: Interval) -> dict[int, list[Interval]]:
        """Busy intervals (busy, tentative, out of office; not free or working elsewhere) per officer id."""
        ...

    async def create_event(self, details: EventDetails) -> EventResult: ...

    async def update_event(self, event_id: str | None, details: EventDetails) -> EventResult: ...

    async def cancel_event(
        self, event_id: str | None, details: EventDetails, message: str
    ) -> EventResult: ...


@runtime_checkable
class BusyAsStatement(Protocol):
    """An in-database calendar whose busy read for one officer is a Core ``select`` of (officer_id, start, end) with
    the binds ``officer_id``, ``before`` and ``after``: a caller may read it in one statement with its own rows (the
    free times read the officer's TSMs and calendar entries in one round trip)."""

    def busy_select(self) -> Any: ...


@runtime_checkable
class InDatabaseCalendar(Protocol):
    """A calendar kept in the product's own database (the local calendar). Its reads and its writes can join the
    caller's transaction, so "Book it" reads the officer's busy times, books and writes the calendar entry in one
    transaction with no outbox round trip (``BookingService.book``). ``s`` is the caller's session.
    ``in_database`` False: the calendar is kept there but answers like Outlook (a test's stand-in), outbox path."""

    in_database: bool

    async def busy_in(
        self, s: Any, calendars: Sequence[CalendarRef], window: Interval
    ) -> dict[int, list[Interval]]: ...

    def create_in(self, s: Any, details: EventDetails) -> str:
        """Add the event to the caller's transaction; returns its event id (known before the flush)."""
        ...

    def invitation(self, details: EventDetails, method: str) -> bytes:
        """The ``.ics`` for attendees (written where the calendar keeps them), once the transaction committed."""
        ...
