"""LA reports: coverage per term, evaluation summary per term and officer (with a PNG chart), outstanding
actions; each as a read model and as CSV.

Scope: an officer sees their own schools and meetings only; an LA admin their own LA, optionally one officer; a
national admin (and the operator at the command line) any LA, and every LA at once (:meth:`Reports.across_las`).
Nobody else sees another LA's (issue 15). School contacts have no reports. The aggregation itself is in
:mod:`tsm.domain.feedback`; this module reads the rows and hands them over.

Coverage "offered": the school has no meeting in the term but was invited to book it: a term-start or
chaser message was sent to it for that term, it was offered next term's TSM at the end of its previous
meeting, or slots for that term were put in front of it in chat (a ``chat_offer`` other than a move).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.delivery import Outbound
from ..adapters.db.directory import LA, Officer, School, SchoolContact, Term, TrustOfficer
from ..adapters.db.engine import Database
from ..adapters.db.feedback import Evaluation, RecordAction, TsmRecord
from ..adapters.db.meetings import Meeting, MeetingSchool
from ..adapters.db.offers import ChatOffer
from ..domain.entitlement import entitlement_for
from ..domain.errors import InvalidInput, NotAllowed, NotFound
from ..domain.feedback import (
    COVERAGE_ORDER,
    LA_TOTAL,
    QUESTION_KEYS,
    SHORT_LABELS,
    Answer,
    Coverage,
    CoverageRow,
    CoverageTally,
    EvaluationSummary,
    Ratings,
    TermMeeting,
    coverage_of,
    show_count,
    summarise_evaluations,
    tally_coverage,
)
from ..domain.schools import school_facts
from ..domain.terms import TermCalendar
from .actors import Actor, may_report_on
from .reference import ReferenceData


def _now() -> datetime:
    return datetime.now(UTC)


# What an anonymous comment says instead of its school when the school gave too few answers to be named.
HIDDEN_SCHOOL = "a school (too few answers to name it)"


@dataclass(frozen=True)
class TermRef:
    id: int
    la_id: int
    academic_year: str
    name: str
    start_date: date
    end_date: date

    @property
    def label(self) -> str:
        return f"{self.name.title()} term {self.academic_year}"


@dataclass(frozen=True)
class Scope:
    la_id: int
    officer_id: int | None  # None: the whole LA
    officer_name: str = ""

    @property
    def label(self) -> str:
        return self.officer_name or "the whole LA"


@dataclass(frozen=True)
class CoverageReport:
    term: TermRef
    scope: Scope
    rows: tuple[CoverageRow, ...]
    tallies: tuple[CoverageTally, ...]
    timezone: str = "Europe/London"
    officer_capacity: int | None = (
        None  # the LA profile's schools per officer a term (booking.officer_capacity)
    )


@dataclass(frozen=True)
class CommentView:
    officer: str
    school: str
    author: str  # "Anonymous" for anonymous answers
    text: str


@dataclass(frozen=True)
class EvaluationReport:
    term: TermRef
    scope: Scope
    summaries: tuple[EvaluationSummary, ...]
    comments: tuple[CommentView, ...]


@dataclass(frozen=True)
class ActionRow:
    action_id: int
    due: date
    days_overdue: int  # 0 when not overdue
    urn: int
    school: str
    officer: str
    owner: str
    owner_detail: str
    text: str
    meeting_id: int
    meeting_day: date
    term: str


@dataclass(frozen=True)
class ActionsReport:
    term: TermRef | None
    scope: Scope
    today: date
    rows: tuple[ActionRow, ...]


@dataclass(frozen=True)
class LaReport:
    la_code: str
    la_name: str
    report: CoverageReport | EvaluationReport | ActionsReport | None
    missing: str = ""  # why there is none (no term dates yet)

    @property
    def label(self) -> str:
        return f"{self.la_name} ({self.la_code})"


ALL_LAS = "All LAs"


@dataclass(frozen=True)
class AcrossLas:
    """One report kind for every LA (a national admin's view, issue 15)."""

    kind: str
    las: tuple[LaReport, ...]

    def coverage_tallies(self) -> list[CoverageTally]:
        """One tally per LA (its LA total, named by the LA) and the total of them all, last."""
        per = []
        total = CoverageTally(ALL_LAS)
        for x in self.las:
            if not isinstance(x.report, CoverageReport):
                continue
            la_total = next(t for t in x.report.tallies if t.officer == LA_TOTAL)
            per.append(CoverageTally(x.label, dict(la_total.counts)))
            for c, n in la_total.counts.items():
                total.counts[c] += n
        return [*per, total]


class Reports:
    def __init__(
        self, db: Database, reference: ReferenceData, *, clock: Callable[[], datetime] = _now
    ) -> None:
        self.db = db
        self.ref = reference
        self.clock = clock

    # ------------------------------------------------------------------ scope and term

    async def _scope(
        self, s: AsyncSession, actor: Actor, officer_id: int | None, la_code: str | None
    ) -> Scope:
        """Whose report: an officer their own schools; an LA admin their own LA (one officer of it, optionally); a
        national admin and the operator any LA, named by ``la_code`` (or the only one). Another LA's report is refused
        to everyone else, in words that name nothing of it (issue 15)."""
        if actor.kind not in ("officer", "admin", "system"):
            raise NotAllowed("Reports are for link officers and the LA's managers.")
        me = await s.get(Officer, actor.id) if actor.id is not None else None
        if actor.id is not None and (me is None or (actor.la_id is not None and me.la_id != actor.la_id)):
            raise NotFound("No such officer.")
        la_id = me.la_id if me is not None else None
        if la_code:
            asked = (await s.exec(select(LA).where(LA.code == la_code.strip()))).first()
            if asked is not None and may_report_on(actor, asked.id):
                la_id = asked.id
            elif asked is None and may_report_on(actor, None):
                raise NotFound(f"No LA with code {la_code}.")
            else:  # unknown or another LA's: the same answer, so a code is not confirmed to exist
                raise NotAllowed("You can see your own LA's reports only; national admins see every LA's.")
        if actor.kind == "officer" and not actor.national:  # a national admin sees whole LAs, their own too
            if me is None:
                raise NotFound("No such officer.")
            if officer_id is not None and officer_id != actor.id:
                raise NotAllowed("You can see reports on your own schools; LA admins see every officer's.")
            return Scope(me.la_id, me.id, me.name)
        if la_id is None:  # the operator, no LA named: the only LA there is
            las = list(await s.exec(select(LA).limit(2)))
            if not las:
                raise NotFound("No LA is set up yet.")
            if len(las) > 1:
                raise InvalidInput(
                    "There are several LAs: say which (--la-code), or --all-las for every one."
                )
            la_id = las[0].id
        if officer_id is None:
            return Scope(la_id, None)
        o = await s.get(Officer, officer_id)
        if o is None or o.la_id != la_id:
            raise NotFound("No such officer in this LA.")
        return Scope(la_id, o.id, o.name)

    async def las(self, actor: Actor) -> list[tuple[str, str]]:
        """Every LA (code, name), for a report across LAs: a national admin's and the operator's only."""
        if not may_report_on(actor, None):
            raise NotAllowed(
                "Reports across LAs are for national admins (an operator grants it: tsm admins grant-national)."
            )
        async with self.db.reader() as s:
            if actor.id is not None:
                me = await s.get(Officer, actor.id)
                if me is None or not me.active or not me.national_admin:
                    raise NotAllowed("Reports across LAs are for national admins.")
            return [(la.code, la.name) for la in await s.exec(select(LA).order_by(LA.code))]

    async def across_las(
        self, actor: Actor, kind: str, term: str | int | None = None, **options
    ) -> AcrossLas:
        """One report (``coverage``, ``evaluations`` or ``actions``) for every LA, each with its own term (an LA's
        "current" term is its own), for a national admin. An LA that cannot give it (no term dates yet) is listed with
        the reason instead."""
        make = {"coverage": self.coverage, "evaluations": self.evaluations, "actions": self.actions}[kind]
        out: list[LaReport] = []
        for code, name in await self.las(actor):
            try:
                out.append(LaReport(code, name, await make(actor, term, la_code=code, **options)))
            except NotFound as why:
                out.append(LaReport(code, name, None, str(why)))
        return AcrossLas(kind, tuple(out))

    async def officer_id_by_email(self, email: str) -> int:
        async with self.db.reader() as s:
            o = (await s.exec(select(Officer).where(Officer.email == email.strip().lower()))).first()
        if o is None:
            raise NotFound(f"No officer with email {email}.")
        return o.id

    async def _term(self, s: AsyncSession, la_id: int, spec: str | int | None) -> TermRef:
        cal = await self.ref.calendar(s, la_id)
        la = await self.ref.la(s, la_id)
        today = self.clock().astimezone(ZoneInfo(la.timezone)).date()
        term_id = resolve_term(cal, spec, today)
        t = await s.get(Term, term_id)
        if t is None or t.la_id != la_id:
            raise NotFound("No such term in this LA.")
        return TermRef(t.id, t.la_id, t.academic_year, t.name, t.start_date, t.end_date)

    async def terms(self, actor: Actor) -> list[TermRef]:
        """The LA's terms up to the current one (newest first): what the report card offers."""
        async with self.db.reader() as s:
            scope = await self._scope(s, actor, None, None)
            la = await self.ref.la(s, scope.la_id)
            today = self.clock().astimezone(ZoneInfo(la.timezone)).date()
            rows = await s.exec(
                select(Term)
                .where(Term.la_id == scope.la_id, Term.start_date <= today)
                .order_by(col(Term.start_date).desc())
            )
            return [TermRef(t.id, t.la_id, t.academic_year, t.name, t.start_date, t.end_date) for t in rows]

    # ------------------------------------------------------------------ coverage

    async def coverage(
        self,
        actor: Actor,
        term: str | int | None = None,
        *,
        officer_id: int | None = None,
        la_code: str | None = None,
    ) -> CoverageReport:
        async with self.db.reader() as s:
            scope = await self._scope(s, actor, officer_id, la_code)
            t = await self._term(s, scope.la_id, term)
            la = await self.ref.la(s, scope.la_id)
            q = (
                select(School, Officer.name)
                .join(Officer, Officer.id == School.link_officer_id, isouter=True)
                .where(School.la_id == scope.la_id, School.open == True)  # noqa: E712
            )  # noqa: E712
            if scope.officer_id is not None:
                q = q.where(School.link_officer_id == scope.officer_id)
            schools = list(await s.exec(q))
            ids = [sc.id for sc, _ in schools]
            meetings: dict[int, list[tuple[TermMeeting, int]]] = {}
            for ms, m in await s.exec(
                select(MeetingSchool, Meeting)
                .join(Meeting, Meeting.id == MeetingSchool.meeting_id)
                .where(MeetingSchool.term_id == t.id, col(MeetingSchool.school_id).in_(ids))
            ):
                meetings.setdefault(ms.school_id, []).append(
                    (TermMeeting(m.status, m.start, m.updated_at), m.id)
                )
            offered = await self._offered(s, t, ids)
            yearly = await self._yearly_schools(s, scope.la_id, [sc for sc, _ in schools])
            held_before = await self._held_earlier_this_year(s, t, [i for i in ids if i in yearly])
            records = {
                r.meeting_id: r
                for r in await s.exec(
                    select(TsmRecord).where(
                        col(TsmRecord.meeting_id).in_(
                            [mid for lst in meetings.values() for _, mid in lst]
                            + [mid for _, mid in held_before.values()]
                        )
                    )
                )
            }
            decided_by: dict[int | None, tuple[Coverage, TermMeeting | None, int | None]] = {}
            for sc, _ in schools:
                mine = meetings.get(sc.id, [])
                earlier = held_before.get(sc.id)
                status, decided = coverage_of(
                    [tm for tm, _ in mine],
                    offered=sc.id in offered,
                    held_this_year=earlier[0] if earlier else None,
                )
                mid = None
                if decided is not None:
                    mid = next(mid for tm, mid in [*mine, *([earlier] if earlier else [])] if tm is decided)
                decided_by[sc.id] = (status, decided, mid)
            # a joint TSM (issue 13, item 7): every school of the deciding meeting, to name the others
            in_meeting: dict[int, list[tuple[int, str]]] = {}
            for ms, name in await s.exec(
                select(MeetingSchool, School.name)
                .join(School, School.id == MeetingSchool.school_id)
                .where(
                    col(MeetingSchool.meeting_id).in_(
                        sorted({mid for _, _, mid in decided_by.values() if mid is not None})
                    )
                )
                .order_by(School.name)
            ):
                in_meeting.setdefault(ms.meeting_id, []).append((ms.school_id, name))
        rows = []
        for sc, officer_name in schools:
            status, decided, mid = decided_by[sc.id]
            rec = records.get(mid) if mid is not None else None
            others = tuple(
                name
                for school_id, name in (in_meeting.get(mid, []) if mid is not None else [])
                if school_id != sc.id
            )
            rows.append(
                CoverageRow(
                    sc.urn,
                    sc.name,
                    officer_name or "(no link officer)",
                    status,
                    decided.start if decided else None,
                    rec.attendance_pct if rec else None,
                    rec.pa_count if rec else None,
                    rec.sa_count if rec else None,
                    others,
                )
            )
        rows.sort(key=lambda r: (r.officer, COVERAGE_ORDER.index(r.status), r.school))
        return CoverageReport(
            t,
            scope,
            tuple(rows),
            tuple(tally_coverage(rows)),
            la.timezone,
            self.ref.policy(la.policy).officer_capacity,
        )

    async def _yearly_schools(self, s: AsyncSession, la_id: int, schools: Sequence[School]) -> set[int]:
        """The schools the LA's rules ask for one TSM a year (Norfolk: not below the national average)."""
        policy, _ = await self.ref.policy_for_la(s, la_id)
        allocated = set(await s.exec(select(TrustOfficer.trust_code).where(TrustOfficer.la_id == la_id)))
        return {
            sc.id
            for sc in schools
            if sc.id is not None
            and entitlement_for(
                school_facts(sc, trust_has_allocated_officer=sc.trust_code in allocated), policy
            ).yearly
        }

    async def _held_earlier_this_year(
        self, s: AsyncSession, t: TermRef, school_ids: Sequence[int]
    ) -> dict[int, tuple[TermMeeting, int]]:
        """Each school's latest TSM held in an earlier term of ``t``'s academic year: (meeting, its id)."""
        if not school_ids:
            return {}
        earlier = select(Term.id).where(
            Term.la_id == t.la_id, Term.academic_year == t.academic_year, Term.start_date < t.start_date
        )
        out: dict[int, tuple[TermMeeting, int]] = {}
        for ms, m in await s.exec(
            select(MeetingSchool, Meeting)
            .join(Meeting, Meeting.id == MeetingSchool.meeting_id)
            .where(
                col(MeetingSchool.term_id).in_(earlier),
                Meeting.status == "held",
                col(MeetingSchool.school_id).in_(list(school_ids)),
            )
            .order_by(Meeting.start)
        ):
            if m.id is not None:
                out[ms.school_id] = (TermMeeting(m.status, m.start, m.updated_at), m.id)
        return out

    async def _offered(self, s: AsyncSession, t: TermRef, school_ids: Sequence[int]) -> set[int]:
        out: set[int] = set()
        ids = set(school_ids)
        out.update(
            sid
            for sid in await s.exec(
                select(Outbound.subject_id).where(
                    col(Outbound.kind).in_(("term_start", "chaser")),
                    Outbound.subject_kind == "school",
                    Outbound.ref == str(t.id),
                    Outbound.status == "sent",
                )
            )
            if sid in ids
        )
        # Next term's TSM offered at the end of the previous term's meeting.
        cal = await self.ref.calendar(s, t.la_id)
        prev = next(
            (x for x in cal.terms if cal.next_after(x) is not None and cal.next_after(x).id == t.id), None
        )
        if prev is not None:
            offered_meetings = select(Outbound.subject_id).where(
                Outbound.kind == "next_tsm_offer",
                Outbound.subject_kind == "meeting",
                Outbound.recipient_kind == "contact",
                Outbound.status == "sent",
            )
            out.update(
                sid
                for sid in await s.exec(
                    select(MeetingSchool.school_id).where(
                        MeetingSchool.term_id == prev.id, col(MeetingSchool.meeting_id).in_(offered_meetings)
                    )
                )
                if sid in ids
            )
        for offer in await s.exec(
            select(ChatOffer).where(ChatOffer.term_id == t.id, ChatOffer.kind != "move")
        ):
            out.update(int(x) for x in (offer.school_ids or []) if isinstance(x, int) and x in ids)
        return out

    # ------------------------------------------------------------------ evaluations

    async def evaluations(
        self,
        actor: Actor,
        term: str | int | None = None,
        *,
        officer_id: int | None = None,
        la_code: str | None = None,
    ) -> EvaluationReport:
        async with self.db.reader() as s:
            scope = await self._scope(s, actor, officer_id, la_code)
            t = await self._term(s, scope.la_id, term)
            mq = (
                select(Meeting, Officer.name)
                .join(Officer, Officer.id == Meeting.officer_id)
                .where(Meeting.term_id == t.id, Officer.la_id == scope.la_id)
            )
            if scope.officer_id is not None:
                mq = mq.where(Meeting.officer_id == scope.officer_id)
            meetings = {m.id: (m, name) for m, name in await s.exec(mq)}
            oq = select(Officer.name).where(Officer.la_id == scope.la_id, Officer.active == True)  # noqa: E712
            if scope.officer_id is not None:
                oq = oq.where(Officer.id == scope.officer_id)
            held: dict[str, int] = {name: 0 for name in await s.exec(oq)}  # every officer, answers or not
            for m, name in meetings.values():
                held.setdefault(name, 0)
                if m.status == "held":
                    held[name] += 1
            school_names: dict[int, str] = {}
            for ms, name in await s.exec(
                select(MeetingSchool, School.name)
                .join(School, School.id == MeetingSchool.school_id)
                .where(col(MeetingSchool.meeting_id).in_(list(meetings)))
            ):
                school_names[ms.meeting_id] = " & ".join(
                    filter(None, (school_names.get(ms.meeting_id), name))
                )
            rows = list(
                await s.exec(
                    select(Evaluation, SchoolContact.name)
                    .join(SchoolContact, SchoolContact.id == Evaluation.contact_id, isouter=True)
                    .where(col(Evaluation.meeting_id).in_(list(meetings)))
                    .order_by(Evaluation.id)
                )
            )
            policy, _tz = await self.ref.policy_for_la(s, scope.la_id)
        # An anonymous comment names its school only when the school gave enough answers in the term: with two
        # people at a TSM, "Low Primary School" would name the author (policy evaluation.min_answers_to_name_school).
        per_school = Counter(school_names.get(e.meeting_id, "") for e, _ in rows)
        answers, comments = [], []
        for e, author in rows:
            officer = meetings[e.meeting_id][1]
            who = None if e.anonymous or author is None else author
            school = school_names.get(e.meeting_id, "")
            answers.append(
                Answer(
                    officer,
                    Ratings(e.usefulness, e.working_together, e.clarity, e.overall),
                    e.comments,
                    who,
                    school,
                )
            )
            if e.comments:
                if who is None and per_school[school] < policy.min_answers_to_name_school:
                    school = HIDDEN_SCHOOL
                comments.append(CommentView(officer, school, who or "Anonymous", e.comments))
        comments.sort(key=lambda c: (c.officer, c.school, c.text))  # never submission order (anonymity)
        summaries = summarise_evaluations(answers, held_by_officer=held)
        if scope.officer_id is not None:
            summaries = [x for x in summaries if x.officer != LA_TOTAL]
        return EvaluationReport(t, scope, tuple(summaries), tuple(comments))

    # ------------------------------------------------------------------ outstanding actions

    async def actions(
        self,
        actor: Actor,
        term: str | int | None = None,
        *,
        officer_id: int | None = None,
        la_code: str | None = None,
        all_terms: bool = False,
    ) -> ActionsReport:
        """Open actions (not done), soonest due first; of one term's meetings unless ``all_terms``."""
        async with self.db.reader() as s:
            scope = await self._scope(s, actor, officer_id, la_code)
            t = None if all_terms else await self._term(s, scope.la_id, term)
            la = await self.ref.la(s, scope.la_id)
            tz = ZoneInfo(la.timezone)
            today = self.clock().astimezone(tz).date()
            q = (
                select(RecordAction, Meeting, Officer.name, Term)
                .join(TsmRecord, TsmRecord.id == RecordAction.record_id)
                .join(Meeting, Meeting.id == TsmRecord.meeting_id)
                .join(Officer, Officer.id == Meeting.officer_id)
                .join(Term, Term.id == Meeting.term_id)
                .where(col(RecordAction.done_at).is_(None), Officer.la_id == scope.la_id)
            )
            if t is not None:
                q = q.where(Meeting.term_id == t.id)
            if scope.officer_id is not None:
                q = q.where(Meeting.officer_id == scope.officer_id)
            found = list(await s.exec(q))
            schools: dict[int, list[School]] = {}
            mids = list({m.id for _, m, _, _ in found})
            for ms, sc in await s.exec(
                select(MeetingSchool, School)
                .join(School, School.id == MeetingSchool.school_id)
                .where(col(MeetingSchool.meeting_id).in_(mids))
                .order_by(School.name)
            ):
                schools.setdefault(ms.meeting_id, []).append(sc)
        rows = []
        for a, m, officer, term_row in found:
            scs = schools.get(m.id, [])
            rows.append(
                ActionRow(
                    a.id,
                    a.due_date,
                    max(0, (today - a.due_date).days),
                    scs[0].urn if scs else 0,
                    " & ".join(sc.name for sc in scs),
                    officer,
                    a.owner,
                    a.owner_detail,
                    a.text,
                    m.id,
                    m.start.astimezone(tz).date(),
                    f"{term_row.name.title()} term {term_row.academic_year}",
                )
            )
        rows.sort(key=lambda r: (r.due, r.school, r.action_id))
        return ActionsReport(t, scope, today, tuple(rows))


# ---------------------------------------------------------------------- terms


def resolve_term(cal: TermCalendar, spec: str | int | None, today: date) -> int:
    """A term id from "current" (or None), "previous", "next", an id, or "autumn 2026-27" in any order."""
    terms = sorted(cal.terms, key=lambda x: x.dates.first)
    if not terms:
        raise NotFound("No term dates are set for this LA yet (tsm import terms ...).")
    if isinstance(spec, int) and not isinstance(spec, bool):
        if any(x.id == spec for x in terms):
            return spec
        raise NotFound(f"No term with id {spec}.")
    text = (spec or "current").strip().lower()
    if text.isdigit():
        return resolve_term(cal, int(text), today)
    current = (
        cal.term_for(today) or next((x for x in reversed(terms) if x.dates.last < today), None) or terms[0]
    )
    i = terms.index(current)
    if text in ("current", "this", "now"):
        return current.id
    if text in ("previous", "last", "prev"):
        if i == 0:
            raise NotFound("There is no term before the current one.")
        return terms[i - 1].id
    if text == "next":
        if i + 1 >= len(terms):
            raise NotFound("Next term's dates are not set yet.")
        return terms[i + 1].id
    name = re.search(r"autumn|spring|summer", text)
    year = re.search(r"(20\d\d)[-/](\d\d)", text)
    if name and year:
        wanted = f"{year.group(1)}-{year.group(2)}"
        for x in terms:
            if x.name.value == name.group(0) and x.academic_year == wanted:
                return x.id
        raise NotFound(f"No {name.group(0)} term {wanted} is set up.")
    raise InvalidInput("Which term? Say current, previous, next, or e.g. 'autumn 2026-27'.")


# ---------------------------------------------------------------------- CSV and chart


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_cell(v) for v in r])
    return buf.getvalue()


