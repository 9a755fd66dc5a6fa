"""The sweep jobs: what happens without anyone typing.

Every sweep works out what is due *now* from the database (meetings, terms, schools), claims it in the
ledger (exactly one worker wins each item) and sends what it won through the messenger port. Nothing
is scheduled ahead in memory, so a move, a cancellation, a restart or a second worker needs no
bookkeeping: a moved meeting's reminders are due at new times (the ledger key carries the start), a
cancelled meeting is simply no longer a candidate.

What a sweep reads is what fell due since its last run, not the history (issue 15): the sweeps with a due time read
the window since their mark (``scheduler.marks``) through an index on that time; the nudges, which fall due on
whole hours, are worked out at the first run of each hour for every LA at once in a fixed number of reads.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, any_, bindparam, or_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from cards import notifications as cards
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.meetings import (
    Meeting,
    MeetingAttendee,
    MeetingLeaderUnavailable,
    MeetingSchool,
    MeetingStatusChange,
)
from tsm.adapters.db.teams import BotConversation
from tsm.domain.entitlement import entitlement_for, officer_short_words
from tsm.domain.model import MeetingStatus
from tsm.domain.terms import Term as DomainTerm
from tsm.domain.terms import default_bank_holidays
from tsm.domain.text import day_text
from tsm.messaging import Message, MessengerPort, Recipient, SendStatus
from tsm.notifications import KIND_PREFIX as EVENT_KIND_PREFIX
from tsm.notifications import Notifications, invite_message
from tsm.services.actors import Actor
from tsm.services.booking import BookingService, preload_trust_officers, school_facts
from tsm.services.conversation import ConversationService
from tsm.services.evaluations import Evaluations
from tsm.services.events import iso as events_iso
from tsm.services.meetings import schools_of
from tsm.services.records import Records
from tsm.services.reference import ReferenceData

from . import digests
from .delivery import SweepResult, deliver, retry_or_fail, send_as_one
from .feedback_jobs import KINDS as FEEDBACK_KINDS
from .feedback_jobs import FeedbackJobs, evaluation_message
from .ledger import Claim, Due, Ledger
from .marks import Marks

log = logging.getLogger(__name__)
CHANGEABLE = (MeetingStatus.BOOKED.value, MeetingStatus.MOVED.value)
ENDABLE = (*CHANGEABLE, MeetingStatus.HELD.value)  # held: the officer marked it before the end was seen
NUDGE_BATCH = 1000  # schools per read of their contacts (the nudges), subjects per read of the ledger
EVENT_BATCH = 500  # events dispatched per read by the event sweep
# Inside a pass of sweeps (``Jobs._pass``): the unbooked schools of the LAs in term, worked out by the first nudge
# sweep that needs them and shared by the next ({la_id: (term_id, schools)}); None outside a pass. A context variable,
# so passes running side by side (two tasks, two threads' loops) never share or clear each other's.
_UNBOOKED_PASS: contextvars.ContextVar[dict[int, tuple[int, list[_Unbooked]]] | None] = (
    contextvars.ContextVar("unbooked_pass", default=None)
)
CHASED = "chased"  # the ref tail of the unbooked digest of the chasers' day (its term's id before it)
LATE_INSTALL_WINDOW = timedelta(days=14)  # undeliverable messages older than this are never re-sent
# Why a message was undeliverable, for those sent late once the person can be reached (see ``late_installs``).
MISSED = (SendStatus.NO_CONVERSATION.value, SendStatus.BLOCKED.value)
MEETING_END_LOOKBACK = timedelta(days=14)  # how long after its end a meeting is still ended by the timer
REMINDER_LEADS = (
    timedelta(days=1),
    timedelta(days=7),
)  # the reminders' leads before the start, shortest first


@dataclass(frozen=True)
class JobSettings:
    agenda_hour: int = 16  # the officer's agenda for the next working day, from this local hour
    weekly_day: int = 0  # Monday
    weekly_hour: int = 8
    chaser_after_weeks: int = 3  # chase schools still not booked this many weeks into term
    meeting_end_margin: timedelta = timedelta(minutes=30)  # timer fallback when no meetingEnd event came
    leader_rebook_within: timedelta = timedelta(hours=48)  # then the officer is nudged to rearrange
    max_attempts: int = 5
    send_concurrency: int = 64

    @classmethod
    def from_settings(cls, settings) -> JobSettings:
        """From ``TSM_SCHEDULER_*`` (see tsm/settings.py); anything not set keeps the default above."""
        d = cls()
        return cls(
            agenda_hour=getattr(settings, "scheduler_agenda_hour", d.agenda_hour),
            chaser_after_weeks=getattr(settings, "scheduler_chaser_after_weeks", d.chaser_after_weeks),
            meeting_end_margin=timedelta(
                minutes=getattr(
                    settings,
                    "scheduler_meeting_end_margin_minutes",
                    d.meeting_end_margin.total_seconds() // 60,
                )
            ),
            leader_rebook_within=timedelta(
                hours=getattr(
                    settings, "scheduler_leader_rebook_hours", d.leader_rebook_within.total_seconds() // 3600
                )
            ),
        )


iso = events_iso  # the ledger's ref for a meeting's start: one format for events and sweeps


class Jobs:
    def __init__(
        self,
        *,
        db: Database,
        messenger: MessengerPort,
        booking: BookingService,
        reference: ReferenceData,
        ledger: Ledger,
        clock: Callable[[], datetime],
        settings: JobSettings | None = None,
        notifications: Notifications | None = None,
        feedback: FeedbackJobs | None = None,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.booking = booking
        self.ref = reference
        self.ledger = ledger
        self.clock = clock
        self.settings = settings or JobSettings()
        self.marks = Marks(db, clock)  # each sweep's watermark: what it has read up to (scheduler/marks.py)
        self.evaluations = Evaluations(db, clock=clock)  # the evaluation card at meeting end (issue 6)
        self.feedback = feedback or FeedbackJobs(
            db=db, messenger=messenger, ledger=ledger, clock=clock, evaluations=self.evaluations
        )
        self.feedback.send = self._deliver  # feedback goes out the way reminders do (issue 15 item 6)
        self.notifications = notifications or Notifications(
            db, booking, ConversationService(db, booking, reference, clock=clock), Records(db, clock=clock)
        )

    # ------------------------------------------------------------------ the sweeps

    async def run_all(self) -> SweepResult:
        """One pass of every sweep (what the scheduler runs every minute); the nudges as one pass (``nudges``)."""
        return await self._pass(
            self.events,
            self.reminders,
            self.leader_unavailable,
            self.meeting_ends,
            self.officer_agendas,
            self.term_start_nudges,
            self.chasers,
            self.unbooked_weekly,  # after the nudges: the digest says what the schools were sent
            self.retry_expired,
            self.late_installs,
        )

    async def nudges(self) -> SweepResult:
        """One pass of the nudges (the scheduler's ``tsm.nudges``), in order: the officers' agendas, the term-start
        nudges, the chasers, the officers' unbooked digest (after the nudges: it says what the schools were sent),
        late installs."""
        return await self._pass(
            self.officer_agendas,
            self.term_start_nudges,
            self.chasers,
            self.unbooked_weekly,
            self.late_installs,
        )

    async def _pass(self, *sweeps: Callable[[], Awaitable[SweepResult]]) -> SweepResult:
        """The sweeps in turn, one failing not stopping the others, with the unbooked schools worked out at most once
        for the pass (``_unbooked_now``)."""
        total = SweepResult()
        token = _UNBOOKED_PASS.set({})
        try:
            for sweep in sweeps:
                try:
                    total.add(await sweep())
                except Exception:  # one failing sweep must not stop the others
                    log.exception("sweep %s failed", getattr(sweep, "__name__", sweep))
        finally:
            _UNBOOKED_PASS.reset(token)
        return total

    async def events(self) -> SweepResult:
        """What the changes since the last sweep call for (``tsm.notifications``): each event's messages are
        claimed in the ledger (one row per event and recipient, so exactly one worker sends each, once) and the
        events marked dispatched; a worker that dies in between leaves them pending, and the next sweep finds the
        rows already claimed. Reads only the events not dispatched yet."""
        total = SweepResult()
        while True:
            pending = await self.notifications.pending(limit=EVENT_BATCH)
            if not pending:
                return total
            out = await self.notifications.outgoing(pending)
            claims = await self.ledger.claim(
                [Due(o.kind, "event", o.event_id, o.recipient, o.ref) for o in out]
            )
            await self.notifications.mark_dispatched([ev.id for ev in pending], self.clock())
            total.add(await self._deliver(claims))
            if len(pending) < EVENT_BATCH:
                return total

    async def reminders(self) -> SweepResult:
        """7 days before with the checklist; 1 day before with place or link. (The confirmation of a booking or a
        move is the change's own message: tsm.notifications.) Reads only the meetings whose reminder fell due since
        the sweep's mark (``scheduler.marks``), through the index on ``meeting.start``."""
        now = self.clock()
        due, read = await self._due_reminders(now)
        claims = await self.ledger.claim(due)
        if read:
            await self.marks.advance("reminders", now)
        return await self._deliver(claims)

    async def due_reminders(self, now: datetime | None = None) -> list[Due]:
        return (await self._due_reminders(now or self.clock()))[0]

    async def _due_reminders(self, now: datetime) -> tuple[list[Due], bool]:
        """The reminders due now and not claimed yet (the sweep query; no side effects): those whose due time
        (the start less 7 days, or less 1 day) fell in the sweep's window, for meetings not started yet and not
        changed since that due time (a meeting booked or moved later got its confirmation instead)."""
        due: list[Due] = []
        async with self.db.reader() as s:
            since = await self.marks.since("reminders", REMINDER_LEADS[-1], now, s)
            # Each lead's window on the start: due in (since, now] is a start in (since + lead, now + lead]; the
            # 7-day one only while more than a day is left (then the 1-day reminder is the one due).
            windows = [
                and_(Meeting.start > max(since + lead, now + floor), Meeting.start <= now + lead)
                for lead, floor in zip(REMINDER_LEADS, (timedelta(0), REMINDER_LEADS[0]), strict=True)
            ]
            # Plain columns, not Meeting objects: at 2,000 rows, building ORM objects was most of the sweep's time.
            rows = list(
                await s.exec(
                    select(Meeting.id, Meeting.start, Meeting.updated_at, MeetingAttendee.contact_id)
                    .join(MeetingAttendee, MeetingAttendee.meeting_id == Meeting.id)
                    .where(
                        or_(*windows),
                        col(Meeting.status).in_(CHANGEABLE),
                        col(MeetingAttendee.contact_id).is_not(None),
                    )
                )
            )
        refs: dict[datetime, str] = {}
        for mid, start, updated_at, contact_id in rows:
            r = Recipient("contact", contact_id)
            lead = start - now
            ref = refs.get(start) or refs.setdefault(start, iso(start))
            if lead <= timedelta(days=1):
                if updated_at <= start - timedelta(days=1):
                    due.append(Due("remind_1d", "meeting", mid, r, ref))
            elif lead <= timedelta(days=7) and updated_at <= start - timedelta(days=7):
                due.append(Due("remind_7d", "meeting", mid, r, ref))
        return await self._not_yet_claimed(due), bool(rows)

    async def leader_unavailable(self) -> SweepResult:
        """The senior leader can't attend, so the meeting must be rearranged (Kent's rule).

        - They declined the invitation in Outlook (Graph brought the answer in): the school's contacts get the
          rebooking card (other free times in the same term) and the officer is told.
        - The school said so in the bot: the bot has already answered with those times and told the officer, so
          nothing is sent again.
        Either way, nothing chosen within ``leader_rebook_within`` (a move clears both marks), the officer is
        nudged once to rearrange it.
        """
        now = self.clock()
        # Every senior leader invited has declined (one of two declining still leaves one to come). Read from the
        # declines (the index on role and response), not from every attendee ever invited.
        other = aliased(MeetingAttendee)
        declined = select(MeetingAttendee.meeting_id).where(
            MeetingAttendee.role == "senior_leader",
            MeetingAttendee.response == "declined",
            ~select(other.id)
            .where(
                other.meeting_id == MeetingAttendee.meeting_id,
                other.role == "senior_leader",
                other.response != "declined",
            )
            .exists(),
        )
        marked_ids = select(MeetingLeaderUnavailable.meeting_id)
        due: list[Due] = []
        async with self.db.reader() as s:
            meetings = list(
                await s.exec(
                    select(Meeting.id, Meeting.start, Meeting.officer_id).where(
                        col(Meeting.status).in_(CHANGEABLE),
                        Meeting.start > now,
                        col(Meeting.id).in_(declined) | col(Meeting.id).in_(marked_ids),
                    )
                )
            )
            if not meetings:
                return SweepResult()
            ids = [mid for mid, _, _ in meetings]
            refs = {mid: iso(start) for mid, start, _ in meetings}
            marked = {
                mid: at
                for mid, at in await s.exec(
                    select(MeetingLeaderUnavailable.meeting_id, MeetingLeaderUnavailable.reported_at).where(
                        col(MeetingLeaderUnavailable.meeting_id).in_(ids)
                    )
                )
            }
            told = {
                mid: at
                for mid, ref, at in await s.exec(
                    select(Outbound.subject_id, Outbound.ref, Outbound.created_at).where(
                        Outbound.kind == "leader_unavailable_officer",
                        Outbound.subject_kind == "meeting",
                        col(Outbound.subject_id).in_(ids),
                    )
                )
                if refs.get(mid) == ref
            }
            # The school contacts of every meeting whose decline came from Outlook, in one read.
            contacts: dict[int, list[int]] = {}
            unmarked = [mid for mid in ids if mid not in marked]
            if unmarked:
                for mid, cid in await s.exec(
                    select(MeetingSchool.meeting_id, SchoolContact.id)
                    .join(SchoolContact, SchoolContact.school_id == MeetingSchool.school_id)
                    .where(
                        col(MeetingSchool.meeting_id).in_(unmarked),
                        SchoolContact.active == True,  # noqa: E712
                        col(SchoolContact.role).in_(("attendance_lead", "senior_leader")),
                    )
                ):
                    contacts.setdefault(mid, []).append(cid)
        for mid, _, officer_id in meetings:
            ref = refs[mid]
            since = marked.get(mid) or told.get(mid)
            if mid not in marked:
                due.extend(
                    Due("leader_rebook", "meeting", mid, Recipient("contact", c), ref)
                    for c in contacts.get(mid, ())
                )
                due.append(
                    Due("leader_unavailable_officer", "meeting", mid, Recipient("officer", officer_id), ref)
                )
            if since is not None and since + self.settings.leader_rebook_within <= now:
                due.append(
                    Due("leader_rebook_overdue", "meeting", mid, Recipient("officer", officer_id), ref)
                )
        return await self._deliver(await self.ledger.claim(await self._not_yet_claimed(due)))

    async def officer_agendas(self) -> SweepResult:
        """From ``agenda_hour`` on a working day, each officer's meetings on the next working day. Like the other
        nudges, worked out at the first run of each hour (:meth:`_nudge_hour`), every LA in a few reads."""
        hour = await self._nudge_hour("agendas")
        if hour is None:
            return SweepResult()
        now = self.clock()
        due: list[Due] = []
        async with self.db.reader() as s:
            by_day: dict[tuple[date, str], list[int]] = {}  # LAs whose agendas are due, by day and time zone
            for la in await s.exec(select(LA)):
                local = now.astimezone(ZoneInfo(la.timezone))
                if _is_working_day(local.date()) and local.hour >= self.settings.agenda_hour:
                    by_day.setdefault((_next_working_day(local.date()), la.timezone), []).append(la.id)
            for (day, tz), la_ids in by_day.items():
                start = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))
                officers = await s.exec(
                    select(Meeting.officer_id)
                    .join(Officer, Officer.id == Meeting.officer_id)
                    .where(
                        Meeting.start >= start,
                        Meeting.start < start + timedelta(days=1),
                        col(Officer.la_id).in_(la_ids),
                        col(Meeting.status).in_(CHANGEABLE),
                    )
                    .distinct()
                )
                due.extend(
                    Due("agenda", "officer", oid, Recipient("officer", oid), day.isoformat())
                    for oid in officers
                )
        return await self._claim_nudges("agendas", hour, due)

    async def unbooked_weekly(self) -> SweepResult:
        """The officer's digest of their schools with no TSM this term that the LA's rules say should have one: one
        card, each school once, with what it was sent (``_compose_unbooked``). Due each week from ``weekly_day`` at
        ``weekly_hour`` (the term's first day is its first week's), and once more on the chasers' day, when the
        schools that book themselves have just been reminded. It stands for every per-school notice officers once got
        (no TSM yet, still no TSM): at most one a day (``_compose_unbooked``), and of several piled up only the newest
        (``scheduler.digests``). Runs after the nudges, so the digest reports what the schools were sent."""
        hour = await self._nudge_hour("unbooked_weekly")
        if hour is None:
            return SweepResult()
        now = self.clock()
        due: list[Due] = []
        async with self.db.reader() as s:
            due_las = []
            refs: dict[int | None, list[str]] = {}
            for la, term in await self._current_terms(s):
                local = now.astimezone(ZoneInfo(la.timezone))
                keys = []
                if local.weekday() > self.settings.weekly_day or (
                    local.weekday() == self.settings.weekly_day and local.hour >= self.settings.weekly_hour
                ):
                    keys.append(f"{term.id}:{_iso_week(local.date())}")
                chasers_from = term.dates.first + timedelta(weeks=self.settings.chaser_after_weeks)
                if chasers_from <= local.date() <= term.dates.last - timedelta(weeks=1):
                    # after the week's key: the newer of the two when both are due (one card: scheduler.digests)
                    keys.append(f"{term.id}:{CHASED}")
                if keys:
                    due_las.append((la, term))
                    refs[la.id] = keys
            officers = {(u.la_id, u.officer_id) for u in await self._unbooked_now(s, due_las)}
            due = [
                Due("unbooked_weekly", "officer", officer_id, Recipient("officer", officer_id), ref)
                for la_id, officer_id in sorted(officers)
                for ref in refs[la_id]
            ]
        return await self._claim_nudges("unbooked_weekly", hour, due)

    async def term_start_nudges(self) -> SweepResult:
        """From the first day of term: the schools that should book and book themselves, not yet booked."""
        return await self._school_nudges("term_start", weeks=0)

    async def chasers(self) -> SweepResult:
        """``chaser_after_weeks`` into term: chase the school again (its officer reads it in their digest)."""
        res = await self._school_nudges("chaser", weeks=self.settings.chaser_after_weeks)
        return res

    async def meeting_ends(self) -> SweepResult:
        """Timer fallback: meetings past their end (plus a margin) for which no meetingEnd event came. On-site
        meetings never send one, and Teams sends none when nobody joined or the app is not in the chat."""
        now = self.clock()
        margin = self.settings.meeting_end_margin
        # Due at the end plus the margin: the ends in (since - margin, now - margin], through the index on
        # meeting.end; never further back than two weeks (the end-of-meeting messages' useful life).
        async with self.db.reader() as s:
            since = await self.marks.since("meeting_ends", MEETING_END_LOOKBACK, now, s)
            rows = list(
                await s.exec(
                    select(Meeting.id, Meeting.officer_id, Meeting.start).where(
                        Meeting.end > since - margin,
                        Meeting.end <= now - margin,
                        col(Meeting.status).in_(ENDABLE),
                    )
                )
            )
        gates = await self._not_yet_claimed(
            [_end_gate(mid, officer_id, start) for mid, officer_id, start in rows]
        )
        total = SweepResult()
        for gate in gates:
            total.add(await self.on_meeting_end(gate.subject_id, source="timer"))
        if rows:  # each gate claimed above: a worker dying before this reads the window again
            await self.marks.advance("meeting_ends", now)
        return total

    async def on_meeting_end(self, meeting_id: int, *, source: str) -> SweepResult:
        """Teams' meetingEnd event or the timer: mark held, offer next term's TSM, ask for an evaluation.

        Whichever path comes first claims the meeting's end in the ledger (the "gate"); the other finds it
        claimed and does nothing, so both together make one offer. An event for a meeting that has not
        started yet (someone tried the link early), was cancelled or was a no-show is ignored.
        """
        now = self.clock()
        async with self.db.reader() as s:
            m = await s.get(Meeting, meeting_id)
        if m is None or m.status not in ENDABLE or m.start > now:
            return SweepResult()
        gate = await self.ledger.claim([_end_gate(m.id, m.officer_id, m.start)])
        if not gate:
            return SweepResult()
        log.info("meeting %s ended (%s)", meeting_id, source)
        result = SweepResult(claimed=1)
        await self._end_meeting(gate[0], result)
        return result

    async def _end_meeting(self, gate: Claim, result: SweepResult) -> None:
        """The work behind a claimed gate; re-run as is by ``retry_expired`` if its worker died half way (the
        messages already claimed are not claimed twice, and those claimed but unsent are retried on their own)."""
        try:
            async with self.db.reader() as s:
                m = await s.get(Meeting, gate.due.subject_id)
            if m is None or iso(m.start) != gate.due.ref or m.status not in ENDABLE:
                await self.ledger.finish(gate, "skipped")  # moved, cancelled or marked a no-show since
                result.skipped += 1
                return
            if m.status in CHANGEABLE:
                await self.booking.mark_held(Actor.system(), m.id)  # the officer can correct it (no-show)
            due = await self._end_of_meeting_messages(m.id)
            result.add(await self._deliver(await self.ledger.claim(due)))
            await self.ledger.finish(gate, "sent")
        except Exception as exc:  # noqa: BLE001 - recorded on the gate, retried by any worker
            log.exception("end of meeting %s failed", gate.due.subject_id)
            await self._retry_or_fail(gate, result, type(exc).__name__)

    async def retry_expired(self) -> SweepResult:
        """Send what other workers claimed but did not finish (they died, or were told to retry later)."""
        return await self._deliver(await self.ledger.reclaim_expired())

    async def late_installs(self) -> SweepResult:
        """Messages that found no bot conversation (the person had not installed the app yet) are sent once the
        person has one, while they are still useful (:func:`useful_until`): e.g. a school contact who installs
        the app three days before the TSM still gets its booking confirmation and the checklist. The row goes
        back from ``undeliverable`` to claimed in one guarded update (:meth:`Ledger.rearm`), so exactly one
        worker sends it; composed from the database as it is now, so a cancelled or moved meeting sends nothing.

        The same goes for people who had blocked the bot or uninstalled it (Teams answered 403, the row finished
        ``undeliverable`` with ``blocked``) and came back: writing to the bot again or reinstalling it clears
        ``bot_conversation.blocked_at``, and what they missed is sent on the same terms. While they stay blocked,
        nothing is attempted.

        What was re-armed for one person goes as one message per kind (``scheduler.digests``): the newest agenda,
        unbooked-schools digest and invitation to book only, an officer's news from several schools as one card.
        """
        now = self.clock()
        has_conversation = select(BotConversation.id).where(
            BotConversation.conversation_type == "personal",
            BotConversation.installed == True,  # noqa: E712
            col(BotConversation.blocked_at).is_(None),
            or_(
                and_(
                    Outbound.recipient_kind == "contact", BotConversation.contact_id == Outbound.recipient_id
                ),
                and_(
                    Outbound.recipient_kind == "officer", BotConversation.officer_id == Outbound.recipient_id
                ),
            ),
        )
        async with self.db.reader() as s:
            rows = list(
                await s.exec(
                    select(Outbound.id, Outbound.kind, Outbound.ref, Outbound.created_at).where(
                        Outbound.status == "undeliverable",
                        col(Outbound.last_error).in_(MISSED),
                        Outbound.created_at >= now - LATE_INSTALL_WINDOW,
                        has_conversation.exists(),
                    )
                )
            )
        ids = [oid for oid, kind, ref, created_at in rows if now < useful_until(kind, ref, created_at)]
        return await self._deliver(await self.ledger.rearm(ids, max_attempts=self.settings.max_attempts))

    # ------------------------------------------------------------------ due computation helpers

    async def _not_yet_claimed(self, due: list[Due]) -> list[Due]:
        """Drop items already in the ledger, so a sweep re-offers only what is new (one read, not N inserts)."""
        if not due:
            return due
        kinds = {d.kind for d in due}
        subject_kinds = {d.subject_kind for d in due}
        all_subjects = sorted({d.subject_id for d in due})
        seen: set[tuple] = set()
        async with self.db.reader() as s:
            for i in range(0, len(all_subjects), NUDGE_BATCH):  # reads of a bounded size: one per batch
                subjects = all_subjects[i : i + NUDGE_BATCH]
                if self.db.is_postgres:  # one array parameter, not thousands of bound values to render
                    of_subjects = Outbound.subject_id == any_(
                        bindparam("subjects", subjects, type_=ARRAY(Integer))
                    )
                else:
                    of_subjects = col(Outbound.subject_id).in_(subjects)
                seen.update(
                    tuple(row)
                    for row in await s.exec(
                        select(
                            Outbound.kind,
                            Outbound.subject_kind,
                            Outbound.subject_id,
                            Outbound.recipient_kind,
                            Outbound.recipient_id,
                            Outbound.ref,
                        )
                        # kind, subject_kind, subject_id: the leading columns of uq_outbound_once, so the ledger's
                        # unique index answers this (without subject_kind, PostgreSQL scans the table).
                        .where(
                            col(Outbound.kind).in_(kinds),
                            col(Outbound.subject_kind).in_(subject_kinds),
                            of_subjects,
                        )
                    )
                )
        return [
            d
            for d in due
            if (d.kind, d.subject_kind, d.subject_id, d.recipient.kind, d.recipient.id, d.ref) not in seen
        ]

    async def _nudge_hour(self, name: str) -> datetime | None:
        """The hour a nudge sweep is to be worked out for, or None when a run has done this hour already (an idle
        run: one read). Nudges fall due on whole hours (the first day of term, the agenda hour, Monday morning), so
        the first run of each hour sends them on time; what a cancellation or an import makes due later in the hour
        goes at the next one. A pass that fails leaves the hour to the next run."""
        hour = self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        mark = await self.marks.get(f"nudge:{name}")
        if mark is not None and hour <= mark < hour + timedelta(hours=1):
            return None
        return hour

    async def _claim_nudges(self, name: str, hour: datetime, due: list[Due]) -> SweepResult:
        claims = await self.ledger.claim(await self._not_yet_claimed(due))
        await self.marks.advance(f"nudge:{name}", hour)
        return await self._deliver(claims)

    async def _current_terms(self, s) -> list[tuple[LA, DomainTerm]]:
        """Every LA in term today (its local date), with that term: the LAs and their calendars in three reads."""
        now = self.clock()
        las = list(await s.exec(select(LA)))
        calendars = await self.ref.calendars(s, [la.id for la in las])
        out = []
        for la in las:
            term = calendars[la.id].term_for(now.astimezone(ZoneInfo(la.timezone)).date())
            if term is not None:
                out.append((la, term))
        return out

    async def _unbooked_now(self, s, las: Sequence[tuple[LA, DomainTerm]]) -> list[_Unbooked]:
        """``_unbooked_in`` for a nudge sweep. Inside a pass of the nudges (``nudges``) the first sweep that needs it
        works it out for every LA in term (``_current_terms``) and the next take their LAs' part, so an hourly pass
        reads and judges the country's schools once, not once per sweep. Only who is due is shared: each message is
        composed from the database as it is when it is sent (a school that booked meanwhile is not chased)."""
        shared = _UNBOOKED_PASS.get()
        if shared is None:
            return await self._unbooked_in(s, las)
        wanted = {la.id: term.id for la, term in las if la.id is not None}
        if any(shared.get(la_id, (None, []))[0] != term_id for la_id, term_id in wanted.items()):
            every = {la.id: (la, term) for la, term in await self._current_terms(s) if la.id is not None}
            every.update({la.id: (la, term) for la, term in las if la.id is not None})
            shared.clear()
            shared.update({la_id: (term.id, []) for la_id, (_, term) in every.items() if term.id is not None})
            for u in await self._unbooked_in(s, list(every.values())):
                shared[u.la_id][1].append(u)
        return [u for la_id in wanted for u in shared[la_id][1]]

    async def _unbooked(self, s, la: LA, term_id: int) -> list[_Unbooked]:
        term = next(t for t in (await self.ref.calendar(s, la.id)).terms if t.id == term_id)
        return await self._unbooked_in(s, [(la, term)])

    async def _unbooked_in(self, s, las: Sequence[tuple[LA, DomainTerm]]) -> list[_Unbooked]:
        """Open schools of these LAs with a link officer, wanted in the LA's term given, with no active or held TSM
        in it: termly schools, and from the profile's yearly_chase_term (summer) those that may book one a year and
        have had none this academic year (``Entitlement.wanted_this_term``). A fixed number of reads for any number
        of LAs and schools (the schools, the TSMs this year, their trusts)."""
        if not las:
            return []
        term_of = {la.id: term for la, term in las if la.id is not None}
        calendars = await self.ref.calendars(s, list(term_of))
        policies = {la_id: (await self.ref.policy_for_la(s, la_id))[0] for la_id in term_of}
        this_year = [
            t.id
            for la_id, term in term_of.items()
            for t in calendars[la_id].terms
            if t.academic_year == term.academic_year
        ]
        booked = select(MeetingSchool.school_id).where(
            col(MeetingSchool.active_term_id).in_([term.id for _, term in las])
        )
        schools = list(
            await s.exec(
                select(School).where(
                    col(School.la_id).in_(list(term_of)),
                    School.open == True,  # noqa: E712
                    col(School.link_officer_id).is_not(None),  # noqa: E712
                    col(School.id).not_in(booked),
                )
            )
        )
        if not schools:
            return []
        had = set(
            await s.exec(
                select(MeetingSchool.school_id).where(col(MeetingSchool.active_term_id).in_(this_year))
            )
        )
        # Which trusts have an officer in each school's LA, read once: school_facts then reads nothing per school.
        await preload_trust_officers(s, schools)
        out = []
        for sc in schools:
            policy, term = policies[sc.la_id], term_of[sc.la_id]
            ent = entitlement_for(await school_facts(s, sc), policy)
            if ent.wanted_this_term(
                term.name, had_tsm_this_year=sc.id in had, chase_from=policy.yearly_chase_term
            ):
                out.append(
                    _Unbooked(
                        sc.id,
                        sc.name,
                        sc.link_officer_id,
                        ent.none_this_year() if ent.yearly else ent,
                        sc.la_id,
                    )
                )
        return out

    async def _school_nudges(self, kind: str, *, weeks: int) -> SweepResult:
        hour = await self._nudge_hour(kind)
        if hour is None:
            return SweepResult()
        now = self.clock()
        due: list[Due] = []
        async with self.db.reader() as s:
            due_las = []
            for la, term in await self._current_terms(s):
                today = now.astimezone(ZoneInfo(la.timezone)).date()
                if today < term.dates.first + timedelta(weeks=weeks):
                    continue
                if today > term.dates.last - timedelta(weeks=1):
                    continue  # too late in term to be useful
                due_las.append((la, term))
            term_ids = {la.id: term.id for la, term in due_las}
            unbooked = await self._unbooked_now(s, due_las)
            # The contacts of every school that books itself, in reads of NUDGE_BATCH schools, not one per school.
            contacts: dict[int, list[int]] = {}
            self_booking = [u.school_id for u in unbooked if u.entitlement.may_book]
            for i in range(0, len(self_booking), NUDGE_BATCH):
                for school_id, contact_id in await s.exec(
                    select(SchoolContact.school_id, SchoolContact.id).where(
                        col(SchoolContact.school_id).in_(self_booking[i : i + NUDGE_BATCH]),
                        SchoolContact.active == True,  # noqa: E712
                        col(SchoolContact.role).in_(("attendance_lead", "senior_leader")),
                    )
                ):
                    contacts.setdefault(school_id, []).append(contact_id)
            for u in unbooked:
                ref = str(term_ids[u.la_id])
                if u.entitlement.may_book:
                    due.extend(
                        Due(kind, "school", u.school_id, Recipient("contact", c), ref)
                        for c in contacts.get(u.school_id, ())
                    )
        return await self._claim_nudges(kind, hour, due)

    async def _end_of_meeting_messages(self, meeting_id: int) -> list[Due]:
        async with self.db.reader() as s:
            m = await s.get(Meeting, meeting_id)
            contacts = list(
                await s.exec(
                    select(MeetingAttendee.contact_id).where(
                        MeetingAttendee.meeting_id == meeting_id, col(MeetingAttendee.contact_id).is_not(None)
                    )
                )
            )
        ref = iso(m.start)
        due = [Due("next_tsm_offer", "meeting", meeting_id, Recipient("officer", m.officer_id), ref)]
        due += [Due("next_tsm_offer", "meeting", meeting_id, Recipient("contact", c), ref) for c in contacts]
        due += [Due("evaluation", "meeting", meeting_id, Recipient("contact", c), ref) for c in contacts]
        return due

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, claims: Sequence[Claim]) -> SweepResult:
        """Send what was claimed. What piled up for one person goes as one message per kind (``scheduler.digests``):
        the newest agenda, unbooked-schools digest or invitation to book only, and an officer's news from several
        schools as one card."""
        result = SweepResult(claimed=len(claims))
        sem = asyncio.Semaphore(self.settings.send_concurrency)
        piles = digests.sort(claims)
        for claim in piles.superseded:
            if await self.ledger.finish(claim, "skipped", "superseded"):
                result.skipped += 1

        async def one(claim: Claim) -> None:
            async with sem:
                await self._deliver_one(claim, result)

        async def news(group: list[Claim]) -> None:
            async with sem:
                await self._deliver_news(group, result)

        await asyncio.gather(*(one(c) for c in piles.singles), *(news(g) for g in piles.news))
        return result

    async def _deliver_news(self, group: list[Claim], result: SweepResult) -> None:
        """Several news items for one officer: each composed as it would be alone (None: no longer true), then the
        newest per school, sent as one message standing for every row."""
        composed: list[tuple[Claim, Message]] = []
        for claim in group:
            try:
                message = await self.compose(claim.due)
            except Exception as exc:  # noqa: BLE001 - this row is retried on its own; the others go on
                log.exception("could not compose %s for the news digest", claim.due.kind)
                await self._retry_or_fail(claim, result, type(exc).__name__)
                continue
            if message is None:
                await self.ledger.finish(claim, "skipped")
                result.skipped += 1
            else:
                composed.append((claim, message))
        kept, superseded = digests.newest_per_school(
            composed, await digests.schools_of(self.db, [c.due for c, _ in composed])
        )
        for claim in superseded:
            if await self.ledger.finish(claim, "skipped", "superseded"):
                result.skipped += 1
        if not kept:
            return
        status, sent_for = await send_as_one(
            [c for c, _ in kept],
            digests.news_message([m for _, m in kept]),
            result,
            ledger=self.ledger,
            messenger=self.messenger,
            max_attempts=self.settings.max_attempts,
        )
        if status is SendStatus.SENT:
            for claim in sent_for:
                result.by_kind[claim.due.kind] = result.by_kind.get(claim.due.kind, 0) + 1

    async def _deliver_one(self, claim: Claim, result: SweepResult) -> None:
        if claim.due.kind == "meeting_end":  # a gate taken over from a worker that died half way
            await self._end_meeting(claim, result)
            return
        status = await deliver(
            claim,
            result,
            ledger=self.ledger,
            messenger=self.messenger,
            compose=self.compose,
            max_attempts=self.settings.max_attempts,
        )
        if status is SendStatus.SENT:
            result.by_kind[claim.due.kind] = result.by_kind.get(claim.due.kind, 0) + 1

    async def _retry_or_fail(
        self, claim: Claim, result: SweepResult, error: str, retry_after: float | None = None
    ):
        await retry_or_fail(
            claim, result, error, retry_after, ledger=self.ledger, max_attempts=self.settings.max_attempts
        )

    async def compose(self, due: Due) -> Message | None:
        """The message for a claimed item, from the database as it is *now* (None: no longer relevant)."""
        if due.kind in FEEDBACK_KINDS:  # claimed by the feedback sweeps, taken over here by retry_expired
            return await self.feedback.compose(due)
        if due.subject_kind == "event":
            return await self.notifications.compose(due.subject_id, due.kind, due.recipient)
        if due.subject_kind == "meeting":
            return await self._compose_meeting(due)
        if due.kind == "agenda":
            return await self._compose_agenda(due)
        if due.kind == "unbooked_weekly":
            return await self._compose_unbooked(due)
        if due.subject_kind == "school":
            return await self._compose_school_nudge(due)
        raise ValueError(f"unknown outbound kind {due.kind}")

    async def _compose_meeting(self, due: Due) -> Message | None:
        async with self.db.reader() as s:
            m = await s.get(Meeting, due.subject_id)
            if m is None or iso(m.start) != due.ref:
                return None  # moved since (its new time has its own reminders) or gone
            schools = await schools_of(s, m.id)
            officer = await s.get(Officer, m.officer_id)
            la = await self.ref.la(s, schools[0].la_id)
            last = (
                await s.exec(
                    select(MeetingStatusChange.status, MeetingStatusChange.actor)
                    .where(MeetingStatusChange.meeting_id == m.id)
                    .order_by(col(MeetingStatusChange.id).desc())
                    .limit(1)
                )
            ).first()
        moved = last is not None and last[0] == "moved"
        names = " & ".join(sc.name for sc in schools)
        if due.kind in ("confirm", "remind_7d", "remind_1d"):
            if m.status not in CHANGEABLE or m.start <= self.clock():
                return None  # cancelled or past: no reminder
            if (
                due.kind == "confirm"
                and last is not None
                and last[1] == f"{due.recipient.kind}:{due.recipient.id}"
            ):
                return None  # they made this change themselves and saw it confirmed in the chat
            view = cards.ReminderView(
                due.kind,
                names,
                officer.name,
                m.start,
                m.end,
                la.timezone,
                m.mode,
                m.location,
                m.join_url,
                moved=moved,
                sent_at=self.clock(),
            )
            return Message(cards.reminder_text(view), cards.reminder(view))
        if due.kind == "next_tsm_offer":
            return await self._compose_offer(due, m, schools, officer, la)
        if due.kind.startswith("leader_"):
            if m.status not in CHANGEABLE or m.start <= self.clock():
                return None
            when_text = cards.when(m.start, m.end, la.timezone)
            if due.kind == "leader_unavailable_officer":
                return Message(
                    f"The senior leader of {names} can't attend the TSM on {when_text}. The school has "
                    "been offered other times this term."
                )
            if due.kind == "leader_rebook_overdue":
                return Message(
                    f"{names} has not picked a new time for the TSM on {when_text} (senior leader "
                    "unavailable). Please contact the school to rearrange it."
                )
            offer = await self.booking.free_slots(
                Actor.system(),
                [sc.id for sc in schools],
                term=m.term_id,
                mode=m.mode,
                limit=5,
                exclude_meeting_id=m.id,
            )
            view = cards.RebookView(
                m.id,
                names,
                officer.name,
                m.start,
                m.end,
                la.timezone,
                tuple(cards.OfferSlot(sl.start, sl.end) for sl in offer.slots),
            )
            return Message(f"Rearrange the TSM for {names}", cards.leader_rebook(view))
        if due.kind == "evaluation":
            if m.status not in ENDABLE:
                return None  # marked a no-show (or cancelled) since: nothing to evaluate
            return await evaluation_message(self.evaluations, m.id, due.recipient.id)  # None once answered
        raise ValueError(f"unknown meeting message {due.kind}")

    async def _compose_offer(self, due: Due, m: Meeting, schools, officer: Officer, la: LA) -> Message | None:
        policy = self.ref.policy(la.policy)
        actor = Actor("officer", officer.id) if due.recipient.kind == "officer" else Actor("admin")
        try:
            offer = await self.booking.free_slots(
                actor, [sc.id for sc in schools], term="next", mode=m.mode, limit=5
            )
        except Exception as exc:  # noqa: BLE001 - e.g. next term's dates are not set yet
            log.info("no next-term offer for meeting %s: %s", m.id, type(exc).__name__)
            offer = None
        can_pick = policy.next_tsm_at_meeting_end == "offer_both" or due.recipient.kind == "officer"
        names = " & ".join(sc.name for sc in schools)
        booked = await self._booked_in(offer.term_id, [sc.id for sc in schools]) if offer else None
        heading = (
            "Next term's TSM is booked"
            if booked is not None
            else "Book next term's TSM now?"
            if can_pick
            else "Your link officer will propose next term's TSM"
        )
        view = cards.OfferView(
            heading=heading,
            school=names,
            school_id=schools[0].id,
            officer=officer.name,
            term=offer.term_label if offer else "next term",
            mode=m.mode,
            timezone=la.timezone,
            slots=tuple(cards.OfferSlot(sl.start, sl.end) for sl in (offer.slots if offer else [])),
            can_pick=can_pick,
            # the officer can correct "held" from here (meeting.mark_no_show_start)
            held_meeting_id=m.id
            if due.recipient.kind == "officer" and m.status == MeetingStatus.HELD.value
            else None,
            booked=cards.when(booked.start, booked.end, la.timezone) if booked is not None else "",
        )
        return Message(f"Next term's TSM for {names}", cards.next_tsm_offer(view))

    async def _booked_in(self, term_id: int, school_ids: list[int]) -> Meeting | None:
        """The schools' active TSM in that term, if one is booked: the end-of-meeting offer then says so instead of
        offering times that would end in "already booked"."""
        async with self.db.reader() as s:
            return (
                await s.exec(
                    select(Meeting)
                    .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                    .where(
                        col(MeetingSchool.school_id).in_(school_ids), MeetingSchool.active_term_id == term_id
                    )
                    .order_by(Meeting.start)
                    .limit(1)
                )
            ).first()

    async def _compose_agenda(self, due: Due) -> Message | None:
        day = date.fromisoformat(due.ref)
        async with self.db.reader() as s:
            officer = await s.get(Officer, due.subject_id)
            la = await self.ref.la(s, officer.la_id)
            tz = ZoneInfo(la.timezone)
            if self.clock().astimezone(tz).date() > day:
                return None  # its day is over
            start = datetime.combine(day, time(0), tzinfo=tz)
            meetings = list(
                await s.exec(
                    select(Meeting)
                    .where(
                        Meeting.officer_id == officer.id,
                        col(Meeting.status).in_(CHANGEABLE),
                        Meeting.start >= start,
                        Meeting.start < start + timedelta(days=1),
                    )
                    .order_by(Meeting.start)
                )
            )
            items = []
            for m in meetings:
                names = [sc.name for sc in await schools_of(s, m.id)]
                items.append(cards.AgendaItem(m.start, m.end, " & ".join(names), m.mode, m.location))
        if not items or await self._newer_sent(due):
            return None  # nothing that day, or a later agenda has reached them: the newest only
        view = cards.AgendaView(day_text(day), la.timezone, tuple(items))
        return Message(f"{len(items)} TSM{'s' if len(items) > 1 else ''} on {view.day}", cards.agenda(view))

    async def _compose_unbooked(self, due: Due) -> Message | None:
        """The officer's digest of their schools with no TSM this term, as they are now: each school once, with what
        the bot last sent it about booking (``_nudged``). None once the term is over or a later digest has reached
        the officer (a second weekly card supersedes the first)."""
        term_id, _, when = due.ref.partition(":")
        async with self.db.reader() as s:
            officer = await s.get(Officer, due.subject_id)
            la = await self.ref.la(s, officer.la_id)
            tz = ZoneInfo(la.timezone)
            cal = await self.ref.calendar(s, la.id)
            term = cal.term_for(self.clock().astimezone(tz).date())
            if term is None or str(term.id) != term_id:
                return None  # the term is over: its list is old news
            mine = sorted(
                (u for u in await self._unbooked(s, la, term.id) if u.officer_id == officer.id),
                key=lambda u: u.name,
            )
            sent, missed = await self._nudged(s, [u.school_id for u in mine], term.id)
            staffed = await self._staffed(s, [u.school_id for u in mine if u.entitlement.may_book])
        midnight = datetime.combine(self.clock().astimezone(tz).date(), time(0), tzinfo=tz)
        if not mine or await self._newer_sent(due, since=midnight):
            return None  # all booked, or a later digest (or another today) has reached the officer
        schools = []
        for u in mine:
            kind, at = sent.get(u.school_id, ("", None))
            if at is not None:
                status = f"{'reminded' if kind == 'chaser' else 'invited'} {day_text(at, tz)}"
            elif u.entitlement.may_book and u.school_id not in staffed:
                status = "no attendance lead or senior leader on record to invite"
            elif u.school_id in missed:
                status = "not reached: its staff have neither the app nor an email address"
            else:
                status = ""
            schools.append(
                cards.UnbookedSchool(u.school_id, u.name, officer_short_words(u.entitlement), status)
            )
        note = (
            "The schools that book themselves have been sent a reminder; those contacted directly are yours "
            "to arrange."
            if when == CHASED
            else ""
        )
        view = cards.UnbookedView(term.label, tuple(schools), note)
        return Message(
            f"{len(mine)} school{'s' if len(mine) != 1 else ''} still to book this term", cards.unbooked(view)
        )

    async def _nudged(
        self, s, school_ids: list[int], term_id: int
    ) -> tuple[dict[int, tuple[str, datetime]], set[int]]:
        """Per school, the last invitation to book this term that reached its staff (term_start | chaser, when), and
        the schools whose invitations reached nobody (undeliverable: no app, no email address)."""
        out: dict[int, tuple[str, datetime]] = {}
        missed: set[int] = set()
        batch = 1000  # schools per read
        for i in range(0, len(school_ids), batch):
            rows = await s.exec(
                select(Outbound.subject_id, Outbound.kind, Outbound.status, Outbound.sent_at).where(
                    col(Outbound.kind).in_(("term_start", "chaser")),
                    Outbound.subject_kind == "school",
                    col(Outbound.subject_id).in_(school_ids[i : i + batch]),
                    Outbound.ref == str(term_id),
                    col(Outbound.status).in_(("sent", "undeliverable")),
                )
            )
            for school_id, kind, status, at in rows:
                if status == "undeliverable":
                    missed.add(school_id)
                elif at is not None and (school_id not in out or out[school_id][1] < at):
                    out[school_id] = (kind, at)
        return out, missed - set(out)

    async def _staffed(self, s, school_ids: list[int]) -> set[int]:
        """The schools with an active attendance lead or senior leader on record: whom the invitations go to."""
        out: set[int] = set()
        batch = 1000
        for i in range(0, len(school_ids), batch):
            out.update(
                await s.exec(
                    select(SchoolContact.school_id)
                    .where(
                        col(SchoolContact.school_id).in_(school_ids[i : i + batch]),
                        SchoolContact.active == True,  # noqa: E712
                        col(SchoolContact.role).in_(("attendance_lead", "senior_leader")),
                    )
                    .distinct()
                )
            )
        return out

    async def _newer_sent(self, due: Due, *, since: datetime | None = None) -> bool:
        """Whether a later message of the same kind about the same subject has already reached this recipient (its
        ledger row made after this one's, and sent): then this one is old news (a second weekly card supersedes the
        first; tomorrow's agenda, today's). With ``since`` (a day's start): or another one was sent that day (one a
        day). One read by the ledger's unique key."""
        same = and_(
            Outbound.kind == due.kind,
            Outbound.subject_kind == due.subject_kind,
            Outbound.subject_id == due.subject_id,
            Outbound.recipient_kind == due.recipient.kind,
            Outbound.recipient_id == due.recipient.id,
        )
        mine = select(Outbound.id).where(same, Outbound.ref == due.ref).scalar_subquery()
        later = Outbound.id > mine
        if since is not None:
            sent = col(Outbound.sent_at)
            later = or_(later, and_(Outbound.ref != due.ref, sent >= since, sent < since + timedelta(days=1)))
        async with self.db.reader() as s:
            found = await s.exec(select(Outbound.id).where(same, later, Outbound.status == "sent").limit(1))
            return found.first() is not None

    async def _compose_school_nudge(self, due: Due) -> Message | None:
        """The invitation to book this term's TSM (the term-start nudge, the chaser), as things are now: None once the
        school has booked or its moment is gone. A term-start nudge goes only in the term's first weeks: from the
        chasers' day the chaser says it, and after the first week it no longer says "a new term has started" but
        that this term's TSM is not booked yet. Nothing in the term's last week or after it."""
        if due.recipient.kind == "officer":
            return None  # the per-school notices officers once got: their unbooked digest says it, once a day at most
        term_id = int(due.ref)
        async with self.db.reader() as s:
            school = await s.get(School, due.subject_id)
            booked = (
                await s.exec(
                    select(MeetingSchool).where(
                        MeetingSchool.school_id == school.id, MeetingSchool.active_term_id == term_id
                    )
                )
            ).first()
            officer = await s.get(Officer, school.link_officer_id) if school.link_officer_id else None
            la = await self.ref.la(s, school.la_id)
            today = self.clock().astimezone(ZoneInfo(la.timezone)).date()
            term = (await self.ref.calendar(s, la.id)).term_for(today)
        if booked is not None or officer is None:
            return None  # booked in the meantime
        if term is None or term.id != term_id or today > term.dates.last - timedelta(weeks=1):
            return None  # the term is over, or too near its end to be of use
        chasers_from = term.dates.first + timedelta(weeks=self.settings.chaser_after_weeks)
        if due.kind == "term_start" and today >= chasers_from:
            return None  # its moment is gone: the chaser is due
        fresh = due.kind == "term_start" and today < term.dates.first + timedelta(weeks=1)
        # The Book button; by email (no Teams conversation), the sign-in link to the web page.
        return await invite_message(self.db, school, chaser=not fresh, term_start=fresh)


