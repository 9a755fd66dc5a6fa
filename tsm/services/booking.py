"""The booking service: book, move, cancel, mark held / no-show, list free slots and meetings.

Every operation runs in one database transaction. Calendar I/O (free/busy) happens before the
transaction and calendar writes after it, through the outbox (``CalendarSync``), so a slow or failing
calendar never holds a database lock and never loses a booking.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, delete, insert, literal_column, null, or_, union_all, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.calendars import CalendarOutbox
from ..adapters.db.directory import Officer, School, SchoolContact, Term, TrustOfficer
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog
from ..adapters.db.hot import HotStatement, constants_in
from ..adapters.db.meetings import (
    Meeting,
    MeetingAttendee,
    MeetingLeaderUnavailable,
    MeetingSchool,
    MeetingStatusChange,
)
from ..domain.emails import work_email
from ..domain.entitlement import Entitlement, SchoolFacts, entitlement_for
from ..domain.errors import BookingRefused, InvalidInput, NotAllowed, NotFound
from ..domain.feedback import allowed_from_names
from ..domain.model import ContactRole, Interval, MeetingStatus, Mode, Phase, TermName
from ..domain.policy import BLOCK_MINUTES, Policy, WorkingHours
from ..domain.pupil_data import check_free_text
from ..domain.schools import school_facts as domain_school_facts
from ..domain.slots import ExistingMeeting, NotFree, Slot, SlotRules, find_slots, why_not_free
from ..domain.terms import Term as DomainTerm
from ..domain.terms import TermCalendar
from ..domain.text import clean_text, day_text, time_text, when_text
from ..ports import BusyAsStatement, CalendarPort, CalendarRef, EventDetails, InDatabaseCalendar
from . import meetings as meetings_
from .actors import Actor, check_meeting
from .calendar_sync import event_details
from .events import EventKind, record
from .events import iso as _iso
from .observer import BookingObserver, observed
from .reference import ReferenceData
from .views import AttendeeView, BookingResult, MeetingView, SlotOffer

log = logging.getLogger(__name__)

ACTIVE = [s.value for s in MeetingStatus if s.is_active]


def _officer_meetings_query(*lead, before: str = "before", after: str = "after"):
    """An officer's active TSMs overlapping a window (the slot finder's and the booking checks' read), built once:
    ``lead`` columns, then id, start, end and mode as plain rows, no ORM entities and no statement built (or cache
    key worked out) per call, since every free-times card and every booking runs it."""
    m = Meeting.__table__.c
    return core_select(*lead, m.id, m.start, m.end, m.mode).where(
        m.officer_id == bindparam("officer_id"),
        constants_in(m.status, ACTIVE),
        m.start < bindparam(before),
        m.end > bindparam(after),
        m.id != bindparam("exclude"),
    )


_OFFICER_MEETINGS = _officer_meetings_query()


def _meetings_and_busy_query(busy):
    """The officer's active TSMs (kind 0: id, start, end, mode) and the calendar's blocking entries (kind 1: officer
    id, start, end) in one statement: ``_OFFICER_MEETINGS`` (its window binds renamed ``m_before``/``m_after``, as
    the two windows differ) UNION ALL the calendar's ``busy`` select."""
    meetings = _officer_meetings_query(literal_column("0").label("kind"), before="m_before", after="m_after")
    b = busy.subquery()
    return union_all(meetings, core_select(literal_column("1"), *b.c, null()))


CHANGEABLE = [MeetingStatus.BOOKED.value, MeetingStatus.MOVED.value]
BLOCK = timedelta(minutes=BLOCK_MINUTES)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _view_from(
    m: Meeting,
    schools: Sequence[School],
    officer: Officer,
    term: Term,
    attendees: Sequence[MeetingAttendee],
    timezone: str,
) -> MeetingView:
    """A meeting as people see it, from rows in hand (``schools`` by name, ``attendees`` in the order invited)."""
    return MeetingView(
        id=m.id,
        school_ids=tuple(sc.id for sc in schools),
        school_names=tuple(sc.name for sc in schools),
        officer_id=officer.id,
        officer_name=officer.name,
        officer_email=officer.email,
        term_id=term.id,
        term_label=f"{term.name} term {term.academic_year}",
        start=m.start,
        end=m.end,
        mode=m.mode,
        meeting_type=m.meeting_type,
        status=m.status,
        location=m.location,
        join_url=m.join_url,
        timezone=timezone,
        attendees=tuple(
            AttendeeView(a.name, a.email, a.role, a.required, a.response or "none") for a in attendees
        ),
    )


def _audit(
    s: AsyncSession, actor: Actor, action: str, entity: str, entity_id, at: datetime, **detail
) -> None:
    s.add(
        AuditLog(
            at=at,
            actor=actor.key,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=detail or None,
        )
    )


