"""Small read models the services return, so callers (bot, CLI, scheduler) never touch ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..domain.slots import Slot


@dataclass(frozen=True)
class AttendeeView:
    name: str
    email: str
    role: str
    required: bool
    response: str


@dataclass(frozen=True)
class MeetingView:
    id: int
    school_ids: tuple[int, ...]
    school_names: tuple[str, ...]
    officer_id: int
    officer_name: str
    officer_email: str
    term_id: int
    term_label: str
    start: datetime
    end: datetime
    mode: str
    meeting_type: str
    status: str
    location: str
    join_url: str | None
    timezone: str
    attendees: tuple[AttendeeView, ...] = ()

    @property
    def school_label(self) -> str:
        return " & ".join(self.school_names)


@dataclass(frozen=True)
class SlotOffer:
    """Free slots for a school in one term, with everything needed to explain them."""

    school_ids: tuple[int, ...]
    officer_id: int
    officer_name: str
    term_id: int
    term_label: str
    mode: str
    meeting_type: str
    duration_minutes: int
    timezone: str
    slots: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class BookingResult:
    meeting: MeetingView
    invitation_ics: bytes | None = None
    message: str = ""
