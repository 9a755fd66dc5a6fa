"""What the conversations need beyond booking: offers kept server-side, a school's facts in words, officers'
school statuses, "our senior leader can't attend", and a school accepting a time its officer booked.

Every method takes the acting :class:`Actor` and checks it; nothing here trusts card data.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, delete
from sqlalchemy import insert as core_insert
from sqlalchemy import select as core_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import configure_mappers
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import select

from ..adapters.db.directory import LA, Officer, School, SchoolContact, TrustOfficer
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog
from ..adapters.db.hot import HotStatement
from ..adapters.db.meetings import Meeting, MeetingAttendee, MeetingLeaderUnavailable, MeetingSchool
from ..adapters.db.offers import ChatOffer
from ..domain.entitlement import Entitlement, entitlement_for, figures_words
from ..domain.errors import BookingRefused, InvalidInput, NotAllowed, NotFound
from ..domain.feedback import allowed_from_names
from ..domain.model import ContactRole, MeetingStatus, Mode
from ..domain.pupil_data import free_text
from ..domain.schools import school_facts as domain_school_facts
from ..domain.terms import TermCalendar
from .actors import Actor
from .actors import check_school as _check_school
from .booking import CHANGEABLE, BookingService, KnownSchools, now_utc, school_facts
from .events import EventKind, iso, record
from .officer_loads import officer_loads
from .reference import ReferenceData
from .views import MeetingView, SlotOffer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FLOW_TTL = timedelta(days=3)  # an interactive flow the person walked away from
PROPOSAL_TTL = timedelta(days=21)  # a card sent to a school about a time its officer booked
OFFER_CACHE_SIZE = 512  # offers kept in memory (a card's next step usually comes straight after it was shown)
NOTIFY_ROLES = (ContactRole.ATTENDANCE_LEAD.value, ContactRole.SENIOR_LEADER.value)


def _minutes(dt: datetime) -> int:
    return int((dt - EPOCH).total_seconds() // 60)


def _instant(minutes: int) -> datetime:
    return datetime.fromtimestamp(60 * minutes, UTC)  # = EPOCH + minutes, built in C (a term has hundreds)


@dataclass(frozen=True)
class Offer:
    """A server-side offer: the slots a card showed, who may pick one, and the flow's state."""

    id: str
    kind: str  # book | officer_book | move | proposal
    actor_key: str
    school_ids: tuple[int, ...]
    meeting_id: int | None
    term_id: int
    mode: str
    meeting_type: str
    duration: timedelta
    timezone: str
    starts: tuple[datetime, ...]
    expires_at: datetime
    officer_name: str = ""
    term_label: str = ""
    school_name: str = ""
    site_school_id: int | None = None  # a joint TSM on site: the school whose site it is held at

    def has(self, start: datetime) -> bool:
        return start in self._start_set

    @cached_property
    def _start_set(self) -> frozenset[datetime]:
        return frozenset(self.starts)

    @cached_property
    def days(self) -> dict[date, tuple[datetime, ...]]:
        """The starts by local day (in the offer's time zone), days and times in order; worked out once."""
        tz = ZoneInfo(self.timezone)
        out: dict[date, list[datetime]] = {}
        for s in sorted(self.starts):
            out.setdefault(s.astimezone(tz).date(), []).append(s)
        return {d: tuple(v) for d, v in out.items()}


@dataclass(frozen=True)
class SchoolInfo:
    id: int
    urn: int
    name: str
    phase: str
    attendance_pct: float | None
    attendance_period: str | None
    address: str
    officer_id: int | None
    officer_name: str
    officer_email: str
    la_name: str
    modes_allowed: tuple[str, ...]
    default_mode: str
    entitlement: Entitlement
    national_average_year: str  # the year and measure of the average compared with ("" when none)
    figures: str = ""  # the school's figure and the average of the same period, in words, for the school
    figures_for_officer: str = ""  # the same for its officer
    # The terms (ids) in which the school holds an active TSM (booked, moved or held), past terms included.
    booked_term_ids: frozenset[int] = frozenset()
    _row: tuple = field(default=(), repr=False, compare=False)  # the school-info row it was made from

    @cached_property
    def known(self) -> KnownSchools | None:
        """The school and its officer as entities, for the free times in the same turn (not read again)."""
        return _known(self._row) if self._row else None