def coverage_csv(r: CoverageReport) -> str:
    """One row per school. Counts under 5 are exported as "<5". ``joint_with``: a school whose TSM in the term is a
    joint TSM (its status "booked", "held"... all the same), the other schools in it, separated by "; "."""
    tz = ZoneInfo(r.timezone)
    return _csv(
        [
            "term",
            "urn",
            "school",
            "officer",
            "status",
            "meeting_date",
            "attendance_pct",
            "pa_count",
            "sa_count",
            "joint_with",
        ],
        [
            [
                r.term.label,
                x.urn,
                x.school,
                x.officer,
                x.status.value,
                x.meeting_start.astimezone(tz).date().isoformat() if x.meeting_start else "",
                "" if x.attendance_pct is None else f"{x.attendance_pct:.1f}",
                show_count(x.pa),
                show_count(x.sa),
                "; ".join(x.joint_with),
            ]
            for x in r.rows
        ],
    )


def coverage_summary_csv(r: CoverageReport) -> str:
    """One row per officer and one for the LA (or the one officer in scope)."""
    tallies = [x for x in r.tallies if not (r.scope.officer_id is not None and x.officer == LA_TOTAL)]
    return _csv(
        ["term", "officer", "schools", *[c.value for c in COVERAGE_ORDER], "held_pct", "held_or_booked_pct"],
        [
            [
                r.term.label,
                x.officer,
                x.schools,
                *[x.counts[c] for c in COVERAGE_ORDER],
                f"{x.held_pct:.1f}",
                f"{x.covered_pct:.1f}",
            ]
            for x in tallies
        ],
    )


