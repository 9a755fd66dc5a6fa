"""Who is told what: every domain event (``tsm.services.events``) → its recipients → the message, in one place.

The rules are one table, :data:`RULES`: for each kind of event, the audiences told and the message each gets.
Audiences are resolved from the database when the event is dispatched; the person who made the change is never
told of it (they saw it in their own reply). Messages are composed when they are sent, from the database as it
is then, so a proposal that reaches a school late (its staff installed the app a week after) still carries a
fresh "Accept / pick another time" card, and a message about a meeting cancelled since is not sent at all.

Delivery is not here: the scheduler's dispatch sweep (``scheduler.jobs.Jobs.events``) claims one ledger row per
(event, recipient) and sends it by the person's channel, exactly once, retried, and again when someone installs
the app later while the message is still useful.

| event | told | message |
|---|---|---|
| booked (by the school) | the staff invited; the officer; a joint TSM: every school's staff besides | the confirmation card; "<school> booked its TSM: <when>, <where>."; "<person> booked a joint TSM for <schools> ...: it is your school's TSM for the term." |
| proposed (the LA booked for the school) | the school's staff; the officer when an admin booked; other staff invited | the proposal card: Accept, or pick another free time this term; the confirmation card |
| accepted | the officer | "<person> accepted the TSM for <school>: <when>." |
| moved | the staff invited; the other side | the confirmation card with the new time; "The TSM for <school> has moved from <before> to <now>." |
| cancelled | the other side | "... was cancelled by <person>. Reason: <reason>" |
| leader_unavailable | the officer | "The senior leader of <school> can't attend ..." |
| time_kept (the school kept the time after that) | the officer | "<person> at <school> is keeping the TSM at <when> ...: it no longer needs rearranging." |
| book_requested | the school's officer | "<person> at <school> asked to book a TSM ..." |
| invited (an officer, an admin or the CLI asked) | the school's staff | the invitation to book: a Book button (by email: their sign-in link) |
| calendar_failed, outlook_change | the officer | what Outlook refused or changed |
| join_link (Outlook gave a Teams TSM its link after the booking's answer: the outbox, ``CalendarSync``) | the person who booked | the confirmation card with its Join on Teams button |
| record_saved | the school wrote it: the officer; the officer wrote it first: the school's attendees | the TSM record card |
| signin_requested (the web page's "email me a link") | the person who asked | their sign-in link, made when it is sent |
| access_requested (someone the bot does not know pressed "Ask the LA for access") | the LA's admins | who asked (name, email, tenant) and the LA's schools: Add as contact |
| held, no_show, no_show_undone, attendee_added, ended | nobody (recorded for the history and the reports) | |

Besides these, with the local calendar (Outlook sends its own), booked, proposed, moved, attendee_added and
cancelled each send the calendar invitation (``METHOD:REQUEST``/``CANCEL``, the meeting's UID and SEQUENCE) by
email to every attendee, school contact or not, and the officer, the person who made the change included; only the
latest change of a meeting sends one.

A person gets one message per event: the first rule that reaches them. "The other side" of a change made by school staff is the officer; of a change made by the officer, the school's
staff; of a change made by an LA admin, the CLI or the system, both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cards import booking as booking_cards
from cards import notifications as reminder_cards
from cards import record as record_cards

from .adapters.calendar_local import build_ics
from .adapters.db.delivery import Outbound
from .adapters.db.directory import Officer, School, SchoolContact
from .adapters.db.engine import Database
from .adapters.db.history import DomainEvent
from .adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from .chat.common import meeting_facts, place, slot_choices, term_words, when
from .chat.flows import PROPOSAL
from .domain.errors import BookingRefused, TsmError
from .domain.model import MeetingStatus
from .domain.text import day_text, days_words, plain, when_text
from .messaging import Invitation, Message, Recipient
from .services.actors import Actor
from .services.booking import BookingService
from .services.conversation import NOTIFY_ROLES, ConversationService
from .services.events import EventKind, iso
from .services.records import Records
from .services.signin import SignInLinks
from .services.views import MeetingView

CHANGEABLE = (MeetingStatus.BOOKED.value, MeetingStatus.MOVED.value)
KIND_PREFIX = "ev."  # ledger kinds of event messages: ev.<message>
# Changes that send the calendar invitation (local calendar: tsm.notifications.Notifications.invitations).
INVITATION_EVENTS = (
    EventKind.BOOKED,
    EventKind.PROPOSED,
    EventKind.MOVED,
    EventKind.ATTENDEE_ADDED,
    EventKind.CANCELLED,
)


class Audience(StrEnum):
    OFFICER = "officer"  # the meeting's (or the school's) link officer
    SCHOOL = "school"  # the school's active attendance leads and senior leaders
    ATTENDEES = "attendees"  # the school staff invited to the meeting
    OTHER_SIDE = "other_side"  # school staff acted: the officer; the officer acted: the school; else both
    PERSON = "person"  # the contact or officer the event names (data: person, "contact:12"): a sign-in link
    LA_ADMINS = "la_admins"  # the active LA admins of the LA the event names (data: la_id)


@dataclass(frozen=True)
class Rule:
    audience: Audience
    message: str  # the message kind (see Notifications._compose_*)
    actor_kinds: tuple[
        str, ...
    ] = ()  # only when the change was made by one of these kinds of actor (empty: any)
    unless_actor_is_officer: bool = False  # skip when the meeting's own officer made the change
    only_if: str = ""  # only when the event's data has this flag set


# For each event, its rules in order; a person gets one message per event, from the first rule that reaches them.
RULES: dict[EventKind, tuple[Rule, ...]] = {
    EventKind.BOOKED: (
        Rule(Audience.ATTENDEES, "confirm"),
        # A joint TSM booked by one school's contact is each school's TSM of the term: every school's staff are told.
        Rule(Audience.SCHOOL, "joint_booked", only_if="joint"),
        Rule(Audience.OFFICER, "school_booked"),
    ),
    EventKind.PROPOSED: (
        Rule(Audience.SCHOOL, "proposal"),
        Rule(Audience.OFFICER, "booked_for_officer", unless_actor_is_officer=True),
        Rule(Audience.ATTENDEES, "confirm"),
    ),
    EventKind.ACCEPTED: (Rule(Audience.OFFICER, "accepted"),),
    EventKind.MOVED: (Rule(Audience.ATTENDEES, "confirm"), Rule(Audience.OTHER_SIDE, "moved")),
    EventKind.CANCELLED: (Rule(Audience.OTHER_SIDE, "cancelled"),),
    EventKind.LEADER_UNAVAILABLE: (Rule(Audience.OFFICER, "leader_unavailable"),),
    EventKind.TIME_KEPT: (Rule(Audience.OFFICER, "time_kept"),),
    EventKind.BOOK_REQUESTED: (Rule(Audience.OFFICER, "book_requested"),),
    EventKind.CALENDAR_FAILED: (Rule(Audience.OFFICER, "officer_notice"),),
    EventKind.JOIN_LINK: (Rule(Audience.PERSON, "join_link"),),
    EventKind.OUTLOOK_CHANGE: (Rule(Audience.OFFICER, "officer_notice"),),
    EventKind.RECORD_SAVED: (
        Rule(Audience.OFFICER, "record_from_school", actor_kinds=("contact",)),
        Rule(Audience.ATTENDEES, "record_ready", actor_kinds=("officer", "admin"), only_if="created"),
    ),
    EventKind.HELD: (),
    EventKind.NO_SHOW: (),
    EventKind.NO_SHOW_UNDONE: (),
    EventKind.ATTENDEE_ADDED: (),
    EventKind.ENDED: (),
    EventKind.SIGNIN_REQUESTED: (Rule(Audience.PERSON, "signin"),),
    EventKind.INVITED: (Rule(Audience.SCHOOL, "invite"),),
    EventKind.ACCESS_REQUESTED: (Rule(Audience.LA_ADMINS, "access_request"),),
}


@dataclass(frozen=True)
class Undelivered:
    """A message that could not be delivered (yet): shown to LA admins (``tsm undelivered``) and in "my week"."""

    at: datetime
    kind: str
    recipient: str  # the person's name and school (or "officer")
    status: str  # undeliverable (no app yet, or blocked) | failed (gave up after retries)
    why: str


UNDELIVERED_WHY = {
    "no_conversation": "has not installed the TSM app yet",
    "blocked": "has blocked or removed the app",
}


@dataclass(frozen=True)
class Outgoing:
    """One message an event calls for: the ledger row's kind, recipient and ``ref`` (the meeting's start at the
    time of the event, which also says until when a late delivery is still useful)."""

    event_id: int
    kind: str  # ev.<message>
    recipient: Recipient
    ref: str


def _actor_of(key: str) -> tuple[str, int | None]:
    kind, _, rest = key.partition(":")
    return kind, int(rest) if rest.isdigit() else None


class Notifications:
    """Turns events into recipients and messages. Plain reads; no sending (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        booking: BookingService,
        conversations: ConversationService,
        records: Records,
        *,
        signin: SignInLinks | None = None,
        invitations: bool = False,
    ) -> None:
        self.db = db
        self.invitations = (
            invitations  # email the calendar invitations (the local calendar; Outlook sends its own)
        )
        self.signin = signin  # sign-in links for the web page (None: no page, no link sent)
        self.booking = booking
        self.conversations = conversations
        self.records = records

    # ------------------------------------------------------------------ who

    async def pending(self, limit: int = 500) -> list[DomainEvent]:
        """Events not dispatched yet, oldest first (the partial index ``ix_domain_event_pending``)."""
        async with self.db.reader() as s:
            return list(
                await s.exec(
                    select(DomainEvent)
                    .where(col(DomainEvent.dispatched_at).is_(None))
                    .order_by(DomainEvent.id)
                    .limit(limit)
                )
            )

    async def mark_dispatched(self, event_ids: Sequence[int], at: datetime) -> None:
        if not event_ids:
            return
        async with self.db.transaction() as s:
            await s.exec(
                update(DomainEvent)
                .where(col(DomainEvent.id).in_(list(event_ids)), col(DomainEvent.dispatched_at).is_(None))
                .values(dispatched_at=at)
                .execution_options(synchronize_session=False)
            )

    async def outgoing(self, events: Sequence[DomainEvent]) -> list[Outgoing]:
        """Every message the events call for, by :data:`RULES`."""
        out: list[Outgoing] = []
        async with self.db.reader() as s:
            for ev in events:
                rules = RULES.get(ev.kind, ())  # EventKind is a StrEnum: its members are their strings
                invites = self.invitations and ev.kind in INVITATION_EVENTS and ev.meeting_id is not None
                if not rules and not invites:
                    continue
                actor_kind, actor_id = _actor_of(ev.actor)
                officer_id, school_ids, ref = await self._subject(s, ev)
                if (
                    officer_id is None
                    and not school_ids
                    and not any(r.audience in (Audience.PERSON, Audience.LA_ADMINS) for r in rules)
                ):
                    continue
                told: set[Recipient] = (
                    set()
                )  # one message per person per event: the first rule that reaches them
                for rule in rules:
                    if rule.actor_kinds and actor_kind not in rule.actor_kinds:
                        continue
                    if rule.only_if and not (ev.data or {}).get(rule.only_if):
                        continue
                    if (
                        rule.unless_actor_is_officer
                        and actor_kind in ("officer", "admin")
                        and actor_id == officer_id
                    ):
                        continue
                    for r in await self._audience(
                        s, rule.audience, ev, actor_kind, actor_id, officer_id, school_ids
                    ):
                        if (r.kind, r.id) == (actor_kind if actor_kind != "admin" else "officer", actor_id):
                            continue  # whoever made the change saw it in their own reply
                        if r not in told:
                            told.add(r)
                            out.append(Outgoing(ev.id, KIND_PREFIX + rule.message, r, ref))
                if invites:  # besides any message above, and to whoever made the change too: a calendar entry
                    out.extend(
                        Outgoing(ev.id, KIND_PREFIX + "invitation", r, ref)
                        for r in await self._invitees(s, ev.meeting_id, officer_id)
                    )
        return out

    async def _invitees(self, s: AsyncSession, meeting_id: int, officer_id: int | None) -> list[Recipient]:
        """Everyone the calendar invitation goes to: each attendee (by the address invited) and the officer."""
        rows = await s.exec(
            select(MeetingAttendee.id)
            .where(MeetingAttendee.meeting_id == meeting_id)
            .order_by(MeetingAttendee.id)
        )
        return [
            *(Recipient("attendee", aid) for aid in rows),
            *([Recipient("officer", officer_id)] if officer_id is not None else []),
        ]

    async def _subject(self, s: AsyncSession, ev: DomainEvent) -> tuple[int | None, list[int], str]:
        if ev.meeting_id is not None:
            m = await s.get(Meeting, ev.meeting_id)
            if m is None:
                return None, [], ""
            schools = list(
                await s.exec(select(MeetingSchool.school_id).where(MeetingSchool.meeting_id == m.id))
            )
            start = (ev.data or {}).get("start")
            ref = start if isinstance(start, str) else iso(m.start)
            return m.officer_id, schools, ref
        if ev.school_id is not None:
            # domain_event.school_id's foreign key holds the school (a school is closed, never deleted)
            officer_id = (
                await s.exec(select(School.link_officer_id).where(School.id == ev.school_id))
            ).first()
            return officer_id, [ev.school_id], ""
        return None, [], ""

    async def _audience(
        self,
        s: AsyncSession,
        audience: Audience,
        ev: DomainEvent,
        actor_kind: str,
        actor_id: int | None,
        officer_id: int | None,
        school_ids: list[int],
    ) -> list[Recipient]:
        if audience is Audience.OTHER_SIDE:
            if actor_kind == "contact":
                audience = Audience.OFFICER
            # The officer's own change: the school. Both sides would say the same (the officer, who made it, is never
            # told), so flipping either comparison below changes nothing.
            elif actor_kind in ("officer", "admin") and actor_id == officer_id:  # equivalent-mutant[compare]
                audience = Audience.SCHOOL
            else:  # an LA admin, the CLI, the system: both sides
                return [
                    *await self._audience(
                        s, Audience.SCHOOL, ev, actor_kind, actor_id, officer_id, school_ids
                    ),
                    *await self._audience(
                        s, Audience.OFFICER, ev, actor_kind, actor_id, officer_id, school_ids
                    ),
                ]
        if audience is Audience.PERSON:
            kind, _, ident = str((ev.data or {}).get("person", "")).partition(":")
            return [Recipient(kind, int(ident))] if kind in ("contact", "officer") and ident.isdigit() else []
        if audience is Audience.OFFICER:
            return [Recipient("officer", officer_id)] if officer_id is not None else []
        if audience is Audience.LA_ADMINS:
            la_id = (ev.data or {}).get("la_id")
            rows = await s.exec(
                select(Officer.id)
                .where(
                    Officer.la_id == la_id,
                    Officer.is_admin == True,  # noqa: E712
                    Officer.active == True,  # noqa: E712
                )
                .order_by(Officer.id)
            )  # noqa: E712
            return [Recipient("officer", oid) for oid in rows] if isinstance(la_id, int) else []
        if audience is Audience.SCHOOL:
            rows = await s.exec(
                select(SchoolContact.id)
                .where(
                    col(SchoolContact.school_id).in_(school_ids),
                    SchoolContact.active == True,  # noqa: E712
                    col(SchoolContact.role).in_(NOTIFY_ROLES),
                )
                .order_by(SchoolContact.id)
            )
            return [Recipient("contact", cid) for cid in rows]
        if audience is Audience.ATTENDEES and ev.meeting_id is not None:
            rows = await s.exec(
                select(MeetingAttendee.contact_id)
                .where(
                    MeetingAttendee.meeting_id == ev.meeting_id, col(MeetingAttendee.contact_id).is_not(None)
                )
                .order_by(MeetingAttendee.id)
            )
            return [Recipient("contact", cid) for cid in rows]
        return []

    async def undelivered(
        self, *, since: datetime, officer_id: int | None = None, limit: int = 200
    ) -> list[Undelivered]:
        """Messages not delivered since ``since``: every one (an LA admin), or those to an officer and to the
        staff of their schools. Sent late when the person installs the app, while still useful."""
        q = (
            select(
                Outbound.created_at,
                Outbound.kind,
                Outbound.recipient_kind,
                Outbound.recipient_id,
                Outbound.status,
                Outbound.last_error,
            )
            .where(col(Outbound.status).in_(("undeliverable", "failed")), Outbound.created_at >= since)
            .order_by(col(Outbound.created_at).desc())
            .limit(limit)
        )
        if officer_id is not None:
            staff = (
                select(SchoolContact.id)
                .join(School, School.id == SchoolContact.school_id)
                .where(School.link_officer_id == officer_id)
            )
            q = q.where(
                ((Outbound.recipient_kind == "officer") & (Outbound.recipient_id == officer_id))
                | ((Outbound.recipient_kind == "contact") & col(Outbound.recipient_id).in_(staff))
            )
        out = []
        async with self.db.reader() as s:
            for at, kind, rkind, rid, status, error in await s.exec(q):
                if rkind == "contact":
                    c = await s.get(SchoolContact, rid)
                    school = await s.get(School, c.school_id) if c is not None else None
                    who = (
                        f"{c.name} ({school.name})"
                        if c is not None and school is not None  # equivalent-mutant[boolop]: FK holds school
                        else f"contact {rid}"
                    )
                elif rkind == "attendee":
                    a = await s.get(MeetingAttendee, rid)
                    who = f"{a.name} <{a.email}> (invited)" if a is not None else f"attendee {rid}"
                else:
                    o = await s.get(Officer, rid)
                    who = f"{o.name} (officer)" if o is not None else f"officer {rid}"
                out.append(
                    Undelivered(
                        at,
                        kind.removeprefix(KIND_PREFIX).replace("_", " "),
                        who,
                        status,
                        UNDELIVERED_WHY.get(error, error or status),
                    )
                )
        return out

    # ------------------------------------------------------------------ what

    async def compose(self, event_id: int, kind: str, recipient: Recipient) -> Message | None:
        """The message for one (event, recipient), from the database as it is now; None when no longer useful."""
        async with self.db.reader() as s:
            ev = await s.get(DomainEvent, event_id)
            if ev is None:
                return None
            actor_name = await self._actor_name(s, ev.actor)
            school = await s.get(School, ev.school_id) if ev.school_id is not None else None
        message = kind.removeprefix(KIND_PREFIX)
        data = ev.data or {}
        if message == "book_requested":
            return _book_requested(school, actor_name)
        if message == "invite":
            return await self._invite(school)
        if message == "signin":
            return await self._signin(recipient)
        if message == "access_request":
            return await self._access_request(data, school)
        if ev.meeting_id is None:
            return None
        v = await self.booking.get_meeting(Actor.system(), ev.meeting_id)
        active = v.status in CHANGEABLE
        if message == "invitation":
            return await self._invitation(ev, v)
        if message == "officer_notice":
            return Message(str(data.get("text", ""))[:500]) if data.get("text") else None
        if message in ("record_ready", "record_from_school"):
            return await self._record(v, message)
        if message == "cancelled":
            return Message(
                f"The TSM for {v.school_label} on {self._when(v, data.get('start'))} was cancelled by "
                f"{actor_name}. Reason: {plain(str(data.get('reason', '')))}".strip()
            )  # as typed, no markup
        if not active:
            return None  # cancelled (or past) since: the cancellation says so
        if message == "confirm":
            return await self._confirm(v, data)
        if message == "join_link":
            return self._join_link(v)
        if message == "school_booked":
            if len(v.school_names) > 1:  # a joint TSM a trust's school booked (issue 13, item 7)
                return Message(
                    f"{actor_name} booked a joint TSM for {', '.join(v.school_names)}: {when(v)}, {place(v)}."
                )
            return Message(f"{v.school_label} booked its TSM: {when(v)}, {place(v)}.")
        if message == "joint_booked":
            return Message(
                f"{actor_name} booked a joint TSM for {', '.join(v.school_names)} with {v.officer_name}: "
                f"{when(v)}, {place(v)}. It is your school's TSM for the {term_words(v.term_label)}: you can "
                "add a colleague, move or cancel it under my meetings."
            )
        if message == "booked_for_officer":
            return Message(
                f"{actor_name} booked a TSM for {v.school_label} in your calendar: {when(v)}, "
                f"{place(v)}. The school has been asked to accept it or pick another time."
            )
        if message == "proposal":
            return await self._proposal(v, recipient)
        if message == "accepted":
            return Message(f"{actor_name} accepted the TSM for {v.school_label}: {when(v)}.")
        if message == "moved":
            before = data.get("old_start")
            was = f" from {self._when(v, before)}" if isinstance(before, str) else ""
            return Message(f"The TSM for {v.school_label} has moved{was} to {when(v)}.")
        if message == "leader_unavailable":
            return Message(
                f"The senior leader of {v.school_label} can't attend the TSM on {when(v)}. The school has "
                "been offered other times this term."
            )
        if message == "time_kept":
            if data.get("start") != iso(v.start):
                return None  # moved since: the move says what stands
            return Message(
                f"{actor_name} at {v.school_label} is keeping the TSM on {when(v)}, after saying the senior "
                "leader couldn't attend: it no longer needs rearranging."
            )
        raise ValueError(f"unknown event message {kind}")

    async def _confirm(self, v: MeetingView, data: dict[str, Any]) -> Message | None:
        """The booking confirmation card (moved: the new time) for the school staff invited."""
        if data.get("start") != iso(v.start):
            return None  # moved again since: the later move confirms the time that stands
        view = self._confirm_view(v, moved="old_start" in data)
        return Message(reminder_cards.reminder_text(view), reminder_cards.reminder(view))

    def _confirm_view(self, v: MeetingView, *, moved: bool = False) -> reminder_cards.ReminderView:
        """The confirmation card's view of a meeting as it stands (its time, place and Teams link), sent now."""
        return reminder_cards.ReminderView(
            "confirm",
            v.school_label,
            v.officer_name,
            v.start,
            v.end,
            v.timezone,
            v.mode,
            v.location,
            v.join_url,
            moved=moved,
            sent_at=self.booking.clock(),
        )

    def _join_link(self, v: MeetingView) -> Message | None:
        """The Teams link Outlook made after the booking was confirmed, to the person who booked."""
        if not v.join_url:
            return None
        view = self._confirm_view(v)
        return Message(f"The Teams link for your TSM is ready: {when(v)}", reminder_cards.reminder(view))

    def _when(self, v: MeetingView, start_iso: object) -> str:
        if isinstance(start_iso, str):
            try:
                start = datetime.fromisoformat(start_iso.replace("Z", "+00:00"))
                return when_text(start, start + (v.end - v.start), ZoneInfo(v.timezone))
            except ValueError:
                pass
        return when(v)

    async def _actor_name(self, s: AsyncSession, key: str) -> str:
        kind, ident = _actor_of(key)
        if kind == "contact" and ident is not None:
            c = await s.get(SchoolContact, ident)
            return c.name if c is not None else "The school"
        if kind in ("officer", "admin") and ident is not None:
            o = await s.get(Officer, ident)
            return o.name if o is not None else "The LA"
        return "the LA attendance team" if kind == "admin" else "the TSM service"

    async def _access_request(self, data: dict[str, Any], school: School | None) -> Message:
        """An LA admin: who asked for access, with the LA's open schools to add them to (their tenant's first)."""
        async with self.db.reader() as s:
            rows = list(
                await s.exec(
                    select(School.name, School.urn)
                    .where(School.la_id == data.get("la_id"), School.open == True)  # noqa: E712
                    .order_by(School.name)
                )
            )  # noqa: E712
        schools = [(n, str(u)) for n, u in rows]
        if school is not None:
            schools.sort(key=lambda row: row[1] != str(school.urn))
        name, email = str(data.get("name", "")), str(data.get("email", ""))
        view = reminder_cards.AccessRequestView(name, email, str(data.get("tenant", "")), tuple(schools))
        return Message(
            f"{plain(name) or email} asks for access to the TSM bot", reminder_cards.access_request(view)
        )

    async def _proposal(self, v: MeetingView, recipient: Recipient) -> Message:
        """Accept, or pick another free time this term: the slots are worked out now and kept server-side."""
        try:
            fresh = await self.booking.free_slots(
                Actor.system(),
                list(v.school_ids),
                term=v.term_id,
                mode=v.mode,
                meeting_type=v.meeting_type,
                exclude_meeting_id=v.id,
            )
            saved = await self.conversations.save_offer(
                None, PROPOSAL.kind, fresh, meeting_id=v.id, ttl=PROPOSAL.ttl, school_name=v.school_label
            )
            offer_id, choices = saved.id, slot_choices(saved, 6)
        except BookingRefused:
            offer_id, choices = None, ()
        card = booking_cards.proposal(
            booking_cards.ProposalView(v.id, v.officer_name, meeting_facts(v), offer_id, choices, v.join_url)
        )
        return Message(f"{v.officer_name} booked your TSM: {when(v)}. Accept it or pick another time.", card)

    async def waiting(self, actor: Actor, *, limit: int = 3) -> list[Message]:
        """What a school contact has still to answer: the times the LA booked for their school that nobody at the
        school has accepted or moved since (the web page's home shows them as the same proposal card, fresh)."""
        if actor.kind != "contact" or actor.school_id is None:
            return []
        answered = (EventKind.ACCEPTED.value, EventKind.MOVED.value, EventKind.CANCELLED.value)
        out: list[Message] = []
        for v in await self.booking.list_meetings(actor, since=self.booking.clock()):
            if v.status not in CHANGEABLE:
                continue
            async with self.db.reader() as s:
                kinds = list(
                    await s.exec(
                        select(DomainEvent.kind)
                        .where(DomainEvent.meeting_id == v.id)
                        .order_by(col(DomainEvent.id).desc())
                    )
                )
            last = next(
                (k for k in kinds if k in (EventKind.PROPOSED.value, EventKind.BOOKED.value, *answered)), None
            )
            if last == EventKind.PROPOSED.value:
                out.append(await self._proposal(v, Recipient("contact", actor.id)))
            if len(out) >= limit:
                break
        if len(out) < limit:
            offer = await self._next_term_offer(actor)
            if offer is not None:
                out.append(offer)
        return out

    async def _next_term_offer(self, actor: Actor) -> Message | None:
        """The term after the school's last held TSM, when nothing is booked in it yet: its free times, the card the
        meeting's end sent (with the LA's rule: the school picks, or the officer proposes)."""
        meetings = await self.booking.list_meetings(actor, include_inactive=True)
        held = [v for v in meetings if v.status == MeetingStatus.HELD.value]
        if not held:
            return None
        last = max(held, key=lambda v: v.start)
        async with self.db.reader() as s:
            # the school of a contact with a TSM held: the foreign keys hold it (a school is closed, never deleted)
            school = await s.get_one(School, actor.school_id)
            policy, tz = await self.booking.ref.policy_for_la(s, school.la_id)
            calendar = await self.booking.ref.calendar(s, school.la_id)
        held_term = next((t for t in calendar.terms if t.id == last.term_id), None)
        target = calendar.next_after(held_term) if held_term is not None else None
        today = self.booking.clock().astimezone(tz).date()
        if (
            target is None
            or target.id is None
            or target.dates.last < today
            or any(v.term_id == target.id and v.status in CHANGEABLE for v in meetings)
        ):
            return None
        try:
            offer = await self.booking.free_slots(actor, [school.id], term=target.id, mode=last.mode, limit=5)
        except TsmError:
            return None
        can_pick = policy.next_tsm_at_meeting_end == "offer_both"
        view = reminder_cards.OfferView(
            heading=f"Book your {term_words(offer.term_label)} TSM now?"
            if can_pick
            else f"Your link officer will propose your {term_words(offer.term_label)} TSM",
            school=school.name,
            school_id=school.id,
            officer=offer.officer_name,
            term=offer.term_label,
            mode=last.mode,
            timezone=offer.timezone,
            slots=tuple(reminder_cards.OfferSlot(sl.start, sl.end) for sl in offer.slots),
            can_pick=can_pick,
        )
        return Message(f"Next TSM for {school.name}", reminder_cards.next_tsm_offer(view))

    async def _signin(self, recipient: Recipient) -> Message | None:
        """The sign-in link someone asked the web page for, made now (only its hash is kept; a link in a message
        that could not be delivered is never usable by anyone else)."""
        if self.signin is None:
            return None
        url = await self.signin.issue(recipient)
        if url is None:
            return None
        return _signin_message(url, max(1, round(self.signin.link_ttl.total_seconds() / 86400)))

    async def _invitation(self, ev: DomainEvent, v: MeetingView) -> Message | None:
        """The calendar invitation as the meeting stands now (its UID, its SEQUENCE): REQUEST for a booking, a move or
        a colleague added, CANCEL for a cancellation. None when a later change of the meeting sends its own."""
        sync = self.booking.sync
        if sync is None:
            return None
        cancel = ev.kind == EventKind.CANCELLED.value
        data = ev.data or {}
        if cancel != (v.status == MeetingStatus.CANCELLED.value):
            return None
        if not cancel and data.get("start") != iso(v.start):
            return None  # moved since: the move's invitation stands
        async with self.db.reader() as s:
            later = (
                await s.exec(
                    select(DomainEvent.id)
                    .where(
                        DomainEvent.meeting_id == ev.meeting_id,
                        DomainEvent.id > ev.id,
                        col(DomainEvent.kind).in_([k.value for k in INVITATION_EVENTS]),
                    )
                    .limit(1)  # equivalent-mutant[constant=2]: only the first row is read
                )
            ).first()
        if later is not None:
            return None  # a later change's invitation carries this one's news too
        details, _ = await sync.details(ev.meeting_id)
        method = "CANCEL" if cancel else "REQUEST"
        reason = str(data.get("reason", "")) if cancel else ""
        ics = build_ics(
            details, method, comment=f"Reason: {reason}" if reason else "", now=self.booking.clock()
        )
        head = "Cancelled" if cancel else ("Invitation" if details.sequence == 0 else "Updated invitation")
        lines = [f"{head}: {details.subject}, {when(v)}", details.body_text]
        if reason:
            lines.append(f"Reason for cancelling: {reason}")
        lines.append(
            "Open the attached cancel.ics to take it out of your calendar."
            if cancel
            else "Open the attached invite.ics to add it to your calendar (or to update it there)."
        )
        return Message("\n\n".join(lines), invitation=Invitation(method, ics))

    async def _invite(self, school: School | None) -> Message | None:
        return await invite_message(self.db, school)

    async def _record(self, v: MeetingView, message: str) -> Message | None:
        view = await self.records.view(Actor.system(), v.id)  # the record as it is now
        day = day_text(v.start, ZoneInfo(v.timezone), weekday=False)
        if message == "record_from_school":
            return Message(
                f"{v.school_label} updated the TSM record of {day}.", record_cards.record_card(view)
            )
        return Message(
            f"The record of your TSM of {day} is ready: figures, agreed actions and who leads.",
            record_cards.record_card(view),
        )


