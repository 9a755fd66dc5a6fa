"""Feedback sweeps (issue 6): the one evaluation reminder, reminders of agreed actions, the retention purge.

Like the other sweeps, each works out what is due *now* from the database and claims it in the ledger
(``scheduler.ledger.Ledger``), so a restart or a second worker never sends anything twice:

- ``record_prompts``: half an hour after a meeting's end, its officer gets the TSM record card to fill in,
  once, unless the record was written already (by either side).

- ``evaluation_reminders``: ``evaluation_reminder_days`` after the evaluation request was sent (ledger kind
  ``evaluation``, sent by ``Jobs.on_meeting_end``), one reminder to each person asked who has not answered;
  the ledger key (kind, meeting, contact, meeting start) makes it once.
- ``action_reminders``: an open action due before the school's next TSM (or with none booked) reminds its
  owner from ``action_reminder_lead_days`` before its due date: the school's attendance lead and senior
  leader for a school action, the link officer for an LA or other-service action. Keyed by the due date:
  a new due date gets one new reminder.
- ``purge``: after ``feedback_retention_days`` from the meeting's end, evaluation comments, authors, edit
  tokens and receipts are deleted (the ratings stay, anonymous, for the trend reports) and TSM records
  with their actions are deleted. Idempotent; one audit row per run that removed anything.

``Jobs.compose`` (the scheduler's) should hand the kinds in ``KINDS`` to :meth:`FeedbackJobs.compose`, so a
claim that another worker takes over after a failed send is composed the same way; and it can send the
evaluation request itself as a card with :func:`evaluation_message`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, delete, exists, func, update
from sqlalchemy import select as core_select
from sqlmodel import col, select

from cards import evaluation as eval_cards
from cards.evaluation import card, execute, text
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import LA, School, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt, RecordAction, TsmRecord
from tsm.adapters.db.history import AuditLog
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.domain.feedback import ActionOwner, action_reminder_due, retention_cutoff
from tsm.domain.text import day_text
from tsm.messaging import Message, MessengerPort, Recipient
from tsm.services.evaluations import Evaluations
from tsm.services.meetings import schools_of

from .delivery import SweepResult, deliver
from .ledger import Claim, Due, Ledger
from .marks import Marks

log = logging.getLogger(__name__)

KINDS = frozenset({"evaluation_reminder", "action_reminder", "record_prompt"})
EVALUATION_LOOKBACK = timedelta(days=30)  # how long after its due time an evaluation reminder is still sent
RECORD_PROMPT_LOOKBACK = timedelta(days=3)  # likewise the record card to the officer
ACTIVE = ("booked", "moved", "held")


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class PurgeResult:
    evaluations: int = 0
    receipts: int = 0
    records: int = 0
    actions: int = 0

    @property
    def total(self) -> int:
        return self.evaluations + self.receipts + self.records + self.actions


async def evaluation_message(
    evaluations: Evaluations, meeting_id: int, contact_id: int, *, reminder: bool = False
) -> Message | None:
    """The evaluation request (or its reminder) as a card; None when the person has answered already."""
    view = await evaluations.card_view(meeting_id, contact_id)
    if view.answered:
        return None
    preview = eval_cards.evaluation_text(view)
    return Message(("Reminder: " if reminder else "") + preview, eval_cards.evaluation_card(view))


class FeedbackJobs:
    def __init__(
        self,
        *,
        db: Database,
        messenger: MessengerPort,
        ledger: Ledger,
        clock: Callable[[], datetime],
        evaluations: Evaluations | None = None,
        retention_days: int = 730,
        evaluation_reminder_after: timedelta = timedelta(days=3),
        action_lead_days: int = 7,
        record_prompt_after: timedelta = timedelta(minutes=30),
        max_attempts: int = 5,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.ledger = ledger
        self.clock = clock
        self.evaluations = evaluations or Evaluations(db, clock=clock)
        self.retention_days = retention_days
        self.evaluation_reminder_after = evaluation_reminder_after
        self.action_lead_days = action_lead_days
        self.record_prompt_after = record_prompt_after
        self.max_attempts = max_attempts
        self.marks = Marks(db, clock)
        # The delivery path: the scheduler's (``Jobs._deliver``: sends in parallel up to its concurrency, like the
        # reminders) once a Jobs object takes these sweeps on; one after the other when used alone.
        self.send: Callable[[list[Claim]], Awaitable[SweepResult]] | None = None

    @classmethod
    def for_app(cls, app, messenger: MessengerPort, ledger: Ledger) -> FeedbackJobs:
        s = app.settings
        return cls(
            db=app.db,
            messenger=messenger,
            ledger=ledger,
            clock=ledger.clock,
            evaluations=app.evaluations,
            retention_days=s.feedback_retention_days,
            evaluation_reminder_after=timedelta(days=s.evaluation_reminder_days),
            action_lead_days=s.action_reminder_lead_days,
        )

    async def run_all(self) -> SweepResult:
        total = SweepResult()
        for sweep in (self.record_prompts, self.evaluation_reminders, self.action_reminders):
            try:
                total.add(await sweep())
            except Exception:  # one failing sweep must not stop the other, nor the purge
                log.exception("feedback sweep %s failed", sweep.__name__)
        try:  # once a day across all workers
            once = getattr(self.ledger, "once", None)
            if once is None or await once("feedback_purge", self.clock().date().isoformat()):
                await self.purge()
        except Exception:
            log.exception("feedback purge failed")
        return total

    # ------------------------------------------------------------------ evaluation reminder

    async def due_evaluation_reminders(self, now: datetime | None = None) -> list[Due]:
        return (await self._due_evaluation_reminders(now or self.clock()))[0]

    async def _due_evaluation_reminders(self, now: datetime) -> tuple[list[Due], bool]:
        """The requests sent ``evaluation_reminder_after`` ago whose reminder fell due since the sweep's mark (the
        ledger's ``(kind, sent_at)`` index; at most 30 days back), to people who have not answered."""
        after = self.evaluation_reminder_after
        async with self.db.reader() as s:
            since = await self.marks.since("evaluation_reminders", EVALUATION_LOOKBACK, now, s)
            asked = list(
                await s.exec(
                    select(Outbound.subject_id, Outbound.recipient_id).where(
                        Outbound.kind == "evaluation",
                        col(Outbound.sent_at) > since - after,
                        col(Outbound.sent_at) <= now - after,
                        Outbound.status == "sent",
                        Outbound.recipient_kind == "contact",
                    )
                )
            )
            if not asked:
                return [], False
            meeting_ids = {mid for mid, _ in asked}
            answered = set(
                await s.exec(
                    select(EvaluationReceipt.meeting_id, EvaluationReceipt.contact_id).where(
                        col(EvaluationReceipt.meeting_id).in_(meeting_ids)
                    )
                )
            )
            meetings = {
                mid: (start, status)
                for mid, start, status in await s.exec(
                    select(Meeting.id, Meeting.start, Meeting.status).where(col(Meeting.id).in_(meeting_ids))
                )
            }
        due = []
        for mid, contact_id in asked:
            m = meetings.get(mid)
            if m is None or m[1] in ("cancelled", "no_show") or (mid, contact_id) in answered:
                continue
            due.append(
                Due("evaluation_reminder", "meeting", mid, Recipient("contact", contact_id), iso(m[0]))
            )
        return due, True

    async def evaluation_reminders(self) -> SweepResult:
        now = self.clock()
        due, read = await self._due_evaluation_reminders(now)
        claims = await self.ledger.claim(due)
        if read:  # else the window was empty: the mark may stay, the next window is as cheap
            await self.marks.advance("evaluation_reminders", now)
        return await self._deliver(claims)

    # ------------------------------------------------------------------ the record, at the meeting's end

    async def due_record_prompts(self, now: datetime | None = None) -> list[Due]:
        """Meetings that ended ``record_prompt_after`` ago (up to 3 days) with no record yet: their officer gets the
        record card to fill in, once per meeting (and time: a moved meeting is a new one). Reads the meetings whose
        prompt fell due since the sweep's mark, by the index on ``meeting.end``."""
        now = now or self.clock()
        after = self.record_prompt_after
        async with self.db.reader() as s:
            since = await self.marks.since("record_prompts", RECORD_PROMPT_LOOKBACK, now, s)
            rows = list(
                await s.exec(
                    select(Meeting.id, Meeting.officer_id, Meeting.start).where(
                        Meeting.end > since - after,
                        Meeting.end <= now - after,
                        col(Meeting.status).in_(ACTIVE),
                        ~select(TsmRecord.id).where(TsmRecord.meeting_id == Meeting.id).exists(),
                    )
                )
            )
        return [
            Due("record_prompt", "meeting", mid, Recipient("officer", officer_id), iso(start))
            for mid, officer_id, start in rows
        ]

    async def record_prompts(self) -> SweepResult:
        now = self.clock()
        due = await self.due_record_prompts(now)
        claims = await self.ledger.claim(due)
        if due:  # else the window was empty: the mark may stay
            await self.marks.advance("record_prompts", now)
        return await self._deliver(claims)

    async def _compose_record_prompt(self, due: Due) -> Message | None:
        from cards.record import record_card
        from tsm.services.actors import Actor
        from tsm.services.records import Records

        async with self.db.reader() as s:
            m = await s.get(Meeting, due.subject_id)
        if m is None or iso(m.start) != due.ref or m.status not in ACTIVE:
            return None
        view = await Records(self.db, clock=self.clock).view(Actor("officer", m.officer_id), m.id)
        if view.exists:
            return None  # written in the meantime (by the officer or the school)
        return Message(f"Write the TSM record: {view.school}", record_card(view))

    # ------------------------------------------------------------------ action reminders

    async def due_action_reminders(self, *, only_new: bool = False) -> list[Due]:
        """The open actions whose reminder is due today: the actions due in the window, their meetings' schools,
        LAs, next TSMs and the schools' contacts each in one read, whatever the number of actions. ``only_new``: only
        the actions with no reminder in the ledger yet for their due date (added or re-dated since the last pass); a
        colleague who joined since an action was reminded is reached by the next whole pass."""
        now = self.clock()
        due: list[Due] = []
        async with self.db.reader() as s:
            query = (
                core_select(  # six columns: sqlmodel's select() has overloads for four
                    RecordAction.id,
                    RecordAction.owner,
                    RecordAction.due_date,
                    Meeting.id,
                    Meeting.start,
                    Meeting.officer_id,
                )
                .join(TsmRecord, TsmRecord.id == RecordAction.record_id)
                .join(Meeting, Meeting.id == TsmRecord.meeting_id)
                .where(
                    RecordAction.due_date <= (now + timedelta(days=self.action_lead_days + 1)).date(),
                    RecordAction.due_date >= (now - timedelta(days=14)).date(),
                    col(RecordAction.done_at).is_(None),
                )
            )
            if only_new:
                # The ledger's ref is the due date in ISO form; uq_outbound_once's leading columns answer it.
                iso_due = (
                    func.to_char(RecordAction.due_date, "YYYY-MM-DD")
                    if self.db.is_postgres
                    else cast(RecordAction.due_date, String)
                )
                query = query.where(
                    ~exists().where(
                        Outbound.kind == "action_reminder",
                        Outbound.subject_kind == "action",
                        Outbound.subject_id == RecordAction.id,
                        Outbound.ref == iso_due,
                    )
                )
            rows = list(
                await (await s.connection()).execute(query)
            )  # a Core select, on the reader's connection
            if not rows:
                return []
            schools: dict[int, list[int]] = {}
            la_of: dict[int, int] = {}
            for mid, school_id, la_id in await s.exec(
                select(MeetingSchool.meeting_id, School.id, School.la_id)
                .join(School, School.id == MeetingSchool.school_id)
                .where(col(MeetingSchool.meeting_id).in_({r[3] for r in rows}))
            ):
                schools.setdefault(mid, []).append(school_id)
                la_of.setdefault(mid, la_id)
            zones = {
                la_id: ZoneInfo(tz or "Europe/London")
                for la_id, tz in await s.exec(
                    select(LA.id, LA.timezone).where(col(LA.id).in_(set(la_of.values())))
                )
            }
            all_schools = {sc for ids in schools.values() for sc in ids}
            starts: dict[int, list[datetime]] = {}  # each school's active TSMs from the earliest meeting on
            for school_id, start in await s.exec(
                select(MeetingSchool.school_id, Meeting.start)
                .join(Meeting, Meeting.id == MeetingSchool.meeting_id)
                .where(
                    col(MeetingSchool.school_id).in_(all_schools),
                    Meeting.start > min(r[4] for r in rows),
                    col(Meeting.status).in_(ACTIVE),
                )
            ):
                starts.setdefault(school_id, []).append(start)
            school_owned = {mid for _, owner, _, mid, _, _ in rows if owner == ActionOwner.SCHOOL.value}
            contacts: dict[int, list[int]] = {}
            wanted = {sc for mid in school_owned for sc in schools.get(mid, ())}
            if wanted:
                for school_id, contact_id in await s.exec(
                    select(SchoolContact.school_id, SchoolContact.id).where(
                        col(SchoolContact.school_id).in_(wanted),
                        SchoolContact.active == True,  # noqa: E712
                        col(SchoolContact.role).in_(("attendance_lead", "senior_leader")),
                    )
                ):
                    contacts.setdefault(school_id, []).append(contact_id)
        for action_id, owner, due_date, meeting_id, start, officer_id in rows:
            if meeting_id not in schools:
                continue
            tz = zones.get(la_of[meeting_id], ZoneInfo("Europe/London"))
            later = [st for sc in schools[meeting_id] for st in starts.get(sc, ()) if st > start]
            next_day = min(later).astimezone(tz).date() if later else None
            if not action_reminder_due(
                due=due_date,
                today=now.astimezone(tz).date(),
                done=False,
                next_tsm=next_day,
                lead_days=self.action_lead_days,
            ):
                continue
            ref = due_date.isoformat()
            if owner == ActionOwner.SCHOOL.value:
                due += [
                    Due("action_reminder", "action", action_id, Recipient("contact", c), ref)
                    for sc in schools[meeting_id]
                    for c in contacts.get(sc, ())
                ]
            else:
                due.append(Due("action_reminder", "action", action_id, Recipient("officer", officer_id), ref))
        return due

    async def action_reminders(self) -> SweepResult:
        """Worked out at the first run of each hour (reminders fall due by the day): an idle run is one read. The
        first pass of each day (UTC) works out every open action in the window; the day's other passes only those
        not reminded yet for their due date (added or re-dated since), so an hourly pass costs what is new, not
        every open action of the country again."""
        hour = self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        mark = await self.marks.get("action_reminders")
        if mark is not None and hour <= mark < hour + timedelta(hours=1):
            return SweepResult()
        due = await self.due_action_reminders(only_new=mark is not None and mark.date() == hour.date())
        claims = await self.ledger.claim(due)
        await self.marks.advance("action_reminders", hour)
        return await self._deliver(claims)

    # ------------------------------------------------------------------ composing and sending

    async def compose(self, due: Due) -> Message | None:
        """The message for a claimed item, from the database as it is now (None: no longer relevant)."""
        if due.kind == "evaluation_reminder":
            async with self.db.reader() as s:
                m = await s.get(Meeting, due.subject_id)
            if m is None or iso(m.start) != due.ref or m.status in ("cancelled", "no_show"):
                return None
            return await evaluation_message(self.evaluations, due.subject_id, due.recipient.id, reminder=True)
        if due.kind == "action_reminder":
            return await self._compose_action(due)
        if due.kind == "record_prompt":
            return await self._compose_record_prompt(due)
        raise ValueError(f"not a feedback kind: {due.kind}")

    async def _compose_action(self, due: Due) -> Message | None:
        async with self.db.reader() as s:
            a = await s.get(RecordAction, due.subject_id)
            if a is None or a.done_at is not None or a.due_date.isoformat() != due.ref:
                return None  # done, re-dated (its new date has its own reminder) or purged
            rec = await s.get(TsmRecord, a.record_id)
            m = await s.get(Meeting, rec.meeting_id)
            names = [sc.name for sc in await schools_of(s, m.id)]
            la = await s.get(
                LA,
                (
                    await s.exec(
                        select(School.la_id)
                        .join(MeetingSchool, MeetingSchool.school_id == School.id)
                        .where(MeetingSchool.meeting_id == m.id)
                    )
                ).first(),
            )
        tz = ZoneInfo(la.timezone if la else "Europe/London")
        school = " & ".join(names)
        today = self.clock().astimezone(tz).date()
        when = "was due" if a.due_date < today else "is due"
        owner = ActionOwner(a.owner).label + (f" ({a.owner_detail})" if a.owner_detail else "")
        body = [
            text("Reminder: an action from your TSM", weight="Bolder", size="Medium"),
            text(f"**{a.text}**"),
            text(
                f"{school}: agreed at the TSM on {day_text(m.start, tz, year=True)}. Owner: {owner}. "
                f"It {when} on {day_text(a.due_date, year=True)}."
            ),
        ]
        buttons = [
            execute("Mark it done", "record.action_done", {"actionId": a.id}),
            execute("Open the record", "record.edit", {"meetingId": m.id}),
        ]
        return Message(f"Action {when} {day_text(a.due_date)}: {school}", card(body, buttons))

    async def _deliver(self, claims: list[Claim]) -> SweepResult:
        if self.send is not None:
            return await self.send(claims)
        result = SweepResult(claimed=len(claims))
        for claim in claims:
            await deliver(
                claim,
                result,
                ledger=self.ledger,
                messenger=self.messenger,
                compose=self.compose,
                max_attempts=self.max_attempts,
            )
        return result

    # ------------------------------------------------------------------ retention

    async def purge(self) -> PurgeResult:
        """Purge what is past the retention period (see the module docstring). Safe to run any number of times."""
        now = self.clock()
        cutoff = retention_cutoff(now, self.retention_days)
        old = select(Meeting.id).where(Meeting.end < cutoff)
        async with self.db.transaction() as s:
            evals = await s.exec(
                update(Evaluation)
                .where(col(Evaluation.meeting_id).in_(old), Evaluation.purged == False)  # noqa: E712
                .values(comments="", contact_id=None, anonymous=True, edit_token_hash=None, purged=True)
                .execution_options(synchronize_session=False)
            )
            receipts = await s.exec(
                delete(EvaluationReceipt).where(col(EvaluationReceipt.meeting_id).in_(old))
            )
            old_records = select(TsmRecord.id).where(col(TsmRecord.meeting_id).in_(old))
            actions = await s.exec(delete(RecordAction).where(col(RecordAction.record_id).in_(old_records)))
            records = await s.exec(delete(TsmRecord).where(col(TsmRecord.meeting_id).in_(old)))
            result = PurgeResult(
                evals.rowcount or 0, receipts.rowcount or 0, records.rowcount or 0, actions.rowcount or 0
            )
            if result.total:
                s.add(
                    AuditLog(
                        at=now,
                        actor="system",
                        action="feedback.purge",
                        entity="retention",
                        entity_id="-",
                        detail={
                            "cutoff": cutoff.isoformat(),
                            "evaluations": result.evaluations,
                            "receipts": result.receipts,
                            "records": result.records,
                            "actions": result.actions,
                        },
                    )
                )
        if result.total:
            log.info(
                "feedback purge: %d evaluations anonymised, %d receipts, %d records, %d actions deleted",
                result.evaluations,
                result.receipts,
                result.records,
                result.actions,
            )
        return result


def feedback_sweep(service) -> tuple[Callable[[], object], int]:
    """(coroutine function, interval seconds) for ``SchedulerService.sweeps()``: the feedback sweeps every 5
    minutes, sending through the scheduler's own delivery path (its ledger, messenger and concurrency)."""
    return service.jobs.feedback.run_all, 300
