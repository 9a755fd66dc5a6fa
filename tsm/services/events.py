"""Domain events: one row per change of a meeting, written by the change's own transaction.

``record(s, ...)`` adds the row to the session that makes the change, so the event exists exactly when the
change does (a rolled-back booking leaves no event). Who is told what is decided elsewhere, in one place:
``tsm.notifications``.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.history import DomainEvent
from .actors import Actor

# Events recorded in the current task: a transport's turn runs in its own task, so after the turn this says whether
# it changed anything (the Teams bot then wakes delivery; a turn that only read wakes nothing).
_recorded: ContextVar[int] = ContextVar("tsm_events_recorded", default=0)


def recorded_in_this_task() -> int:
    return _recorded.get()


class EventKind(StrEnum):
    BOOKED = "booked"  # a school booked its own TSM
    PROPOSED = "proposed"  # the LA (its officer, an admin, the CLI) booked it for the school: a proposal
    ACCEPTED = "accepted"  # a school contact accepted the proposed time
    MOVED = "moved"
    CANCELLED = "cancelled"  # data: reason
    LEADER_UNAVAILABLE = "leader_unavailable"  # the school said its senior leader can't attend
    TIME_KEPT = "time_kept"  # the school kept the time after that ("Keep the current time"): mark cleared
    HELD = "held"
    NO_SHOW = "no_show"  # data: reason
    NO_SHOW_UNDONE = "no_show_undone"  # the officer corrected a no-show back to held
    ATTENDEE_ADDED = "attendee_added"
    BOOK_REQUESTED = (
        "book_requested"  # a school the LA contacts directly asked to book (school_id, no meeting)
    )
    CALENDAR_FAILED = "calendar_failed"  # data: text (an Outlook write finally failed)
    JOIN_LINK = "join_link"  # data: person, start (Outlook made a Teams link after the booking answered)
    OUTLOOK_CHANGE = "outlook_change"  # data: notice, text (declined, deleted or a refused move in Outlook)
    RECORD_SAVED = "record_saved"  # data: created (the TSM record written or updated)
    ENDED = "ended"  # the meeting's end was seen (Teams event or the timer)
    INVITED = "invited"  # the LA sent a school's staff their link to book (school_id, no meeting): tsm invite
    SIGNIN_REQUESTED = "signin_requested"  # someone asked the web page for a sign-in link (data: person)
    ACCESS_REQUESTED = (
        "access_requested"  # someone the bot does not know asked for access (data: la_id, name, email)
    )


def iso(dt: datetime) -> str:
    """A meeting's start as events and the delivery ledger write it (UTC, to the minute): the ledger's ``ref``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def record(
    s: AsyncSession,
    kind: EventKind,
    actor: Actor | str,
    at: datetime,
    *,
    meeting_id: int | None = None,
    school_id: int | None = None,
    **data: Any,
) -> DomainEvent:
    """Add the event to ``s`` (the change's own transaction)."""
    who = actor if isinstance(actor, str) else actor.key
    event = DomainEvent(
        kind=kind.value, meeting_id=meeting_id, school_id=school_id, actor=who[:80], at=at, data=data or None
    )
    s.add(event)
    _recorded.set(_recorded.get() + 1)
    return event
