"""The TSM record: school-level figures, agreed actions with owner and due date, the lead practitioner.

Written by the officer or the school's staff at or after the meeting (one record per meeting; either
side may correct it, the last save wins and is audited). Free text is checked for what looks like pupil
names, UPNs or dates of birth before anything is saved: the caller gets the findings back and nothing
changes until the user edits the text or confirms the exact phrases are not pupil data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.directory import Officer, School, SchoolContact
from ..adapters.db.engine import Database
from ..adapters.db.feedback import RecordAction, TsmRecord
from ..adapters.db.history import AuditLog
from ..adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from ..domain import pupil_data
from ..domain.errors import InvalidInput, NotAllowed, NotFound
from ..domain.feedback import (
    MAX_NOTES,
    ActionDraft,
    ActionOwner,
    Figures,
    Finding,
    allowed_from_names,
    clean_text,
    find_pupil_data,
    parse_actions,
    parse_figures,
)
from .actors import Actor
from .evaluations import MeetingFacts, check_ended, load_meeting
from .events import EventKind, record
from .meetings import schools_of

OPEN_STATUSES = ("booked", "moved", "held")
COUNT_COLUMNS = {
    "pa": "pa_count",
    "sa": "sa_count",
    "sen": "sen_count",
    "fsm": "fsm_count",
    "eal": "eal_count",
    "grt": "grt_count",
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ActionView:
    id: int | None
    text: str
    owner: str
    owner_detail: str
    due: date
    done: bool

    @property
    def owner_label(self) -> str:
        label = ActionOwner(self.owner).label
        return f"{label} ({self.owner_detail})" if self.owner_detail else label


@dataclass(frozen=True)
class RecordView:
    meeting_id: int
    school: str
    officer: str
    start: datetime
    end: datetime
    timezone: str
    exists: bool
    figures: Figures = field(default_factory=Figures)
    lead_practitioner: str = ""
    notes: str = ""
    actions: tuple[ActionView, ...] = ()
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class OpenAction:
    action_id: int
    text: str
    owner: str
    due: date
    school: str
    meeting_id: int
    meeting_start: datetime


@dataclass(frozen=True)
class SaveOutcome:
    """Either the saved record, or the findings that stopped the save (nothing was written)."""

    view: RecordView
    findings: tuple[Finding, ...] = ()
    draft: dict | None = None  # the submitted fields, to put back in the form or the warning card
    created: bool = False  # this save wrote the meeting's first record
    officer_id: int = 0  # who to tell: the meeting's officer...
    attendee_contact_ids: tuple[int, ...] = ()  # ...and the school staff invited to it

    @property
    def saved(self) -> bool:
        return not self.findings


class Records:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _now) -> None:
        self.db = db
        self.clock = clock

    async def view(self, actor: Actor, meeting_id: int) -> RecordView:
        async with self.db.reader() as s:
            m = await load_meeting(s, actor, meeting_id)
            return await self._view(s, m)

    async def latest_meeting(self, actor: Actor) -> int | None:
        """The most recent meeting that has started and was not cancelled: the school's, or the officer's."""
        now = self.clock()
        async with self.db.reader() as s:
            q = select(Meeting.id).where(Meeting.start <= now, col(Meeting.status).in_(OPEN_STATUSES))
            if actor.kind == "contact":
                q = q.join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id).where(
                    MeetingSchool.school_id == actor.school_id
                )
            elif actor.kind == "officer":
                q = q.where(Meeting.officer_id == actor.id)
            elif actor.kind == "admin" and not actor.is_operator:
                q = q.where(col(Meeting.officer_id).in_(_la_officers(actor.la_id)))
            return (await s.exec(q.order_by(col(Meeting.start).desc()).limit(1))).first()

    async def save(
        self, actor: Actor, meeting_id: int, data: dict, *, acknowledged: Sequence[str] = ()
    ) -> SaveOutcome:
        """Validate and save the record from form ``data`` (replacing its actions, keeping "done" marks of
        unchanged ones). Pupil-looking text not in ``acknowledged`` stops the save and is returned."""
        if actor.kind not in ("contact", "officer", "admin"):
            raise NotAllowed("Only the school's staff and its link officer can write the TSM record.")
        now = self.clock()
        async with self.db.reader() as s:
            m = await load_meeting(s, actor, meeting_id)
            _check_writable(m, now)
            data = await self._keep_small_counts(s, m, data)
            figures = parse_figures(data)
            lead = clean_text(data.get("lead_practitioner"), label="the lead practitioner", max_len=120)
            notes = clean_text(data.get("notes"), label="the notes", max_len=MAX_NOTES)
            actions = parse_actions(data, meeting_day=m.start.astimezone(_tz(m)).date())
            allowed = await self._allowed_words(s, m)
        findings = _check_text(lead, notes, actions, allowed)
        # A UPN or a date of birth stops the save whatever was acknowledged; names only until confirmed.
        pending = pupil_data.pending(findings, [a for a in acknowledged if isinstance(a, str)])
        draft = _draft(figures, lead, notes, actions)
        if pending:
            async with self.db.reader() as s:
                view = await self._view(s, m)
            return SaveOutcome(view, tuple(pending), draft)
        try:
            async with self.db.transaction() as s:
                created = await self._write(
                    s, actor, m, figures, lead, notes, actions, now, acknowledged=len(findings)
                )
        except IntegrityError:  # two first saves at once: the other created the record; save over it
            async with self.db.transaction() as s:
                created = await self._write(
                    s, actor, m, figures, lead, notes, actions, now, acknowledged=len(findings)
                )
        async with self.db.reader() as s:
            contacts = tuple(
                c
                for c in await s.exec(
                    select(MeetingAttendee.contact_id).where(
                        MeetingAttendee.meeting_id == m.id, col(MeetingAttendee.contact_id).is_not(None)
                    )
                )
                if c is not None
            )
        return SaveOutcome(await self.view(actor, meeting_id), (), draft, created, m.officer_id, contacts)

    async def _write(
        self,
        s: AsyncSession,
        actor: Actor,
        m: MeetingFacts,
        figures: Figures,
        lead: str,
        notes: str,
        actions: list[ActionDraft],
        now: datetime,
        *,
        acknowledged: int,
    ) -> bool:
        rec = (await s.exec(select(TsmRecord).where(TsmRecord.meeting_id == m.id))).first()
        created = rec is None
        if rec is None:
            rec = TsmRecord(
                meeting_id=m.id, created_by=actor.key, updated_by=actor.key, created_at=now, updated_at=now
            )
        rec.attendance_pct, rec.pa_count, rec.sa_count = figures.attendance_pct, figures.pa, figures.sa
        rec.sen_count, rec.fsm_count = figures.cohort("sen"), figures.cohort("fsm")
        rec.eal_count, rec.grt_count = figures.cohort("eal"), figures.cohort("grt")
        rec.lead_practitioner, rec.notes = lead, notes
        rec.updated_by, rec.updated_at = actor.key, now
        s.add(rec)
        await s.flush()
        old = {
            (a.text, a.owner, a.owner_detail, a.due_date): a
            for a in await s.exec(select(RecordAction).where(RecordAction.record_id == rec.id))
        }
        await s.exec(delete(RecordAction).where(RecordAction.record_id == rec.id))
        for i, a in enumerate(actions):
            prev = old.get((a.text, a.owner.value, a.owner_detail, a.due))
            s.add(
                RecordAction(
                    record_id=rec.id,
                    position=i,
                    text=a.text,
                    owner=a.owner.value,
                    owner_detail=a.owner_detail,
                    due_date=a.due,
                    done_at=prev.done_at if prev else None,
                    done_by=prev.done_by if prev else "",
                )
            )
        s.add(
            AuditLog(
                at=now,
                actor=actor.key,
                action="record.create" if created else "record.update",
                entity="tsm_record",
                entity_id=str(rec.id),
                detail={"meeting_id": m.id, "actions": len(actions), "confirmed_warnings": acknowledged},
            )
        )
        record(s, EventKind.RECORD_SAVED, actor, now, meeting_id=m.id, created=created)
        return created

    async def set_action_done(self, actor: Actor, action_id: int, done: bool = True) -> RecordView:
        if not isinstance(action_id, int) or isinstance(action_id, bool):
            raise NotFound("No such action.")
        now = self.clock()
        async with self.db.transaction() as s:
            a = await s.get(RecordAction, action_id)
            rec = await s.get(TsmRecord, a.record_id) if a else None
            if a is None or rec is None:
                raise NotFound("No such action (the record may have been changed since).")
            m = await load_meeting(s, actor, rec.meeting_id)
            if actor.kind not in ("contact", "officer", "admin"):
                raise NotAllowed("Only the school's staff and its link officer can update actions.")
            a.done_at, a.done_by = (now, actor.key) if done else (None, "")
            s.add(a)
            s.add(
                AuditLog(
                    at=now,
                    actor=actor.key,
                    action="record.action_done" if done else "record.action_reopen",
                    entity="record_action",
                    entity_id=str(a.id),
                    detail={"meeting_id": m.id},
                )
            )
            meeting_id = m.id
        return await self.view(actor, meeting_id)

    async def open_actions(self, actor: Actor, *, limit: int = 50) -> list[OpenAction]:
        """Actions not done yet of the contact's school, or of the officer's meetings (LA admins: their LA's),
        soonest first."""
        q = (
            select(RecordAction, Meeting)
            .join(TsmRecord, TsmRecord.id == RecordAction.record_id)
            .join(Meeting, Meeting.id == TsmRecord.meeting_id)
            .where(col(RecordAction.done_at).is_(None))
        )
        if actor.kind == "contact":
            q = q.where(
                col(Meeting.id).in_(
                    select(MeetingSchool.meeting_id).where(MeetingSchool.school_id == actor.school_id)
                )
            )
        elif actor.kind == "officer":
            q = q.where(Meeting.officer_id == actor.id)
        elif actor.kind != "admin":
            raise NotAllowed("Unknown user.")
        elif not actor.is_operator:  # an LA admin: their own LA's
            q = q.where(col(Meeting.officer_id).in_(_la_officers(actor.la_id)))
        async with self.db.reader() as s:
            rows = list(await s.exec(q.order_by(RecordAction.due_date, RecordAction.id).limit(limit)))
            out = []
            for a, m in rows:
                names = [sc.name for sc in await schools_of(s, m.id)]
                out.append(
                    OpenAction(
                        a.id,
                        a.text,
                        ActionView(a.id, a.text, a.owner, a.owner_detail, a.due_date, False).owner_label,
                        a.due_date,
                        " & ".join(names),
                        m.id,
                        m.start,
                    )
                )
            return out

    async def _view(self, s: AsyncSession, m: MeetingFacts) -> RecordView:
        rec = (await s.exec(select(TsmRecord).where(TsmRecord.meeting_id == m.id))).first()
        base = dict(
            meeting_id=m.id,
            school=m.school_label,
            officer=m.officer_name,
            start=m.start,
            end=m.end,
            timezone=m.timezone,
        )
        if rec is None:
            return RecordView(**base, exists=False)
        actions = list(
            await s.exec(
                select(RecordAction)
                .where(RecordAction.record_id == rec.id)
                .order_by(RecordAction.position, RecordAction.id)
            )
        )
        return RecordView(
            **base,
            exists=True,
            figures=Figures(
                rec.attendance_pct,
                rec.pa_count,
                rec.sa_count,
                (
                    ("sen", rec.sen_count),
                    ("fsm", rec.fsm_count),
                    ("eal", rec.eal_count),
                    ("grt", rec.grt_count),
                ),
            ),
            lead_practitioner=rec.lead_practitioner,
            notes=rec.notes,
            actions=tuple(
                ActionView(a.id, a.text, a.owner, a.owner_detail, a.due_date, a.done_at is not None)
                for a in actions
            ),
            updated_by=await _who(s, rec.updated_by),
            updated_at=rec.updated_at,
        )

    async def _keep_small_counts(self, s: AsyncSession, m: MeetingFacts, data: dict) -> dict:
        """The edit form shows a stored count under 5 as "<5" (never the number): "<5" sent back means
        "keep the stored value"."""
        keys = [k for k in COUNT_COLUMNS if isinstance(data.get(k), str) and data[k].strip() == "<5"]
        if not keys:
            return data
        rec = (await s.exec(select(TsmRecord).where(TsmRecord.meeting_id == m.id))).first()
        data = dict(data)
        for k in keys:
            stored = getattr(rec, COUNT_COLUMNS[k]) if rec else None
            if stored is None or stored >= 5:
                raise InvalidInput(
                    "Please enter counts as whole numbers (small numbers are shown as <5 once saved)."
                )
            data[k] = stored
        return data

    async def _allowed_words(self, s: AsyncSession, m: MeetingFacts) -> frozenset[str]:
        """Words of the schools' names, their staff's names and the LA officers' names."""
        names = list(m.school_names)
        names += list(
            await s.exec(select(SchoolContact.name).where(col(SchoolContact.school_id).in_(m.school_ids)))
        )
        names += list(await s.exec(select(Officer.name).where(Officer.la_id == m.la_id)))
        towns = await s.exec(select(School.town).where(col(School.id).in_(m.school_ids)))
        return allowed_from_names([*names, *towns])


def _check_writable(m: MeetingFacts, now: datetime) -> None:
    if m.status in ("cancelled", "no_show"):
        check_ended(m, now, "record")
    if m.start > now:
        raise InvalidInput(
            "That meeting has not started yet: the record can be written at or after the meeting."
        )


def _check_text(
    lead: str, notes: str, actions: Sequence[ActionDraft], allowed: frozenset[str]
) -> list[Finding]:
    out: list[Finding] = []
    # The lead practitioner is a member of staff by definition: only identifiers are looked for there.
    out += [f for f in find_pupil_data(lead, allowed=allowed) if f.kind != "name"]
    out += find_pupil_data(notes, allowed=allowed)
    for a in actions:
        out += find_pupil_data(a.text, allowed=allowed)
        out += find_pupil_data(a.owner_detail, allowed=allowed)
    seen: set[tuple[str, str]] = set()
    return [f for f in out if not ((f.kind, f.text) in seen or seen.add((f.kind, f.text)))]


def _draft(figures: Figures, lead: str, notes: str, actions: Sequence[ActionDraft]) -> dict:
    d: dict = {
        "attendance_pct": "" if figures.attendance_pct is None else str(figures.attendance_pct),
        "pa": "" if figures.pa is None else str(figures.pa),
        "sa": "" if figures.sa is None else str(figures.sa),
        "lead_practitioner": lead,
        "notes": notes,
    }
    for k, n in figures.cohorts:
        d[k] = "" if n is None else str(n)
    for i, a in enumerate(actions, 1):
        d[f"action{i}_text"], d[f"action{i}_owner"] = a.text, a.owner.value
        d[f"action{i}_detail"], d[f"action{i}_due"] = a.owner_detail, a.due.isoformat()
    return d


def _tz(m: MeetingFacts):
    from zoneinfo import ZoneInfo

    return ZoneInfo(m.timezone)


async def _who(s: AsyncSession, key: str) -> str:
    kind, _, ident = key.partition(":")
    if not ident.isdigit():
        return key
    if kind == "contact":
        c = await s.get(SchoolContact, int(ident))
        return c.name if c else key
    o = await s.get(Officer, int(ident))
    return o.name if o else key


def _la_officers(la_id: int | None):
    """The ids of an LA's officers, as a subquery (an LA admin's meetings are their LA's officers')."""
    return select(Officer.id).where(Officer.la_id == la_id)