def _signin_message(url: str, days: int) -> Message:
    """Text only: the link is the message (an email channel adds no second link to a message without a card)."""
    return Message(
        f"Here is your link to sign in to the TSM booking page: {url}\n\nIt works once, for {days_words(days)}. "
        "If you did not ask for it, you can ignore this message: nothing happens until the link is opened.",
        email_only=True,
    )  # they asked the page for it by giving this address: it goes there


async def invite_message(
    db: Database, school: School | None, *, chaser: bool = False, term_start: bool = False
) -> Message | None:
    """The invitation to book this term's TSM, with the Book button (an email carries the sign-in link instead):
    an officer's ``invite``, the start-of-term nudge, the chaser."""
    if school is None or not school.open or school.link_officer_id is None:
        return None
    async with db.reader() as s:
        # school.link_officer_id's foreign key holds the officer (an officer is made inactive, never deleted)
        officer = await s.get_one(Officer, school.link_officer_id)
    if chaser:
        text = f"{school.name} has no TSM booked this term yet: please pick a time with {officer.name}."
    elif term_start:
        text = f"A new term has started: please book {school.name}'s TSM with {officer.name}."
    else:
        text = f"{officer.name} invites {school.name} to book this term's TSM."
    view = reminder_cards.BookInviteView(
        "Book this term's TSM",
        text + " It takes a minute: pick a day and a time that suit you.",
        school.name,
        officer.name,
    )
    return Message(text, reminder_cards.book_invite(view))


def _book_requested(school: School | None, actor_name: str) -> Message | None:
    if school is None:
        return None
    return Message(
        f"{actor_name} at {school.name} asked to book a TSM. The school is contacted directly, so "
        "please get in touch to arrange it (say **book for school** to book it here)."
    )