class BookingService:
    def __init__(
        self,
        db: Database,
        calendar: CalendarPort,
        reference: ReferenceData,
        *,
        clock: Callable[[], datetime] = now_utc,
        sync=None,  # CalendarSync; optional so the core can be used without calendar writes
        observer: BookingObserver | None = None,  # told how each book/move/cancel ended (metrics, logs)
    ) -> None:
        self.db = db
        self.calendar = calendar
        self.ref = reference
        self.clock = clock
        self.sync = sync
        self.observer = observer
        # Built on first use, with the calendar's select.
        self._meetings_and_busy_stmt: HotStatement | None = None

    # ------------------------------------------------------------------ reading

    async def entitlement(self, school_id: int) -> Entitlement:
        async with self.db.reader() as s:
            school = await self._school(s, school_id)
            return await self._entitlement(s, school)

    async def _entitlement(self, s: AsyncSession, school: School) -> Entitlement:
        policy, _ = await self.ref.policy_for_la(s, school.la_id)
        return entitlement_for(await school_facts(s, school), policy)

    async def free_slots(
        self,
        actor: Actor,
        school_ids: int | Sequence[int],
        *,
        term: str | int = "current",
        mode: str | Mode | None = None,
        meeting_type: str | None = None,
        limit: int | None = None,
        exclude_meeting_id: int | None = None,
        known: KnownSchools | None = None,
        day: date | None = None,
    ) -> SlotOffer:
        """Free slots of the schools' link officer in a term ("current", "next" or a term id). ``known``: the
        schools and officer as the caller read them this turn (``ConversationService.school_info``), not read
        again; the access rule and the checks run on them all the same. ``day`` (the LA's local date): that day's
        slots only, the same as the term's on that day (a press re-checking one time reads and searches one day)."""
        ids = _ids(school_ids)
        now = self.clock()
        local = (
            self.calendar
            if isinstance(self.calendar, InDatabaseCalendar) and self.calendar.in_database
            else None
        )
        held: list[Interval] | None = None
        if (
            known is not None
            and [sc.id for sc in known.schools] == ids
            and isinstance(local, BusyAsStatement)
        ):
            # The schools and officer read this turn, the LA's policy and terms from memory, and the officer's TSMs
            # and calendar entries in one statement of its own: no session (a session only if the LA's reference
            # data is not in memory).
            schools = list(known.schools)
            officer = _the_officer(schools, {known.officer.id: known.officer} if known.officer else {})
            self._authorize(actor, schools, officer)
            _check_open(schools)
            refs = self.ref.cached_for_la(schools[0].la_id)
            if refs is None:
                async with self.db.reader() as s:
                    refs = await self.ref.for_la(s, schools[0].la_id)
            policy, tz, cal = refs
            the_term, mode_, mtype, window = self._framing(
                policy, tz, cal, schools[0], term, mode, meeting_type, now, day
            )
            every, held = await self._meetings_and_busy(local, officer.id, window)
        else:
            async with self.db.reader() as s:
                if known is not None and [sc.id for sc in known.schools] == ids:
                    schools = list(known.schools)
                    officer = _the_officer(
                        schools, {known.officer.id: known.officer} if known.officer else {}
                    )
                else:
                    schools, officer = await self._schools_with_officer(s, ids)
                self._authorize(actor, schools, officer)
                _check_open(schools)
                policy, tz, cal = await self.ref.for_la(s, schools[0].la_id)
                the_term, mode_, mtype, window = self._framing(
                    policy, tz, cal, schools[0], term, mode, meeting_type, now, day
                )
                # Every TSM of the officer, the one being moved too: its calendar entry is ours, not busy time; then
                # the moved one is left out of the day's TSMs, so its own time and the times overlapping it are
                # offered (move() accepts them).
                if not isinstance(local, BusyAsStatement):
                    every = await self._officer_meetings(s, officer.id, window, None)
                    if local is not None and window.end > window.start:  # in the same session
                        ref = CalendarRef(officer.id, officer.mailbox)
                        held = (await local.busy_in(s, [ref], window)).get(officer.id, [])
            if isinstance(local, BusyAsStatement):
                # The TSMs and the calendar's entries in one statement, on a connection of its own: only once the
                # session has given its connection back. Taking a second connection while holding one deadlocks the
                # pool when as many callers as it has connections do it at once (the sweeps compose 64 messages at
                # a time: bench/country.py's busy run waited 30 s for a connection and failed).
                every, held = await self._meetings_and_busy(local, officer.id, window)
        meetings = [(mid, m) for mid, m in every if mid != exclude_meeting_id]
        slots: list[Slot] = []
        if window.end > window.start:
            busy = _without_own(held if held is not None else await self._busy(officer, window), every)
            slots = find_slots(
                window=window,
                duration=mtype.duration,
                mode=mode_,
                tz=tz,
                working_hours=_working_hours(officer, policy),
                calendar=cal,
                rules=SlotRules.from_policy(policy, officer.max_meetings_per_day),
                busy=busy,
                meetings=[m for _, m in meetings],
                now=now,
                officer_id=officer.id,
                limit=limit,
            )
        return SlotOffer(
            tuple(ids),
            officer.id,
            officer.name,
            the_term.id,
            the_term.label,
            mode_.value,
            mtype.key,
            int(mtype.duration.total_seconds() // 60),
            str(tz),
            slots,
        )

    async def why_no_times_on(self, actor: Actor, school_id: int, day: date) -> str | None:
        """Why ``day`` has no time to offer the school, when the reason is the day itself: not a school day, a day
        its officer does not work, or a day already full (the officer's daily cap). None: its times are taken."""
        async with self.db.reader() as s:
            school = await self._school(s, school_id)
            officer = await self._officer_for(s, [school])
            self._authorize(actor, [school], officer)
            policy, tz = await self.ref.policy_for_la(s, school.la_id)
            cal = await self.ref.calendar(s, school.la_id)
            why = cal.why_not_bookable(day)
            if why:
                return _day_words("not_bookable_day", officer, day, why=why)
            if not _working_hours(officer, policy).by_weekday.get(day.weekday()):
                return _day_words("not_working", officer, day)
            cap = SlotRules.from_policy(policy, officer.max_meetings_per_day).max_per_day
            window = Interval(
                datetime.combine(day, time(0), tzinfo=tz),
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
            )
            that_day = [
                m
                for _, m in await self._officer_meetings(s, officer.id, window, None)
                if m.start.astimezone(tz).date() == day
            ]
            if len(that_day) >= cap:
                return _day_words("day_full", officer, day, cap=cap)
        return None

    async def get_meeting(self, actor: Actor, meeting_id: int) -> MeetingView:
        async with self.db.reader() as s:
            meeting, schools, officer = await self._meeting(s, meeting_id)
            self._authorize(actor, schools, officer)
            return await self._view(s, meeting)

    async def list_meetings(
        self,
        actor: Actor,
        *,
        school_id: int | None = None,
        officer_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_inactive: bool = False,
        current_terms: bool = False,
    ) -> list[MeetingView]:
        """``current_terms`` (with a school): only the meetings of the school's LA's current (or next) term and the
        one after it, what the booking cards and checks need, in the same one query: a school's history of past
        TSMs costs nothing (each meeting listed costs a few reads for its view)."""
        async with self.db.reader() as s:
            q = select(Meeting).order_by(Meeting.start)
            if current_terms:
                # The terms not over yet, soonest first: the current (or next) one and the one after; a day's margin
                # (and a third term) for the LA's date differing from UTC's near midnight.
                today = self.clock().astimezone(UTC).date() - timedelta(days=1)
                la_of_school = select(School.la_id).where(
                    School.id == (actor.school_id if actor.kind == "contact" else school_id)
                )
                terms = (
                    select(Term.id)
                    .where(Term.la_id == la_of_school.scalar_subquery(), Term.end_date >= today)
                    .order_by(Term.start_date)
                    .limit(3)
                )
                q = q.where(col(Meeting.term_id).in_(terms))
            if actor.kind == "contact":
                school_id = actor.school_id
            elif actor.kind == "officer" and officer_id is None and school_id is None:
                officer_id = actor.id
            elif actor.kind == "admin" and not actor.is_operator:
                # An LA admin: the meetings of their LA's officers.
                q = q.where(
                    col(Meeting.officer_id).in_(select(Officer.id).where(Officer.la_id == actor.la_id))
                )
            if school_id is not None:
                q = q.where(
                    col(Meeting.id).in_(
                        select(MeetingSchool.meeting_id).where(MeetingSchool.school_id == school_id)
                    )
                )
            if officer_id is not None:
                q = q.where(Meeting.officer_id == officer_id)
            if since is not None:
                q = q.where(Meeting.end > since)
            if until is not None:
                q = q.where(Meeting.start < until)
            if not include_inactive:
                q = q.where(col(Meeting.status).in_(ACTIVE))
            out = []
            for m in await s.exec(q):
                _, schools, officer = await self._meeting(s, m.id)
                try:
                    self._authorize(actor, schools, officer)
                except NotAllowed:
                    continue
                out.append(await self._view(s, m))
            return out

    # ------------------------------------------------------------------ booking

    @observed("book")
    async def book(
        self,
        actor: Actor,
        school_ids: int | Sequence[int],
        start: datetime,
        *,
        mode: str | Mode | None = None,
        meeting_type: str | None = None,
        attendee_contact_ids: Sequence[int] | None = None,
        waive_senior_leader: str | None = None,
        site_school_id: int | None = None,
        senior_leader_ids: Sequence[int] | None = None,
    ) -> BookingResult:
        """Book a TSM for one school (or several schools of one trust) at ``start``. ``attendee_contact_ids``: the
        school staff invited, the senior leader first (None: its attendance leads and senior leaders).
        ``waive_senior_leader``: an officer's reason for booking with no senior leader invited (recorded).
        ``site_school_id``: for a joint TSM on site, whose site it is held at (one of the schools; default the first).
        ``senior_leader_ids``: for a joint TSM, the people (among ``attendee_contact_ids``) each school picked to attend
        as its senior leader (default: the first of ``attendee_contact_ids``, as for one school).

        With the local calendar (``InDatabaseCalendar``) everything is one transaction: the checks' reads, the
        officer's busy times, the booking and its calendar entry (the ``.ics`` is written once it committed). With
        Outlook the busy times are read between a reading transaction and the writing one (never holding a lock
        across a network call) and the event is written after, through the outbox."""
        ids = _ids(school_ids)
        start = _aware(start)
        now = self.clock()
        local = (
            self.calendar
            if isinstance(self.calendar, InDatabaseCalendar) and self.calendar.in_database
            else None
        )
        plan: _BookPlan | None = None
        busy: list[Interval] = []
        if local is None:
            async with self.db.reader() as s:
                plan = await self._plan_booking(
                    s,
                    actor,
                    ids,
                    start,
                    mode,
                    meeting_type,
                    attendee_contact_ids,
                    with_day=False,
                    waive_senior_leader=waive_senior_leader,
                    senior_leader_ids=senior_leader_ids,
                )
            busy = await self._busy(plan.officer, plan.day)
        details: EventDetails | None = None

        async def write(s: AsyncSession) -> Meeting:
            nonlocal plan, details
            if local is None:
                p = plan
                assert p is not None
                meetings = await self._officer_meetings(s, p.officer.id, p.day, None)
                officer_busy = busy
            else:
                plan = p = await self._plan_booking(
                    s,
                    actor,
                    ids,
                    start,
                    mode,
                    meeting_type,
                    attendee_contact_ids,
                    with_day=True,
                    waive_senior_leader=waive_senior_leader,
                    senior_leader_ids=senior_leader_ids,
                )
                meetings = p.day_meetings
                officer_busy = (
                    await local.busy_in(s, [CalendarRef(p.officer.id, p.officer.mailbox)], p.day)
                ).get(p.officer.id, [])
            officer, schools, tz = p.officer, p.schools, p.tz
            try:
                self._check_slot(
                    start, p.mode, p.mtype.duration, tz, officer, p.policy, p.cal, officer_busy, meetings, now
                )
            except BookingRefused as refusal:
                if refusal.code != "officer_busy" or local is None:
                    raise
                # The busy times were read after the day's TSMs (each statement sees what is committed when it
                # runs): a TSM booked in between shows only as its calendar entry. Read the day's TSMs again, as
                # new as the busy times, so the person is told the time has just been taken, not that the officer
                # is busy. Only a refusal pays for this read.
                meetings = await self._officer_meetings(s, p.officer.id, p.day, None)
                self._check_slot(
                    start, p.mode, p.mtype.duration, tz, officer, p.policy, p.cal, officer_busy, meetings, now
                )
                raise
            uid = f"tsm-{uuid.uuid4()}@tsm-bot"
            m = Meeting(
                officer_id=officer.id,
                term_id=p.term.id,
                start=start,
                end=p.end,
                mode=p.mode.value,
                meeting_type=p.mtype.key,
                status=MeetingStatus.BOOKED.value,
                location=_location(_site(schools, site_school_id), p.mode),
                booked_by=actor.key,
                ical_uid=uid,
                calendar_event_id=uid if local is not None else None,
                created_at=now,
                updated_at=now,
            )
            s.add(m)
            await s.flush()
            await s.exec(
                insert(MeetingSchool).values(
                    [
                        {
                            "meeting_id": m.id,
                            "school_id": sc.id,
                            "term_id": p.term.id,
                            "active_term_id": p.term.id,
                        }
                        for sc in schools
                    ]
                )
            )
            if p.attendees:  # one multi-row INSERT, not one per person
                await s.exec(
                    insert(MeetingAttendee).values(
                        [
                            {
                                "meeting_id": m.id,
                                "contact_id": a.contact_id,
                                "name": a.name,
                                "email": a.email,
                                "role": a.role,
                                "required": a.required,
                                "response": "none",
                            }
                            for a in p.attendees
                        ]
                    )
                )
            await meetings_.reserve(s, m, officer, p.policy, tz, day_checked=True)
            s.add(
                MeetingStatusChange(
                    meeting_id=m.id, status=m.status, at=now, actor=actor.key, start=start, end=p.end
                )
            )
            if local is not None:
                details = event_details(m, officer, sorted(schools, key=lambda sc: sc.name), p.attendees, tz)
                local.create_in(s, details)
            else:
                s.add(CalendarOutbox(meeting_id=m.id, op="create", next_attempt_at=now, created_at=now))
            waived = {"senior_leader_waived": p.leader_waived} if p.leader_waived else {}
            _audit(
                s,
                actor,
                "meeting.book",
                "meeting",
                m.id,
                now,
                schools=ids,
                start=start.isoformat(),
                mode=p.mode.value,
                **waived,
            )
            # Booked by the school itself, or by the LA for it (a proposal the school accepts or moves).
            kind = EventKind.BOOKED if actor.kind == "contact" else EventKind.PROPOSED
            joint = (
                {"joint": True} if len(schools) > 1 else {}
            )  # each school's staff are told (tsm.notifications)
            record(s, kind, actor, now, meeting_id=m.id, start=_iso(start), **waived, **joint)
            return m

        def alternatives():
            assert plan is not None
            return self._alternatives(actor, ids, plan.term.id, plan.mode, plan.mtype.key, None)

        meeting = await self._write_with_conflicts(
            write,
            schools=plan.schools if plan is not None else None,
            term=plan.term if plan is not None else None,
            tz=plan.tz if plan is not None else None,
            alternatives=alternatives,
        )
        assert plan is not None  # equivalent-mutant[delete]: for mypy; both paths have set it
        # Everything the confirmation shows is in hand: no read after the write.
        ordered = sorted(plan.schools, key=lambda sc: sc.name)
        view = _view_from(meeting, ordered, plan.officer, plan.term, plan.attendees, str(plan.tz))
        if local is not None and details is not None:
            ics = None
            try:
                ics = local.invitation(details, "REQUEST")
            except (
                OSError
            ):  # the booking and its calendar entry stand; only the file for attendees is missing
                log.exception("could not write the invitation file for meeting %s", meeting.id)
            return _booked(view, ics, "booked")
        return await self._after_write(actor, meeting.id, "booked", view=view)

    async def _plan_booking(
        self,
        s: AsyncSession,
        actor: Actor,
        ids: list[int],
        start: datetime,
        mode,
        meeting_type,
        attendee_contact_ids,
        *,
        with_day: bool,
        waive_senior_leader: str | None,
        senior_leader_ids: Sequence[int] | None = None,
    ) -> _BookPlan:
        """Everything a booking checks before it writes, in three reads: the schools with their officer, the
        meetings that matter (the schools' booking this term; with ``with_day``, also the officer's meetings around
        the day, which the slot check needs) and the contacts invited."""
        rows = list(
            await s.exec(
                select(School, Officer)
                .outerjoin(Officer, Officer.id == School.link_officer_id)
                .where(col(School.id).in_(ids))
            )
        )
        found = {sc.id: (sc, off) for sc, off in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"No school with id {missing[0]}.")
        schools = [found[i][0] for i in ids]
        officer = _the_officer(schools, {off.id: off for _, off in rows if off is not None})
        self._authorize(actor, schools, officer)
        _check_open(schools)
        if len(schools) > 1:
            trusts = {sc.trust_code for sc in schools}
            if len(trusts) != 1 or None in trusts:
                raise InvalidInput("A joint TSM is only for schools of one trust.")
        policy, tz = await self.ref.policy_for_la(s, schools[0].la_id)
        if actor.kind == "contact":
            if len(schools) > 1 and not policy.trust_contacts_book_joint:
                raise NotAllowed(
                    f"A joint TSM for several schools of your trust is arranged by {officer.name}, your "
                    f"link officer ({officer.email}). Nothing was booked."
                )
            for (
                sc
            ) in schools:  # every school's own entitlement and route, not only the first's (issue 13, item 7)
                await self._check_may_self_book(s, sc, officer, policy)
        cal = await self.ref.calendar(s, schools[0].la_id)
        mode_ = self._mode(policy, mode)
        mtype = self._meeting_type(policy, schools[0], meeting_type)
        end = start + mtype.duration
        term = self._term_of(cal, start, tz)
        day = _day_window(start, end, tz)
        booked_q = select(MeetingSchool.meeting_id).where(
            col(MeetingSchool.school_id).in_(ids), MeetingSchool.active_term_id == term.id
        )
        q = select(Meeting).where(col(Meeting.id).in_(booked_q))
        pad = timedelta(days=1)
        in_day = and_(
            Meeting.officer_id == officer.id,
            col(Meeting.status).in_(ACTIVE),
            Meeting.start < day.end + pad,
            Meeting.end > day.start - pad,
        )
        if with_day:
            q = select(Meeting, col(Meeting.id).in_(booked_q).label("booked")).where(
                or_(col(Meeting.id).in_(booked_q), in_day)
            )
            rows_m = [(m, bool(b)) for m, b in await s.exec(q)]
        else:
            rows_m = [(m, True) for m in await s.exec(q)]
        booked = [m for m, b in rows_m if b]
        if booked:
            existing = booked[0]
            which = (
                {ids[0]}
                if len(ids) == 1
                else set(
                    await s.exec(
                        select(MeetingSchool.school_id).where(
                            MeetingSchool.meeting_id == existing.id, col(MeetingSchool.school_id).in_(ids)
                        )
                    )
                )
            )
            raise _already_booked(found[min(which)][0], term, existing, tz)
        day_meetings = [
            (m.id, ExistingMeeting(m.start, m.end, Mode(m.mode)))
            for m, _ in rows_m
            if m.officer_id == officer.id
            and m.status in ACTIVE
            and m.start < day.end + pad
            and m.end > day.start - pad
        ]
        attendees, led = await self._attendees(s, schools, actor, attendee_contact_ids, senior_leader_ids)
        if len(attendees) > policy.max_invitees:
            raise InvalidInput(
                f"A TSM can have at most {policy.max_invitees} people invited: please choose fewer. "
                "Nothing was booked."
            )
        waived = self._check_senior_leader(actor, schools, policy, led, waive_senior_leader)
        return _BookPlan(
            schools, officer, policy, tz, cal, mode_, mtype, end, term, day, attendees, day_meetings, waived
        )

    @observed("move")
    async def move(self, actor: Actor, meeting_id: int, new_start: datetime) -> BookingResult:
        """Move a meeting to another free slot of the same term."""
        new_start = _aware(new_start)
        now = self.clock()
        async with self.db.reader() as s:
            meeting, schools, officer = await self._meeting(s, meeting_id)
            self._authorize(actor, schools, officer)
            self._check_changeable(meeting, now, "moved")
            policy, tz = await self.ref.policy_for_la(s, schools[0].la_id)
            cal = await self.ref.calendar(s, schools[0].la_id)
            term = await s.get(Term, meeting.term_id)
            new_term = cal.term_for(new_start.astimezone(tz).date())
            if new_term is None or new_term.id != meeting.term_id:
                raise BookingRefused(
                    "move_other_term",
                    f"A TSM can only be moved within its own term ({_term_text(term)}, "
                    f"{day_text(term.start_date, weekday=False)} – {day_text(term.end_date, weekday=False)}). "
                    "To meet in another term, cancel this one and book that term's TSM.",
                    alternatives=await self._alternatives(
                        actor,
                        [sc.id for sc in schools],
                        term.id,
                        Mode(meeting.mode),
                        meeting.meeting_type,
                        meeting.id,
                    ),
                )
            duration = meeting.end - meeting.start
            mode_ = Mode(meeting.mode)
        new_end = new_start + duration
        busy = await self._busy(officer, _day_window(new_start, new_end, tz))
        busy = [b for b in busy if not (b.start == meeting.start and b.end == meeting.end)]

        async def write(s: AsyncSession) -> Meeting:
            m = await s.get(Meeting, meeting_id, with_for_update=self.db.is_postgres)
            self._check_changeable(m, now, "moved")
            meetings = await self._officer_meetings(
                s, officer.id, _day_window(new_start, new_end, tz), meeting_id
            )
            self._check_slot(new_start, mode_, duration, tz, officer, policy, cal, busy, meetings, now)
            # A new time is a new invitation: earlier answers (and a "senior leader can't attend") no longer hold.
            await s.exec(
                update(MeetingAttendee).where(MeetingAttendee.meeting_id == m.id).values(response="none")
            )
            await s.exec(delete(MeetingLeaderUnavailable).where(MeetingLeaderUnavailable.meeting_id == m.id))
            old = (m.start, m.end)
            m.ical_sequence += 1
            await meetings_.move_to(s, m, new_start, new_end, MeetingStatus.MOVED, officer, policy, tz, now)
            s.add(
                MeetingStatusChange(
                    meeting_id=m.id, status=m.status, at=now, actor=actor.key, start=new_start, end=new_end
                )
            )
            s.add(CalendarOutbox(meeting_id=m.id, op="update", next_attempt_at=now, created_at=now))
            _audit(
                s,
                actor,
                "meeting.move",
                "meeting",
                m.id,
                now,
                old_start=old[0].isoformat(),
                new_start=new_start.isoformat(),
            )
            record(
                s, EventKind.MOVED, actor, now, meeting_id=m.id, old_start=_iso(old[0]), start=_iso(new_start)
            )
            return m

        await self._write_with_conflicts(
            write,
            schools=None,
            term=None,
            tz=tz,
            alternatives=lambda: self._alternatives(
                actor, [sc.id for sc in schools], meeting.term_id, mode_, meeting.meeting_type, meeting.id
            ),
        )
        return await self._after_write(actor, meeting_id, "moved")

    @observed("cancel")
    async def cancel(self, actor: Actor, meeting_id: int, reason: str) -> BookingResult:
        reason = clean_text(reason, label="the reason", max_len=500)
        if len(reason) < 3:
            raise InvalidInput("Please give a short reason for cancelling (it goes to the other side).")
        now = self.clock()
        async with self.db.transaction() as s:
            meeting, schools, officer = await self._meeting(s, meeting_id, for_update=True)
            self._authorize(actor, schools, officer)
            check_free_text(
                reason, label="the reason", allowed=_known_names(schools, officer)
            )  # no pupil data
            self._check_changeable(meeting, now, "cancelled")
            await meetings_.deactivate(s, meeting, MeetingStatus.CANCELLED, actor.key, now, reason)
            meeting.ical_sequence += 1
            s.add(
                CalendarOutbox(
                    meeting_id=meeting.id,
                    op="cancel",
                    message=reason[:500],
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            _audit(s, actor, "meeting.cancel", "meeting", meeting.id, now)
            record(
                s,
                EventKind.CANCELLED,
                actor,
                now,
                meeting_id=meeting.id,
                start=_iso(meeting.start),
                reason=reason,
            )
        return await self._after_write(actor, meeting_id, "cancelled")

    async def cancel_for_schools_not_open(
        self, actor: Actor, school_ids: Sequence[int] | None = None
    ) -> list[int]:
        """Cancel the future TSMs of schools that are no longer open (GIAS lists them as closed, or they are of a
        type the LA's profile does not cover), each through :meth:`cancel` with the reason, so the domain event
        tells the officer and the school. A joint TSM that still has an open school is left for the officer.
        Returns the meetings cancelled; ``school_ids`` narrows it to those schools (None: every such school)."""
        now = self.clock()
        plan: list[tuple[int, str]] = []
        async with self.db.reader() as s:
            q = (
                select(Meeting.id, School)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .join(School, School.id == MeetingSchool.school_id)
                .where(School.open == False, col(Meeting.status).in_(CHANGEABLE), Meeting.start > now)  # noqa: E712
            )  # noqa: E712
            if school_ids is not None:
                q = q.where(col(School.id).in_(list(school_ids)))
            rows = list(await s.exec(q))
            still_open = set(
                await s.exec(
                    select(MeetingSchool.meeting_id)
                    .join(School, School.id == MeetingSchool.school_id)
                    .where(col(MeetingSchool.meeting_id).in_([mid for mid, _ in rows]), School.open == True)  # noqa: E712
                )
            )  # noqa: E712
            for meeting_id, school in rows:
                if meeting_id in still_open or meeting_id in dict(plan):
                    continue
                policy, _ = await self.ref.policy_for_la(s, school.la_id)
                why = (
                    f"{school.name} has closed (GIAS lists it as closed)"
                    if policy.covers_type(school.type_name)
                    else f"{school.name} is not a school the LA holds TSMs with ({school.type_name or 'its type'})"
                )
                plan.append((meeting_id, f"{why}, so its TSM is cancelled."))
        done = []
        for meeting_id, reason in plan:
            try:
                await self.cancel(actor, meeting_id, reason)
            except (BookingRefused, InvalidInput) as exc:  # started meanwhile, or already cancelled
                log.warning("meeting %s of a school not open left as it is: %s", meeting_id, exc)
                continue
            done.append(meeting_id)
        return done

    async def mark_held(self, actor: Actor, meeting_id: int) -> MeetingView:
        return await self._mark(actor, meeting_id, MeetingStatus.HELD)

    async def mark_no_show(self, actor: Actor, meeting_id: int, reason: str = "") -> MeetingView:
        return await self._mark(actor, meeting_id, MeetingStatus.NO_SHOW, reason)

    async def _mark(
        self, actor: Actor, meeting_id: int, status: MeetingStatus, reason: str = ""
    ) -> MeetingView:
        if actor.kind not in ("officer", "admin", "system"):
            raise NotAllowed("Only the link officer can record whether a meeting was held.")
        now = self.clock()
        try:
            async with self.db.transaction() as s:
                meeting, schools, officer = await self._meeting(s, meeting_id, for_update=True)
                self._authorize(actor, schools, officer)
                reason = check_free_text(
                    clean_text(reason, label="the reason", max_len=500),
                    label="the reason",
                    allowed=_known_names(schools, officer),
                )  # no pupil data
                if meeting.start > now:
                    raise BookingRefused(
                        "not_started",
                        "This meeting has not started yet, so it cannot be marked "
                        f"{'held' if status is MeetingStatus.HELD else 'a no-show'}.",
                    )
                if meeting.status == MeetingStatus.CANCELLED.value:
                    raise BookingRefused("cancelled", "This meeting was cancelled.")
                if meeting.status == status.value:
                    return await self._view(s, meeting)
                if status is MeetingStatus.HELD:
                    undo = meeting.status == MeetingStatus.NO_SHOW.value
                    if undo:  # the officer corrects a no-show
                        await s.exec(
                            update(MeetingSchool)
                            .where(MeetingSchool.meeting_id == meeting.id)
                            .values(active_term_id=MeetingSchool.term_id)
                        )
                    # The system marks a meeting held when its end is seen (Teams' meetingEnd or the timer): "ended";
                    # the officer marking it held, or correcting a no-show, is theirs.
                    kind = (
                        EventKind.NO_SHOW_UNDONE
                        if undo
                        else (EventKind.ENDED if actor.kind == "system" else EventKind.HELD)
                    )
                    record(s, kind, actor, now, meeting_id=meeting.id, start=_iso(meeting.start))
                    meeting.status, meeting.updated_at = status.value, now
                    s.add(meeting)
                    s.add(
                        MeetingStatusChange(
                            meeting_id=meeting.id, status=status.value, at=now, actor=actor.key, reason=reason
                        )
                    )
                else:
                    await meetings_.deactivate(s, meeting, status, actor.key, now, reason)
                    record(
                        s,
                        EventKind.NO_SHOW,
                        actor,
                        now,
                        meeting_id=meeting.id,
                        start=_iso(meeting.start),
                        reason=reason[:500],
                    )
                _audit(s, actor, f"meeting.{status.value}", "meeting", meeting.id, now)
                await s.flush()
                return await self._view(s, meeting)
        except IntegrityError as exc:
            raise BookingRefused(
                "already_booked",
                "The school has booked another TSM this term since, so this one "
                "cannot be marked held. Cancel one of them first.",
            ) from exc

    async def add_attendee(
        self,
        actor: Actor,
        meeting_id: int,
        *,
        contact_id: int | None = None,
        name: str = "",
        email: str = "",
        role: str = "other",
    ) -> MeetingView:
        """Add a colleague (an existing contact, or a name and work email) and re-send the invitation."""
        now = self.clock()
        async with self.db.transaction() as s:
            meeting, schools, officer = await self._meeting(s, meeting_id, for_update=True)
            self._authorize(actor, schools, officer)
            self._check_changeable(meeting, now, "changed")
            if contact_id is not None:
                c = await s.get(SchoolContact, contact_id)
                if c is None or c.school_id not in {sc.id for sc in schools}:
                    raise NotAllowed("That person is not a contact of this school.")
                name, email, role = c.name, c.email, c.role
            email = work_email(email, label="your colleague's work email")
            # A name is what this field holds: only a pupil's UPN or date of birth is looked for in it.
            name = (
                check_free_text(
                    clean_text(name, label="the name", max_len=120), label="the name", names=False
                )
                or email
            )
            invited = list(
                await s.exec(select(MeetingAttendee.email).where(MeetingAttendee.meeting_id == meeting.id))
            )
            if email not in invited:
                policy, _tz = await self.ref.policy_for_la(s, schools[0].la_id)
                if len(invited) >= policy.max_invitees:
                    raise InvalidInput(
                        f"This TSM already has {len(invited)} people invited, the most it can have: "
                        "nobody was added. Ask your link officer if more need to come."
                    )
                s.add(
                    MeetingAttendee(
                        meeting_id=meeting.id,
                        contact_id=contact_id,
                        name=name,
                        email=email,
                        role=role,
                        required=role == ContactRole.SENIOR_LEADER.value,
                    )
                )
                meeting.ical_sequence += 1
                meeting.updated_at = now
                s.add(meeting)
                s.add(CalendarOutbox(meeting_id=meeting.id, op="update", next_attempt_at=now, created_at=now))
                _audit(s, actor, "meeting.add_attendee", "meeting", meeting.id, now, contact_id=contact_id)
                record(
                    s, EventKind.ATTENDEE_ADDED, actor, now, meeting_id=meeting.id, start=_iso(meeting.start)
                )
        if self.sync is not None and not self.sync.deferred:
            await self.sync.process_meeting(meeting_id)
        return await self.get_meeting(actor, meeting_id)

    # ------------------------------------------------------------------ internals: checks

    def _authorize(self, actor: Actor, schools: Sequence[School], officer: Officer | None) -> None:
        """The one access rule (``actors.may_act_for``): the schools' (or the meeting's) officer, their staff."""
        check_meeting(actor, schools, officer.id if officer is not None else None)

    async def _check_may_self_book(
        self, s: AsyncSession, school: School, officer: Officer, policy: Policy
    ) -> None:
        ent = entitlement_for(await school_facts(s, school), policy)
        if not ent.may_book:  # contacted directly, or the LA's officers arrange every school's TSMs
            raise BookingRefused(
                "contacted_directly",
                f"{ent.refusal} Your link officer is {officer.name} ({officer.email}).",
                context={"officer_id": officer.id, "school_id": school.id, "rule": ent.rule},
            )

    async def _check_not_booked(self, s: AsyncSession, school: School, term: Term, tz: ZoneInfo) -> None:
        existing = (
            await s.exec(
                select(Meeting)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .where(MeetingSchool.school_id == school.id, MeetingSchool.active_term_id == term.id)
            )
        ).first()
        if existing is not None:
            raise _already_booked(school, term, existing, tz)

    def _check_changeable(self, meeting: Meeting, now: datetime, verb: str) -> None:
        if meeting.status not in CHANGEABLE:
            raise BookingRefused(
                "not_active", f"This meeting is {meeting.status.replace('_', ' ')}, so it cannot be {verb}."
            )
        if meeting.start <= now:
            raise BookingRefused("started", f"This meeting has already started, so it cannot be {verb}.")

    def _check_slot(
        self, start, mode, duration, tz, officer, policy, cal: TermCalendar, busy, meetings, now
    ) -> None:
        """Raise BookingRefused with the true reason (``tsm.domain.slots.why_not_free``) when ``start`` is not free."""
        rules = SlotRules.from_policy(policy, officer.max_meetings_per_day)
        kwargs = dict(
            duration=duration,
            mode=mode,
            tz=tz,
            working_hours=_working_hours(officer, policy),
            calendar=cal,
            rules=rules,
            now=now,
        )
        existing = [m for _, m in meetings]
        busy = _without_own(busy, meetings)
        if find_slots(
            window=Interval(start, start + duration),
            busy=busy,
            meetings=existing,
            officer_id=officer.id,
            **kwargs,
        ):
            return
        nf = why_not_free(start, busy=busy, meetings=existing, **kwargs) or NotFree("taken")
        when_ = when_text(start, start + duration, tz)
        local_day = start.astimezone(tz).date()
        if nf.code == "not_bookable_day":
            raise BookingRefused(
                "not_bookable_day", _day_words("not_bookable_day", officer, local_day, why=nf.detail)
            )
        if nf.code == "not_working":
            raise BookingRefused("officer_not_working", _day_words("not_working", officer, local_day))
        if nf.code == "too_soon":
            hours = int(rules.minimum_notice.total_seconds() // 3600)
            raise BookingRefused(
                "too_soon", f"TSMs need at least {hours} hours' notice: please pick a later time."
            )
        if nf.code == "not_offered":
            raise BookingRefused(
                "not_offered",
                f"{when_} is not one of the times on offer (within {officer.name}'s "
                f"working hours, on the {_minutes(rules.granularity)}-minute grid).",
            )
        if nf.code == "day_full":
            raise BookingRefused(
                "day_full", _day_words("day_full", officer, local_day, cap=rules.max_per_day)
            )
        if nf.code == "officer_busy":
            raise BookingRefused("officer_busy", f"{officer.name} is not free at {when_}.")
        if nf.code == "travel_time":
            near = nf.detail
            at = f" at {time_text(near.start, tz)}" if near is not None else ""
            raise BookingRefused(
                "travel_time",
                f"{officer.name} has another appointment{at} that day, and with "
                f"{_minutes(rules.travel_buffer)} minutes' travel to and from a school visit "
                f"{when_} does not fit. Please pick another time.",
            )
        raise BookingRefused("slot_taken", f"Sorry, {when_} has just been taken. Here are other times.")

    # ------------------------------------------------------------------ internals: writes

    async def _write_with_conflicts(self, write, *, schools, term, tz, alternatives) -> Meeting:
        """Run ``write`` in a transaction. A unique-constraint clash means a concurrent booking won a race:
        the write is tried again (its checks now see the winner and refuse precisely, or it succeeds when
        only a daily seat number clashed); after the last try the clash becomes "just taken"."""
        for attempt in range(3):  # equivalent-mutant[constant=4]: the third try always ends the loop
            try:
                async with self.db.transaction() as s:
                    return await write(s)
            except IntegrityError:
                if schools is not None:
                    async with self.db.reader() as s:
                        for sc in schools:
                            await self._check_not_booked(s, sc, term, tz)
                if attempt == 2:
                    raise BookingRefused(
                        "slot_taken",
                        "Sorry, that time has just been taken. Here are other times.",
                        alternatives=await alternatives(),
                    ) from None
            except BookingRefused as refusal:
                if refusal.code == "slot_taken" and not refusal.alternatives:
                    refusal.alternatives = await alternatives()
                raise
        raise AssertionError("unreachable")

    async def _alternatives(
        self, actor, school_ids, term_id, mode, meeting_type, exclude_meeting_id
    ) -> list[Slot]:
        try:
            offer = await self.free_slots(
                actor,
                school_ids,
                term=term_id,
                mode=mode,
                meeting_type=meeting_type,
                limit=6,
                exclude_meeting_id=exclude_meeting_id,
            )
            return offer.slots
        except Exception:  # alternatives are a courtesy; the refusal itself must still reach the user
            log.exception("could not compute alternative slots")
            return []

    async def _after_write(
        self, actor: Actor, meeting_id: int, verb: str, *, view: MeetingView | None = None
    ) -> BookingResult:
        """The calendar work the change queued, done now (the outbox retries it if it fails), and the result.
        ``view``: the meeting as the write left it, when the caller has it (the calendar may add the join URL).
        With ``sync.deferred`` (the server, the worker) the work is left to the outbox sweep: the answer never
        waits on the calendar (``tsm.services.calendar_sync``)."""
        ics = None
        join_url = None
        if self.sync is not None and not self.sync.deferred:
            try:
                results = await self.sync.process_meeting(meeting_id)
                ics = next((r.ics for r in reversed(results) if r.ics), None)
                join_url = next((r.join_url for r in reversed(results) if r.join_url), None)
            except Exception:  # the booking stands; the outbox retries the calendar later
                log.exception("calendar sync failed for meeting %s; will retry", meeting_id)
        if view is None:
            async with self.db.reader() as s:
                m = await s.get(Meeting, meeting_id)
                view = await self._view(s, m)
        elif join_url:
            view = dataclasses.replace(view, join_url=join_url)
        return _booked(view, ics, verb)

    # ------------------------------------------------------------------ internals: loading

    async def _school(self, s: AsyncSession, school_id: int) -> School:
        school = await s.get(School, school_id) if isinstance(school_id, int) else None
        if school is None:
            raise NotFound(f"No school with id {school_id}.")
        return school

    async def _schools_with_officer(self, s: AsyncSession, ids: list[int]) -> tuple[list[School], Officer]:
        """The schools (in ``ids``' order) and their one link officer, in one SELECT."""
        rows = list(
            await s.exec(
                select(School, Officer)
                .outerjoin(Officer, Officer.id == School.link_officer_id)
                .where(col(School.id).in_(ids))
            )
        )
        found = {sc.id: sc for sc, _ in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"No school with id {missing[0]}.")
        schools = [found[i] for i in ids]
        return schools, _the_officer(schools, {off.id: off for _, off in rows if off is not None})

    async def _officer_for(self, s: AsyncSession, schools: Sequence[School]) -> Officer:
        ids = {sc.link_officer_id for sc in schools} - {None}
        officer = await s.get(Officer, next(iter(ids))) if len(ids) == 1 else None
        return _the_officer(schools, {officer.id: officer} if officer is not None else {})

    async def _meeting(self, s: AsyncSession, meeting_id: int, *, for_update: bool = False):
        if not isinstance(meeting_id, int) or isinstance(meeting_id, bool):
            raise NotFound("No such meeting.")
        meeting = await s.get(Meeting, meeting_id, with_for_update=for_update and self.db.is_postgres)
        if meeting is None:
            raise NotFound("No such meeting.")
        schools = await meetings_.schools_of(s, meeting_id)
        officer = await s.get(Officer, meeting.officer_id)
        return meeting, schools, officer

    async def _officer_meetings(
        self, s: AsyncSession, officer_id: int, window: Interval, exclude: int | None
    ) -> list[tuple[int, ExistingMeeting]]:
        pad = timedelta(days=1)
        rows = await (await s.connection()).execute(
            _OFFICER_MEETINGS,
            {
                "officer_id": officer_id,
                "before": window.end + pad,
                "after": window.start - pad,
                "exclude": -1 if exclude is None else exclude,
            },
        )
        return [(mid, ExistingMeeting(start, end, Mode(mode))) for mid, start, end, mode in rows]

    async def _meetings_and_busy(
        self, local: BusyAsStatement, officer_id: int, window: Interval
    ) -> tuple[list[tuple[int, ExistingMeeting]], list[Interval]]:
        """``_officer_meetings`` (none left out) and the in-database calendar's busy times, in one statement (a
        read of its own: ``tsm.adapters.db.hot``, one trip to the driver)."""
        if self._meetings_and_busy_stmt is None:
            self._meetings_and_busy_stmt = HotStatement(_meetings_and_busy_query(local.busy_select()))
        pad = timedelta(days=1)
        rows = await self._meetings_and_busy_stmt.all(
            self.db,
            officer_id=officer_id,
            m_before=window.end + pad,
            m_after=window.start - pad,
            exclude=-1,
            before=window.end,
            after=window.start,
        )
        meetings: list[tuple[int, ExistingMeeting]] = []
        busy: list[Interval] = []
        for kind, mid, start, end, mode in rows:
            if kind == 0:
                meetings.append((mid, ExistingMeeting(start, end, Mode(mode))))
            else:
                busy.append(Interval(start, end))
        return meetings, busy

    async def _busy(self, officer: Officer, window: Interval) -> list[Interval]:
        return (await self.calendar.busy([CalendarRef(officer.id, officer.mailbox)], window)).get(
            officer.id, []
        )

    async def _attendees(
        self, s, schools, actor: Actor, contact_ids, leader_ids: Sequence[int] | None = None
    ) -> tuple[list[MeetingAttendee], set[int]]:
        """The people invited, and the schools (ids) that have one of them attending as their senior leader."""
        q = select(SchoolContact).where(
            col(SchoolContact.school_id).in_([sc.id for sc in schools]),
            SchoolContact.active == True,  # noqa: E712
        )  # noqa: E712
        contacts = list(await s.exec(q))
        if contact_ids is not None:
            wanted = set(contact_ids)
            unknown = wanted - {c.id for c in contacts}
            if contact_ids and contact_ids[0] in unknown:  # the chat sends the senior leader first
                raise NotAllowed(
                    "The senior leader chosen is not a contact of your school, so nothing was booked."
                )
            if unknown:
                raise NotAllowed(
                    "Some of the people chosen are not contacts of your school, so nothing was booked."
                )
            contacts = [
                c for c in contacts if c.id in wanted or (actor.kind == "contact" and c.id == actor.id)
            ]
        else:
            contacts = [
                c
                for c in contacts
                if c.role in (ContactRole.SENIOR_LEADER, ContactRole.ATTENDANCE_LEAD)
                or (actor.kind == "contact" and c.id == actor.id)
            ]
        # The one the school picked to attend as its senior leader (sent first) attends as that, whatever the role
        # on record (a deputy head recorded as attendance lead), and comes first on the invitation.
        # A joint TSM: one picked per school (``leader_ids``, each one of those invited).
        leaders = set(leader_ids) if leader_ids else ({contact_ids[0]} if contact_ids else set())
        if contact_ids is not None and leaders - set(contact_ids):
            raise NotAllowed(
                "The senior leader chosen is not a contact of your school, so nothing was booked."
            )
        contacts.sort(key=lambda c: c.id not in leaders)
        people = [
            MeetingAttendee(
                meeting_id=0,  # equivalent-mutant[constant]: never read (the INSERT gives m.id)
                contact_id=c.id,
                name=c.name,
                email=c.email,
                role=ContactRole.SENIOR_LEADER.value if c.id in leaders else c.role,
                required=c.id in leaders or c.role == ContactRole.SENIOR_LEADER.value,
            )
            for c in contacts
        ]
        led = {
            c.school_id
            for c, a in zip(contacts, people, strict=True)  # equivalent-mutant[constant]: equal lengths
            if a.role == ContactRole.SENIOR_LEADER.value
        }
        return people, led

    def _check_senior_leader(
        self,
        actor: Actor,
        schools: Sequence[School],
        policy: Policy,
        led: set[int],
        waiver: str | None,
    ) -> str:
        """A senior leader of each school is invited (the profile's booking.senior_leader_required; a joint TSM: one
        for every school in it), or an officer waives it with a reason they record (returned, cleaned). Refused
        otherwise, saying how to go on and which school has none."""
        missing = [sc for sc in schools if sc.id not in led]
        if not policy.senior_leader_required or not missing:
            return ""
        names = " & ".join(sc.name for sc in missing)
        if waiver is not None and actor.kind in ("officer", "admin"):
            reason = clean_text(waiver, label="the reason the senior leader is waived", max_len=300)
            if len(reason) < 10:
                raise InvalidInput(
                    "Say in a few words why this TSM goes ahead without a senior leader (at least 10 "
                    "characters); it is recorded with the booking. Nothing was booked."
                )
            return check_free_text(reason, label="the reason", allowed=_known_names(schools, None))
        how = (
            "Add the senior leader as a contact of the school first, or book it with a recorded reason for going "
            'ahead without one (tsm book ... --waive-senior-leader "reason").'
            if actor.kind != "contact"
            else "Please pick who will attend as your senior leader, or ask your link officer."
        )
        raise BookingRefused(
            "no_senior_leader",
            f"{names} has no senior leader invited, and a senior leader is "
            f"expected at every TSM. {how} Nothing was booked.",
        )

    async def _view(self, s: AsyncSession, m: Meeting) -> MeetingView:
        schools = await meetings_.schools_of(s, m.id)
        officer = await s.get(Officer, m.officer_id)
        term = await s.get(Term, m.term_id)
        la = await self.ref.la(s, schools[0].la_id) if schools else None
        atts = list(
            await s.exec(
                select(MeetingAttendee).where(MeetingAttendee.meeting_id == m.id).order_by(MeetingAttendee.id)
            )
        )
        return _view_from(m, schools, officer, term, atts, la.timezone if la else "Europe/London")

    # ------------------------------------------------------------------ internals: policy helpers

    def _framing(
        self,
        policy: Policy,
        tz: ZoneInfo,
        cal: TermCalendar,
        school: School,
        term: str | int,
        mode: str | Mode | None,
        meeting_type: str | None,
        now: datetime,
        day: date | None = None,
    ):
        """The term, mode, meeting type and window (what is left of the term from now; with ``day``, of that day)
        that free times are found in."""
        the_term = self._pick_term(cal, term, now.astimezone(tz).date())
        window = _term_window(the_term, tz, now)
        if day is not None:
            start = max(window.start, datetime.combine(day, time(0), tzinfo=tz))
            end = min(window.end, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
            window = Interval(min(start, end), end)
        return (
            the_term,
            self._mode(policy, mode),
            self._meeting_type(policy, school, meeting_type),
            window,
        )

    def _pick_term(self, cal: TermCalendar, term: str | int, today: date) -> DomainTerm:
        current = cal.current_or_next(today)
        if isinstance(term, int) and not isinstance(term, bool):
            for t in cal.terms:
                if t.id == term:
                    return t
            raise NotFound("No such term.")
        if current is None:
            raise BookingRefused(
                "no_terms", "No term dates are set for the coming months yet. Please contact the LA."
            )
        if term == "current":
            return current
        if term == "next":
            nxt = cal.next_after(current)
            if nxt is None:
                raise BookingRefused("no_terms", "Next term's dates are not set yet. Please try again later.")
            return nxt
        raise InvalidInput("term must be 'current', 'next' or a term id")

    def _term_of(self, cal: TermCalendar, start: datetime, tz: ZoneInfo) -> DomainTerm:
        day = start.astimezone(tz).date()
        why = cal.why_not_bookable(day)
        if why:
            raise BookingRefused(
                "not_bookable_day", f"Sorry, {why}: TSMs are held on school days in term time."
            )
        return cal.term_for(day)  # type: ignore[return-value]  # bookable implies in a term

    def _mode(self, policy: Policy, mode: str | Mode | None) -> Mode:
        if mode is None:
            return policy.default_mode
        try:
            m = Mode(mode)
        except ValueError:
            raise InvalidInput(f"'{mode}' is not a meeting mode (on_site or teams).") from None
        if m not in policy.modes_allowed:
            raise BookingRefused("mode_not_allowed", f"{policy.la_name} does not offer TSMs {m.label}.")
        return m

    def _meeting_type(self, policy: Policy, school: School, key: str | None):
        if key is not None:
            try:
                return policy.meeting_type(key)
            except Exception:
                raise InvalidInput(f"'{key}' is not a meeting type here.") from None
        for mt in policy.meeting_types:
            if mt.key == school.phase:
                return mt
        if school.phase in (
            Phase.OTHER.value,
            Phase.ALTERNATIVE_PROVISION.value,
        ):  # PRU/AP: the special/AP type
            for mt in policy.meeting_types:
                if mt.key == "special":
                    return mt
        return policy.meeting_types[0]


# ---------------------------------------------------------------------- module helpers


@dataclass(frozen=True)
class _BookPlan:
    """What a booking checked before writing (``BookingService._plan_booking``)."""

    schools: list[School]  # in the order asked for
    officer: Officer
    policy: Policy
    tz: ZoneInfo
    cal: TermCalendar
    mode: Mode
    mtype: Any  # tsm.domain.policy.MeetingType
    end: datetime
    term: DomainTerm
    day: Interval  # the window around the meeting's day that the slot check looks at
    attendees: list[MeetingAttendee]
    day_meetings: list[tuple[int, ExistingMeeting]]  # the officer's active meetings in ``day`` (when read)
    leader_waived: str = ""  # why the TSM goes ahead without a senior leader (an officer's recorded reason)


def _check_open(schools: Sequence[School]) -> None:
    """A school that is not open (GIAS lists it as closed) cannot book, nor be booked for."""
    for sc in schools:
        if not sc.open:
            raise BookingRefused(
                "school_closed",
                f"{sc.name} is not open (GIAS lists it as closed), so no TSM can be booked for it.",
                context={"school_id": sc.id},
            )


@dataclass(frozen=True)
class KnownSchools:
    """Schools and their link officer as read earlier in the same turn (whole rows, detached)."""

    schools: tuple[School, ...]
    officer: Officer | None


def _the_officer(schools: Sequence[School], officers: dict[int, Officer]) -> Officer:
    """The one active link officer of the schools, or the refusal that says why there is none."""
    officer_ids = {sc.link_officer_id for sc in schools}
    if None in officer_ids:
        names = ", ".join(sc.name for sc in schools if sc.link_officer_id is None)
        raise BookingRefused(
            "no_officer", f"{names} has no link officer yet. Please contact the LA attendance team."
        )
    if len(officer_ids) > 1:
        raise InvalidInput("A joint TSM needs the schools to share one link officer.")
    officer = officers.get(officer_ids.pop())
    if officer is None or not officer.active:
        raise BookingRefused(
            "no_officer",
            "Your link officer is not available in the system at the moment. "
            "Please contact the LA attendance team.",
        )
    return officer


def _already_booked(school: School, term, existing: Meeting, tz: ZoneInfo) -> BookingRefused:
    return BookingRefused(
        "already_booked",
        f"{school.name} is already booked for the {_term_text(term)} on {day_text(existing.start, tz, weekday=False)} "
        f"at {time_text(existing.start, tz)}. Only one TSM per term: you can move or cancel that one instead.",
        context={"meeting_id": existing.id},
    )


def _day_words(code: str, officer: Officer, day: date, *, why: object = None, cap: int = 0) -> str:
    """A day with no time for a TSM, in words (a refused booking and a typed date with no times say it alike)."""
    if code == "not_bookable_day":
        return f"Sorry, {why}: TSMs are held on school days in term time."
    if code == "not_working":
        return f"{officer.name} does not work on {day:%A}s: please pick another day."
    return f"{officer.name} already has {cap} TSMs on {day_text(day)}, the most in one day: please pick another day."


def _booked(view: MeetingView, ics: bytes | None, verb: str) -> BookingResult:
    tz = ZoneInfo(view.timezone)
    return BookingResult(
        view,
        ics,
        f"TSM {verb}: {view.school_label} with {view.officer_name}, {when_text(view.start, view.end, tz)}.",
    )


_TRUST_OFFICERS = (
    "tsm.trust_officers"  # the session's pre-read answers, (trust, LA) -> bool (preload_trust_officers)
)


async def school_facts(s: AsyncSession, school: School) -> SchoolFacts:
    """The facts the entitlement rules read; the trust's allocated officer is the one of the school's own LA."""
    return domain_school_facts(school, trust_has_allocated_officer=await trust_has_officer(s, school))


async def trust_has_officer(s: AsyncSession, school: School) -> bool:
    """Whether the school's trust has an allocated officer in the school's LA (``trust_officer``, issue 15)."""
    if not school.trust_code:
        return False
    known = s.info.get(_TRUST_OFFICERS, {}).get((school.trust_code, school.la_id))
    if known is not None:
        return known
    return await s.get(TrustOfficer, (school.trust_code, school.la_id)) is not None


async def preload_trust_officers(s: AsyncSession, schools: Sequence[School]) -> None:
    """Read in one statement which of these schools' trusts have an officer in the school's LA, so that
    :func:`school_facts` answers for each of them without a read of its own (a sweep over many schools)."""
    pairs = {(sc.trust_code, sc.la_id) for sc in schools if sc.trust_code}
    if not pairs:
        return
    found = set(
        await s.exec(
            select(TrustOfficer.trust_code, TrustOfficer.la_id).where(
                col(TrustOfficer.trust_code).in_({code for code, _ in pairs}),
                col(TrustOfficer.la_id).in_({la for _, la in pairs}),
            )
        )
    )
    s.info.setdefault(_TRUST_OFFICERS, {}).update({pair: pair in found for pair in pairs})


def _without_own(busy: list[Interval], meetings) -> list[Interval]:
    """Drop busy intervals that are our own meetings' calendar events: their footprints already count."""
    own = {(m.start, m.end) for _, m in meetings}
    return [b for b in busy if (b.start, b.end) not in own]


def _ids(school_ids) -> list[int]:
    ids = [school_ids] if isinstance(school_ids, int) else list(school_ids)
    if not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise InvalidInput("Which school? (school ids are whole numbers)")
    return sorted(set(ids))


def _aware(dt: datetime) -> datetime:
    if not isinstance(dt, datetime) or dt.tzinfo is None:
        raise InvalidInput("A meeting time needs a date, a time and a time zone.")
    return dt.astimezone(UTC)


def _term_window(term: DomainTerm, tz: ZoneInfo, now: datetime) -> Interval:
    start = datetime.combine(term.dates.first, time(0), tzinfo=tz)
    end = datetime.combine(term.dates.last + timedelta(days=1), time(0), tzinfo=tz)
    start = max(start, now)
    return Interval(min(start, end), end)


def _day_window(start: datetime, end: datetime, tz: ZoneInfo) -> Interval:
    day = start.astimezone(tz).date()
    # Its margin is wider than any travel buffer (a profile's is at most 180 minutes): what a margin of 3 or 5 hours
    # or a day from 01:00 adds or leaves out is never within a buffer of the meeting (equivalent mutants).
    return Interval(
        min(start, datetime.combine(day, time(0), tzinfo=tz))  # equivalent-mutant[constant=1]
        - timedelta(hours=4),  # equivalent-mutant[constant=5,constant=3]
        max(end, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
        + timedelta(hours=4),  # equivalent-mutant[constant=5,constant=3]
    )


def _working_hours(officer: Officer, policy: Policy) -> WorkingHours:
    if officer.working_hours:
        return WorkingHours.parse(officer.working_hours, where=f"officer {officer.id} working hours")
    return policy.working_hours


def _site(schools: Sequence[School], site_school_id: int | None) -> School:
    """The school whose site an on-site TSM is held at: one of the meeting's schools."""
    if site_school_id is None:
        return schools[0]
    for sc in schools:
        if sc.id == site_school_id:
            return sc
    raise InvalidInput("The meeting's place must be the site of one of its schools.")


def _location(school: School, mode: Mode) -> str:
    return school.address or school.name if mode is Mode.ON_SITE else "Microsoft Teams"


def _term_text(term: Term) -> str:
    return f"{TermName(term.name).value} term"


def _known_names(schools: Sequence[School], officer: Officer | None) -> frozenset[str]:
    """Words a reason may hold without looking like a pupil's name: the schools' names and towns, the officer's."""
    return allowed_from_names(
        [*(sc.name for sc in schools), *(sc.town or "" for sc in schools), officer.name if officer else ""]
    )


def _minutes(td: timedelta) -> int:
    return int(td.total_seconds() // 60)
