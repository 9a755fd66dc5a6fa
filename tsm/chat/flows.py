"""The kinds of offer a booking card carries, as data: one object per flow instead of comparisons of
``offer.kind`` strings scattered over the handlers.

An offer (``tsm.services.conversation.Offer``, kept server-side) is the free times a card shows; its ``kind``
names the flow it belongs to, and the flow says everything the handlers need about it: the card's heading, the
verb (and button) that picks a time, how long the offer lasts, whom it is bound to, and what picking a time leads
to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ..services.conversation import FLOW_TTL, PROPOSAL_TTL


class Next(StrEnum):
    """What picking a time leads to."""

    ATTENDEES = "attendees"  # the school chooses who attends, then confirms (a school booking its own TSM)
    CONFIRM_BOOKING = "confirm_booking"  # confirm, then the school is asked to accept (the LA booking for it)
    CONFIRM_MOVE = "confirm_move"  # confirm moving the existing meeting
    JOINT_ATTENDEES = "joint_attendees"  # a senior leader for each school of a joint TSM, then confirm


@dataclass(frozen=True)
class Flow:
    kind: str  # the offer's kind, as stored
    heading: str  # the dates and times cards' heading
    pick_verb: str  # the verb that picks one of the times (slots cards)
    pick_title: str  # its button
    confirm_verb: str  # the verb of the confirm card's positive button
    ttl: timedelta  # how long the offer lasts
    for_school_staff: (
        bool  # bound to any of the school's staff (sent to them), not to the person who opened it
    )
    next: Next
    # One TSM for several schools of one trust (issue 13, item 7): the offer holds the schools (and the site).
    joint: bool = False
    times_verb: str = "book.pick_time"  # the verb that picks a time on the dates-then-times cards

    @property
    def books(self) -> bool:
        """Picking a time books a new meeting (rather than moving one)."""
        return self.next is not Next.CONFIRM_MOVE


BOOK = Flow(
    "book",
    "Book your TSM",
    "book.pick_time",
    "Choose this time",
    "book.confirm",
    FLOW_TTL,
    False,
    Next.ATTENDEES,
)
OFFICER_BOOK = Flow(
    "officer_book",
    "Book a TSM for the school",
    "book.pick_time",
    "Choose this time",
    "book.confirm",
    FLOW_TTL,
    False,
    Next.CONFIRM_BOOKING,
)
MOVE = Flow(
    "move",
    "Move your TSM",
    "meeting.move",
    "Move to this time",
    "meeting.move",
    FLOW_TTL,
    False,
    Next.CONFIRM_MOVE,
)
PROPOSAL = Flow(
    "proposal",
    "Pick another time",
    "offer.pick_slot",
    "Move to this time",
    "offer.pick_slot",
    PROPOSAL_TTL,
    True,
    Next.CONFIRM_MOVE,
)
# A joint TSM for several schools of one trust (Kent's FAQ), booked by their officer or, where the LA's profile allows
# it (booking.trust_contacts_book_joint), by a contact of one of them: the schools and the place are chosen on the
# first card and kept with the offer; each school's senior leader on the last (tsm/chat/joint.py).
JOINT = Flow(
    "joint",
    "Book a joint TSM",
    "joint.pick_time",
    "Choose this time",
    "joint.confirm",
    FLOW_TTL,
    False,
    Next.JOINT_ATTENDEES,
    joint=True,
    times_verb="joint.pick_time",
)

FLOWS: dict[str, Flow] = {f.kind: f for f in (BOOK, OFFICER_BOOK, MOVE, PROPOSAL, JOINT)}
# The one-school booking steps (book.pick_start, book.confirm): a joint offer has its own (joint.*).
BOOKING_KINDS = tuple(f.kind for f in FLOWS.values() if f.books and not f.joint)
MOVING_KINDS = tuple(f.kind for f in FLOWS.values() if not f.books)


def flow_of(kind: str) -> Flow:
    """The flow of an offer's kind (offers are written only by this package, so an unknown kind is a bug)."""
    return FLOWS[kind]


def booking_flow(*, officer: bool) -> Flow:
    return OFFICER_BOOK if officer else BOOK