def evaluations_csv(r: EvaluationReport) -> str:
    return _csv(
        ["term", "officer", "meetings_held", "answers", *[f"mean_{k}" for k in QUESTION_KEYS]],
        [
            [
                r.term.label,
                x.officer,
                x.meetings_held,
                x.answers,
                *["" if x.means[k] is None else f"{x.means[k]:.2f}" for k in QUESTION_KEYS],
            ]
            for x in r.summaries
        ],
    )


def evaluation_comments_csv(r: EvaluationReport) -> str:
    """Every comment of the term in scope; the author only for named answers ("Anonymous" otherwise)."""
    return _csv(
        ["term", "officer", "school", "author", "comment"],
        [[r.term.label, c.officer, c.school, c.author, c.text] for c in r.comments],
    )


def actions_csv(r: ActionsReport) -> str:
    return _csv(
        [
            "due_date",
            "days_overdue",
            "urn",
            "school",
            "officer",
            "owner",
            "owner_detail",
            "action",
            "meeting_date",
            "term",
        ],
        [
            [
                x.due.isoformat(),
                x.days_overdue,
                x.urn,
                x.school,
                x.officer,
                x.owner,
                x.owner_detail,
                x.text,
                x.meeting_day.isoformat(),
                x.term,
            ]
            for x in r.rows
        ],
    )