@dataclass(frozen=True)
class SchoolStatus:
    school_id: int
    urn: int
    name: str
    status: str  # booked | held | not_booked | contacted_directly
    meeting_id: int | None
    start: datetime | None
    mode: str | None
    expectation: str
    joint: bool = False  # its TSM this term is a joint TSM with other schools of its trust
    trust_code: str | None = None  # its trust (a joint TSM is for several schools of one trust)


@dataclass(frozen=True, slots=True)
class _SchoolRow:
    """The columns of a school a turn needs (what the entitlement rules and the access check read)."""

    id: int
    urn: int
    la_id: int
    name: str
    type_name: str
    type_group: str
    phase_of_education: str
    phase: str
    street: str
    town: str
    postcode: str
    attendance_pct: float | None
    attendance_period: str | None
    link_officer_id: int | None

    @property
    def address(self) -> str:
        return ", ".join(p for p in (self.street, self.town, self.postcode) if p)


class _IdList(FunctionElement):
    """Integers joined with commas in one text (an aggregate): ``group_concat(x)`` on SQLite, ``string_agg`` on
    PostgreSQL; the separator is written into the SQL, so the statement has no parameter of its own."""

    type = String()
    inherit_cache = True
    name = "id_list"


@compiles(_IdList)
def _id_list_default(element, compiler, **kw):
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(_IdList, "postgresql")
def _id_list_pg(element, compiler, **kw):
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ',')"


_SCHOOL_COLUMNS = tuple(c.name for c in School.__table__.columns)
_OFFICER_COLUMNS = tuple(c.name for c in Officer.__table__.columns)
_SCHOOL_ROW_AT = tuple(_SCHOOL_COLUMNS.index(f.name) for f in dataclasses.fields(_SchoolRow))


def _school_info_query():
    """The school's whole row, its link officer's whole row (the free times need both: ``KnownSchools``), then its
    LA's policy and time zone, its trust's officer in its LA and the terms it holds a TSM in."""
    sc, o, la, t = School.__table__.c, Officer.__table__.c, LA.__table__.c, TrustOfficer.__table__.c
    ms = MeetingSchool.__table__.c
    return (
        core_select(
            *School.__table__.columns,
            *(c.label(f"officer_{c.name}") for c in Officer.__table__.columns),
            la.policy.label("la_policy"),
            la.timezone.label("la_timezone"),
            t.officer_id.label("trust_officer_id"),
            # The terms the school holds an active TSM in (meeting_school.active_term_id, NULL once a meeting is
            # cancelled or a no-show), read with the school: the first booking card needs them on every turn, and
            # the unique (school_id, active_term_id) index answers it without touching the meetings.
            core_select(_IdList(ms.active_term_id))
            .where(ms.school_id == sc.id, ms.active_term_id.is_not(None))
            .scalar_subquery()
            .label("booked_term_ids"),
        )
        .select_from(
            School.__table__.join(LA.__table__, la.id == sc.la_id)
            .outerjoin(Officer.__table__, o.id == sc.link_officer_id)
            .outerjoin(TrustOfficer.__table__, (t.trust_code == sc.trust_code) & (t.la_id == sc.la_id))
        )
        .where(sc.id == bindparam("school_id"))
    )


def _entity(cls: Any, names: tuple[str, ...], values: Sequence[Any]) -> Any:
    """A detached entity of ``cls`` holding a row's values, made as the ORM makes one it loads (the class's
    ``__new__``, then the values into its state's dict), not through ``__init__``, whose defaults and checks are
    for new rows (and cost ten times as much)."""
    configure_mappers()  # at once when done: the first turn after start-up may come before any ORM read
    obj = cls.__mapper__.class_manager.new_instance()
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