def _ref_time(ref: str) -> datetime | None:
    try:
        return datetime.strptime(ref, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def useful_until(kind: str, ref: str, created_at: datetime) -> datetime:
    """Until when a message that could not be delivered is still worth sending late (see ``late_installs``):
    a confirmation or the 1-day reminder until the meeting starts, the 7-day reminder (the checklist) until the
    1-day one is due, next term's offer and the evaluation request for two weeks after the meeting, an agenda
    until its day is over; anything else for a week. Within that, what is sent is composed then: what lost its
    moment is dropped or reworded there (``Jobs.compose``), and of what piled up only the newest goes."""
    start = _ref_time(ref)
    if start is not None:
        if kind.startswith(EVENT_KIND_PREFIX + "record"):
            return start + timedelta(days=14)  # a TSM record is worth reading for a while after the meeting
        if kind in ("confirm", "remind_1d") or kind.startswith(("leader_", EVENT_KIND_PREFIX)):
            return start
        if kind == "remind_7d":
            return start - timedelta(days=1)
        if kind in ("next_tsm_offer", "evaluation"):
            return start + timedelta(days=14)
    if kind == "agenda":
        try:
            return datetime.combine(date.fromisoformat(ref) + timedelta(days=1), time(0), tzinfo=UTC)
        except ValueError:
            pass
    return created_at + timedelta(days=7)


def _end_gate(meeting_id: int, officer_id: int, start: datetime) -> Due:
    """The ledger row that makes a meeting's end handled once, whichever of the event and the timer comes first."""
    return Due("meeting_end", "meeting", meeting_id, Recipient("officer", officer_id), iso(start))


@dataclass(frozen=True)
class _Unbooked:
    school_id: int
    name: str
    officer_id: int
    entitlement: Any
    la_id: int = 0


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _is_working_day(day: date) -> bool:
    return day.weekday() < 5 and default_bank_holidays().name(day) is None


def _next_working_day(day: date) -> date:
    d = day + timedelta(days=1)
    while not _is_working_day(d):
        d += timedelta(days=1)
    return d