GROUPED_MAX = 6  # up to this many officers (+ the LA): bars per question; more: one bar per officer


def evaluation_chart_png(r: EvaluationReport, *, dpi: int = 80) -> bytes:
    """The evaluation chart as a PNG, drawn with matplotlib's Agg backend (no display, no global state).

    Up to ``GROUPED_MAX`` officers: the mean of each question (1–5) per officer and for the LA, grouped by
    question. More officers (a whole LA): one horizontal bar per officer, their mean overall rating, with the
    LA's mean as a line, so the chart stays readable.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the object API: no pyplot state, safe in a server thread

    groups = [x for x in r.summaries if x.answers] or list(r.summaries[-1:])
    officers = [g for g in groups if g.officer != LA_TOTAL]
    if len(officers) <= GROUPED_MAX:
        fig = _grouped(Figure(figsize=(7.5, 3.6), dpi=dpi), groups)
    else:
        fig = _per_officer(
            Figure(figsize=(7.5, 1.2 + 0.22 * len(officers)), dpi=dpi),
            officers,
            next((g for g in groups if g.officer == LA_TOTAL), None),
        )
    fig.axes[0].set_title(f"TSM evaluations, {r.term.label}: {r.scope.label}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _grouped(fig, groups):
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(groups), 1)
    width = 0.8 / n
    xs = range(len(QUESTION_KEYS))
    for i, g in enumerate(groups):
        values = [g.means[k] or 0 for k in QUESTION_KEYS]
        bars = ax.bar(
            [x + (i - (n - 1) / 2) * width for x in xs],
            values,
            width,
            label=f"{g.officer} ({g.answers} answer{'s' if g.answers != 1 else ''})",
        )
        for b, v in zip(bars, values, strict=True):
            if v:
                ax.annotate(
                    f"{v:.1f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7
                )
    ax.set_xticks(list(xs), [SHORT_LABELS[k] for k in QUESTION_KEYS], fontsize=8)
    ax.set_ylim(0, 5.6)
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_ylabel("Mean rating (1–5)", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(n, 3), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _per_officer(fig, officers, la):
    ax = fig.add_subplot(1, 1, 1)
    rows = sorted(officers, key=lambda g: (g.means["overall"] or 0, g.officer))
    values = [g.means["overall"] or 0 for g in rows]
    ax.barh(range(len(rows)), values, height=0.7)
    ax.set_yticks(range(len(rows)), [f"{g.officer} ({g.answers})" for g in rows], fontsize=7)
    for y, v in enumerate(values):
        ax.annotate(f"{v:.1f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=6)
    if la is not None and la.means["overall"] is not None:
        ax.axvline(
            la.means["overall"],
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"LA mean {la.means['overall']:.2f} ({la.answers} answers)",
        )
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.set_xlim(0, 5.4)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel("Mean overall rating (1–5), answers in brackets", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def coverage_lines(r: CoverageReport) -> list[str]:
    """The per-officer tallies as text lines (CLI)."""
    out = [f"Coverage, {r.term.label} ({r.scope.label})"]
    for x in r.tallies:
        if r.scope.officer_id is not None and x.officer == LA_TOTAL:
            continue
        parts = ", ".join(f"{c.value.replace('_', ' ')} {x.counts[c]}" for c in COVERAGE_ORDER)
        over = (
            f" (over the capacity of {r.officer_capacity} schools an officer)"
            if r.officer_capacity and x.officer != LA_TOTAL and x.schools > r.officer_capacity
            else ""
        )
        out.append(f"  {x.officer}: {x.schools} schools{over}: {parts}; held {x.held_pct:.1f}%")
    joint = [x for x in r.rows if x.joint_with]
    if joint:  # each school of a joint TSM, by officer as the rows are: "booked (joint) with A, B"
        out.append(f"  Joint TSMs ({len(joint)} schools):")
        out.extend(f"    {x.school} ({x.urn}), {x.officer}: {x.status_words}" for x in joint)
    return out


# ---------------------------------------------------------------------- across LAs (a national admin's)


def _with_la(a: AcrossLas, write_one) -> str:
    """Each LA's CSV (``write_one(report)``) as one file with the LA's code in a first column."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for x in a.las:
        if x.report is None:
            continue
        table = list(csv.reader(io.StringIO(write_one(x.report))))
        header = header or ["la_code", *table[0]]
        rows.extend([x.la_code, *r] for r in table[1:])
    if header is None:
        return ""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")  # cells already made safe by each LA's CSV
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def across_csv(a: AcrossLas) -> str:
    """The rows of every LA's report (coverage: one per school; evaluations: per officer; actions: per action)."""
    one = {"coverage": coverage_csv, "evaluations": evaluations_csv, "actions": actions_csv}[a.kind]
    return _with_la(a, one)