def _known(row: tuple) -> KnownSchools:
    """The school and officer of a school-info row as detached entities, for ``BookingService.free_slots``."""
    n, m = len(_SCHOOL_COLUMNS), len(_OFFICER_COLUMNS)
    school: School = _entity(School, _SCHOOL_COLUMNS, row[:n])
    officer: Officer | None = (
        _entity(Officer, _OFFICER_COLUMNS, row[n : n + m]) if row[n] is not None else None
    )
    return KnownSchools((school,), officer)


# Built once: a turn's hot reads are one Core statement each (no ORM identity map, no per-turn statement building).
_SCHOOL_INFO_STMT = _school_info_query()
_SCHOOL_INFO = HotStatement(_SCHOOL_INFO_STMT)
_INSERT_OFFER = HotStatement(core_insert(ChatOffer.__table__))
_OFFER_BY_ID = HotStatement(
    core_select(ChatOffer.__table__).where(ChatOffer.__table__.c.id == bindparam("offer_id"))
)


class ExpiredOffer(InvalidInput):
    """The card's offer has expired or is gone: the caller starts the step again with fresh slots."""

    def __init__(self, message: str, offer: Offer | None = None) -> None:
        super().__init__(message)
        self.offer = offer


class ConversationService:
    def __init__(
        self,
        db: Database,
        booking: BookingService,
        reference: ReferenceData,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.db = db
        self.booking = booking
        self.ref = reference
        self.clock = clock
        # Offers this process wrote or read, by id. A chat_offer row never changes once written; the only
        # deletion is the housekeeping of offers expired 30 days ago, so a copy that has not expired is exactly
        # what the database holds, on this instance or another. Expired ones are always read afresh.
        self._offers: OrderedDict[str, Offer] = OrderedDict()

    # ------------------------------------------------------------------ offers

    def _remember(self, offer: Offer) -> Offer:
        self._offers[offer.id] = offer
        self._offers.move_to_end(offer.id)
        while len(self._offers) > OFFER_CACHE_SIZE:
            self._offers.popitem(last=False)
        return offer

    async def save_offer(
        self,
        actor: Actor | None,
        kind: str,
        offer: SlotOffer,
        *,
        meeting_id: int | None = None,
        ttl: timedelta = FLOW_TTL,
        starts: Sequence[datetime] | None = None,
        school_name: str = "",
        site_school_id: int | None = None,
    ) -> Offer:
        """Keep the slots a card is about to show. ``actor`` None: any contact of the offer's schools may pick.
        ``site_school_id``: a joint TSM on site, held at that one of the offer's schools."""
        if site_school_id is not None and site_school_id not in offer.school_ids:
            raise InvalidInput("The meeting's place must be the site of one of its schools.")
        now = self.clock()
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "actor_key": actor.key if actor is not None else "",
            "school_ids": list(offer.school_ids),
            "meeting_id": meeting_id,
            "term_id": offer.term_id,
            "mode": offer.mode,
            "meeting_type": offer.meeting_type,
            "duration_minutes": offer.duration_minutes,
            "timezone": offer.timezone,
            "slots": [
                _minutes(s) for s in (starts if starts is not None else [sl.start for sl in offer.slots])
            ],
            "context": {
                "officer": offer.officer_name,
                "term": offer.term_label,
                "school": school_name,
                **({"site": site_school_id} if site_school_id is not None else {}),
            },
            "created_at": now,
            "expires_at": now + ttl,
        }
        # One INSERT built once (no ORM unit of work, no entity made): one round trip on PostgreSQL. The offer kept
        # is made from the row's values as a read of it would be (``_offer``).
        await _INSERT_OFFER.write(self.db, **values)
        assert _OFFER_BY_ID.row is not None
        return self._remember(_offer(_OFFER_BY_ID.row(**values)))

    async def offer(self, actor: Actor, offer_id: object) -> Offer:
        """The offer a card refers to, if the actor may use it; otherwise a clear refusal."""
        if not isinstance(offer_id, str) or not offer_id or len(offer_id) > 32 or not offer_id.isalnum():
            raise InvalidInput("This card is missing the times it offered. Type **book** to start again.")
        now = self.clock()
        offer = self._offers.get(offer_id)
        if offer is None or offer.expires_at <= now:
            row = await _OFFER_BY_ID.first(self.db, offer_id=offer_id)
            if row is None:
                self._offers.pop(offer_id, None)
                raise ExpiredOffer(
                    "Those times are no longer on offer, so nothing was changed. Type **book** (or "
                    "**my meetings**) to start again."
                )
            offer = self._remember(_offer(row))
        if offer.actor_key:
            if offer.actor_key != actor.key:
                raise NotAllowed("That card was made for someone else: nothing was changed.")
        elif not (actor.kind == "contact" and actor.school_id in offer.school_ids):
            raise NotAllowed("That card was sent to another school: nothing was changed.")
        if offer.expires_at <= now:
            raise ExpiredOffer("That card has expired (its times may have gone). Here are fresh ones.", offer)
        return offer

    async def purge_offers(self, older_than: timedelta = timedelta(days=30)) -> int:
        cutoff = self.clock() - older_than
        async with self.db.transaction() as s:
            done = await s.exec(delete(ChatOffer).where(ChatOffer.expires_at < cutoff))
        for oid in [oid for oid, o in self._offers.items() if o.expires_at < cutoff]:
            del self._offers[oid]
        return done.rowcount

    # ------------------------------------------------------------------ reading

    async def school_info(self, actor: Actor, school_id: int) -> SchoolInfo:
        """The school, its link officer, LA and trust allocation in one query (a turn's hot path)."""
        if not isinstance(school_id, int) or isinstance(school_id, bool):
            raise NotFound("No such school.")
        row = await _SCHOOL_INFO.first(self.db, school_id=school_id)
        if row is None:
            raise NotFound("No such school.")
        school = _SchoolRow(*(row[i] for i in _SCHOOL_ROW_AT))
        _check_school(actor, school)
        officer_id, officer_name, officer_email = row.officer_id, row.officer_name, row.officer_email
        la_policy, trust_officer, booked = row.la_policy, row.trust_officer_id, row.booked_term_ids
        policy = self.ref.policy(la_policy)
        facts = domain_school_facts(school, trust_has_allocated_officer=bool(trust_officer))
        ent = entitlement_for(facts, policy)
        return SchoolInfo(
            school.id,
            school.urn,
            school.name,
            school.phase,
            school.attendance_pct,
            school.attendance_period,
            school.address,
            officer_id,
            officer_name or "",
            officer_email or "",
            policy.la_name,
            tuple(m.value for m in policy.modes_allowed),
            policy.default_mode.value,
            ent,
            ent.average.label if ent.average else "",
            figures_words(facts, policy),
            figures_words(facts, policy, officer_view=True),
            frozenset(int(t) for t in booked.split(",")) if booked else frozenset(),
            _row=tuple(row),
        )

    async def officer_statuses(self, actor: Actor) -> tuple[str, list[SchoolStatus]]:
        """The officer's schools and their TSM this term: (term label, statuses)."""
        if not actor.is_officer:
            raise NotAllowed("Only link officers have a list of schools.")
        now = self.clock()
        out: list[SchoolStatus] = []
        label = ""
        async with self.db.reader() as s:
            schools = list(
                await s.exec(
                    select(School)
                    .where(School.link_officer_id == actor.id, School.open == True)  # noqa: E712
                    .order_by(School.name)
                )
            )  # noqa: E712
            for sc in schools:
                policy, tz = await self.ref.policy_for_la(s, sc.la_id)
                term = (await self.ref.calendar(s, sc.la_id)).current_or_next(now.astimezone(tz).date())
                if term is None:
                    continue
                label = term.label
                ent = entitlement_for(await school_facts(s, sc), policy)
                m = (
                    await s.exec(
                        select(Meeting)
                        .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                        .where(MeetingSchool.school_id == sc.id, MeetingSchool.active_term_id == term.id)
                    )
                ).first()
                joint = False
                if m is not None:
                    status = "held" if m.status == MeetingStatus.HELD.value else "booked"
                    joint = (
                        await s.exec(
                            select(MeetingSchool.school_id).where(
                                MeetingSchool.meeting_id == m.id, MeetingSchool.school_id != sc.id
                            )
                        )
                    ).first() is not None
                else:
                    status = "contacted_directly" if not ent.may_book else "not_booked"
                out.append(
                    SchoolStatus(
                        sc.id,
                        sc.urn,
                        sc.name,
                        status,
                        m.id if m else None,
                        m.start if m else None,
                        m.mode if m else None,
                        ent.expectation,
                        joint,
                        sc.trust_code,
                    )
                )
        return label, out

    async def capacity_warnings(self, actor: Actor) -> list[str]:
        """Officers over the LA's capacity: every one of the LA for an admin, the officer themself otherwise."""
        if not actor.is_officer or actor.id is None:
            return []
        async with self.db.reader() as s:
            me = await s.get(Officer, actor.id)
            if me is None:
                return []
            la = await self.ref.la(s, me.la_id)
            loads = await officer_loads(s, me.la_id, self.ref.policy(la.policy).officer_capacity)
        return [
            load.warning()
            for load in loads
            if load.over and (actor.kind == "admin" or load.officer_id == me.id)
        ]

    async def term_calendar(self, actor: Actor, school_id: int) -> TermCalendar:
        """The school's LA's term calendar (for reading "after half term"); the school must be the actor's to ask."""
        async with self.db.reader() as s:
            school = await s.get(School, school_id) if isinstance(school_id, int) else None
            if school is None:
                raise NotFound("No such school.")
            _check_school(actor, school)
            return await self.ref.calendar(s, school.la_id)

    async def term_id_for(self, actor: Actor, school_id: int, start: datetime) -> int:
        """The term a start falls in for this school's LA; a refusal in words when it is not a bookable day."""
        async with self.db.reader() as s:
            school = await s.get(School, school_id) if isinstance(school_id, int) else None
            if school is None:
                raise NotFound("No such school.")
            _check_school(actor, school)
            _, tz = await self.ref.policy_for_la(s, school.la_id)
            cal = await self.ref.calendar(s, school.la_id)
        day = start.astimezone(tz).date()
        why = cal.why_not_bookable(day)
        if why:
            raise BookingRefused(
                "not_bookable_day", f"Sorry, {why}: TSMs are held on school days in term time."
            )
        term = cal.term_for(day)
        assert term is not None and term.id is not None  # bookable implies in a term
        return term.id

    async def leader_unavailable_marked(self, meeting_id: int) -> bool:
        async with self.db.reader() as s:
            return await s.get(MeetingLeaderUnavailable, meeting_id) is not None

    # ------------------------------------------------------------------ writes

    async def mark_leader_unavailable(self, actor: Actor, meeting_id: int, note: str = "") -> MeetingView:
        """The school says its senior leader can't attend: the meeting must be rearranged (Kent's rule)."""
        view = await self.booking.get_meeting(actor, meeting_id)  # authorises the actor
        note = free_text(
            note,
            label="the note",
            max_len=300,  # the officer reads it: never pupil data
            allowed=allowed_from_names([*view.school_names, view.officer_name]),
        )
        now = self.clock()
        if view.status not in CHANGEABLE:
            raise BookingRefused(
                "not_active", f"This meeting is {view.status.replace('_', ' ')}: nothing to rearrange."
            )
        if view.start <= now:
            raise BookingRefused("started", "This meeting has already started, so it cannot be rearranged.")
        async with self.db.transaction() as s:
            if await s.get(MeetingLeaderUnavailable, meeting_id) is None:
                s.add(
                    MeetingLeaderUnavailable(
                        meeting_id=meeting_id, reported_at=now, reported_by=actor.key, note=note
                    )
                )
                s.add(
                    AuditLog(
                        at=now,
                        actor=actor.key,
                        action="meeting.leader_unavailable",
                        entity="meeting",
                        entity_id=str(meeting_id),
                    )
                )
                record(
                    s, EventKind.LEADER_UNAVAILABLE, actor, now, meeting_id=meeting_id, start=iso(view.start)
                )
        return view

    async def keep_time(self, actor: Actor, meeting_id: int) -> tuple[MeetingView, bool]:
        """The school keeps its TSM's time after saying its senior leader can't attend ("Keep the current time"):
        the mark is cleared, with its event (the officer is told, tsm.notifications), in one transaction. Returns
        the meeting and whether a mark was cleared (none: nothing to do, nobody told)."""
        view = await self.booking.get_meeting(actor, meeting_id)  # authorises the actor
        now = self.clock()
        if view.status not in CHANGEABLE or view.start <= now:
            raise BookingRefused(
                "not_active", "This meeting has already started or is no longer booked: nothing to keep."
            )
        async with self.db.transaction() as s:
            mark = await s.get(MeetingLeaderUnavailable, meeting_id)
            if mark is None:
                return view, False
            await s.delete(mark)
            s.add(
                AuditLog(
                    at=now,
                    actor=actor.key,
                    action="meeting.time_kept",
                    entity="meeting",
                    entity_id=str(meeting_id),
                )
            )
            record(s, EventKind.TIME_KEPT, actor, now, meeting_id=meeting_id, start=iso(view.start))
        return view, True

    async def request_booking(self, actor: Actor, school_id: int) -> None:
        """Staff of a school the LA contacts directly asked to book: recorded, so its officer is told."""
        async with self.db.transaction() as s:
            school = await s.get(School, school_id) if isinstance(school_id, int) else None
            if school is None:
                raise NotFound("No such school.")
            _check_school(actor, school)
            record(s, EventKind.BOOK_REQUESTED, actor, self.clock(), school_id=school.id)

    async def accept(self, actor: Actor, meeting_id: int) -> MeetingView:
        """A school contact accepts the time their officer booked: their invitation answer becomes accepted."""
        if actor.kind != "contact":
            raise NotAllowed("Only the school's staff can accept a time their officer booked.")
        view = await self.booking.get_meeting(actor, meeting_id)
        now = self.clock()
        if view.status not in CHANGEABLE or view.start <= now:
            raise BookingRefused(
                "not_active",
                "This meeting can no longer be accepted (it has been cancelled, or it has started).",
            )
        async with self.db.reader() as s:
            contact = await s.get(SchoolContact, actor.id)
            present = (
                await s.exec(
                    select(MeetingAttendee.id).where(
                        MeetingAttendee.meeting_id == meeting_id, MeetingAttendee.contact_id == actor.id
                    )
                )
            ).first()
        if contact is None:
            raise NotAllowed("Unknown school contact.")
        if present is None:
            await self.booking.add_attendee(actor, meeting_id, contact_id=actor.id)
        async with self.db.transaction() as s:
            att = (
                await s.exec(
                    select(MeetingAttendee).where(
                        MeetingAttendee.meeting_id == meeting_id, MeetingAttendee.contact_id == actor.id
                    )
                )
            ).first()
            if att is not None and att.response != "accepted":
                att.response = "accepted"
                s.add(att)
                s.add(
                    AuditLog(
                        at=now,
                        actor=actor.key,
                        action="meeting.accept",
                        entity="meeting",
                        entity_id=str(meeting_id),
                    )
                )
                record(s, EventKind.ACCEPTED, actor, now, meeting_id=meeting_id, start=iso(view.start))
        return await self.booking.get_meeting(actor, meeting_id)


def _offer(row: Any) -> Offer:
    """An offer from a ``chat_offer`` row (its columns by name)."""
    return Offer(
        id=row.id,
        kind=row.kind,
        actor_key=row.actor_key,
        school_ids=tuple(int(i) for i in row.school_ids),
        meeting_id=row.meeting_id,
        term_id=row.term_id,
        mode=Mode(row.mode).value,
        meeting_type=row.meeting_type,
        duration=timedelta(minutes=row.duration_minutes),
        timezone=row.timezone,
        starts=tuple(_instant(int(m)) for m in row.slots),
        expires_at=row.expires_at,
        officer_name=str((row.context or {}).get("officer", "")),
        term_label=str((row.context or {}).get("term", "")),
        school_name=str((row.context or {}).get("school", "")),
        site_school_id=_site((row.context or {}).get("site")),
    )


def _site(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