def across_coverage_summary_csv(a: AcrossLas) -> str:
    """One row per LA and one for all LAs: the coverage of each LA's own term."""
    terms = {x.label: x.report.term.label for x in a.las if isinstance(x.report, CoverageReport)}
    return _csv(
        ["term", "la", "schools", *[c.value for c in COVERAGE_ORDER], "held_pct", "held_or_booked_pct"],
        [
            [
                terms.get(x.officer, "each LA's own"),
                x.officer,
                x.schools,
                *[x.counts[c] for c in COVERAGE_ORDER],
                f"{x.held_pct:.1f}",
                f"{x.covered_pct:.1f}",
            ]
            for x in a.coverage_tallies()
        ],
    )


def across_lines(a: AcrossLas) -> list[str]:
    """Every LA's report as text lines (CLI), then, for coverage, the total of all LAs."""
    out = [f"{a.kind.title()} across {len(a.las)} LA{'' if len(a.las) == 1 else 's'}"]
    for x in a.las:
        if x.report is None:
            out.append(f"{x.label}: no report ({x.missing})")
        elif isinstance(x.report, CoverageReport):
            out.extend(
                [f"{x.label}: {line}" if i == 0 else line for i, line in enumerate(coverage_lines(x.report))]
            )
        elif isinstance(x.report, EvaluationReport):
            la_total = next((y for y in x.report.summaries if y.officer == LA_TOTAL), None)
            answers = la_total.answers if la_total else 0
            overall = la_total.means["overall"] if la_total else None
            out.append(
                f"{x.label}: evaluations, {x.report.term.label}: {answers} answer{'s' if answers != 1 else ''}"
                f"{'' if overall is None else f', overall {overall:.2f}'}"
            )
        else:
            overdue = sum(1 for r in x.report.rows if r.days_overdue)
            out.append(f"{x.label}: {len(x.report.rows)} open actions, {overdue} overdue")
    if a.kind == "coverage":
        total = a.coverage_tallies()[-1]
        parts = ", ".join(f"{c.value.replace('_', ' ')} {total.counts[c]}" for c in COVERAGE_ORDER)
        out.append(f"{ALL_LAS}: {total.schools} schools: {parts}; held {total.held_pct:.1f}%")
    return out


__all__ = [
    "AcrossLas",
    "LaReport",
    "across_csv",
    "across_coverage_summary_csv",
    "across_lines",
    "Coverage",
    "Reports",
    "resolve_term",
    "coverage_csv",
    "coverage_summary_csv",
    "evaluations_csv",
    "evaluation_comments_csv",
    "actions_csv",
    "evaluation_chart_png",
    "coverage_lines",
]
