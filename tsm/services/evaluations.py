"""Evaluations: school attendees rate a TSM after it (Kent's evaluation form), named or anonymous.

- One answer per person per meeting: a second submit updates the first. A named answer is found by its
  author; an anonymous one by the edit token held only in the respondent's chat (the card that confirmed
  the answer carries it), because its author is stored nowhere.
- ``evaluation_receipt`` says that a person answered, so the reminder goes only to those who did not and
  nobody can add a second answer by switching to anonymous.
- The officer (and admins) see answers with the author's name for named ones and "Anonymous" otherwise;
  a school contact sees only their own answer.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.directory import LA, Officer, SchoolContact
from ..adapters.db.engine import Database
from ..adapters.db.feedback import Evaluation, EvaluationReceipt
from ..adapters.db.history import AuditLog
from ..adapters.db.meetings import Meeting, MeetingSchool
from ..domain.errors import InvalidInput, NotAllowed, NotFound
from ..domain.feedback import MAX_COMMENT, Ratings, allowed_from_names, parse_flag, parse_ratings
from ..domain.pupil_data import check_free_text, free_text
from .actors import ANOTHER_LA, Actor, elsewhere, may_act_for
from .meetings import schools_of

ENDED_OK = ("held",)
WAITING = ("booked", "moved")


def _now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class MeetingFacts:
    """What feedback needs of a meeting, with the access check already done."""

    id: int
    start: datetime
    end: datetime
    status: str
    term_id: int
    officer_id: int
    officer_name: str
    school_ids: tuple[int, ...]
    school_names: tuple[str, ...]
    la_id: int
    timezone: str

    @property
    def school_label(self) -> str:
        return " & ".join(self.school_names)


async def load_meeting(s: AsyncSession, actor: Actor, meeting_id: object) -> MeetingFacts:
    """The meeting, if ``actor`` may see it: its school's contacts, its officer, its LA's admins (and the system)."""
    if not isinstance(meeting_id, int) or isinstance(meeting_id, bool):
        raise NotFound("No such meeting.")
    m = await s.get(Meeting, meeting_id)
    if m is None:
        raise NotFound("No such meeting.")
    schools = await schools_of(s, m.id)
    officer = await s.get(Officer, m.officer_id)
    ids = tuple(sc.id for sc in schools)
    if not may_act_for(actor, schools, officer.id if officer is not None else None):  # the one access rule
        if actor.kind == "contact":
            raise NotAllowed("That is another school's meeting: you can only see your own school's TSMs.")
        if elsewhere(actor, schools):
            raise NotAllowed(ANOTHER_LA)
        if actor.kind == "officer":
            raise NotAllowed(
                "That meeting is not one of yours: only its link officer (or an LA admin) can see it."
            )
        raise NotAllowed("Unknown user.")
    la = await s.get(LA, schools[0].la_id) if schools else None
    return MeetingFacts(
        m.id,
        m.start,
        m.end,
        m.status,
        m.term_id,
        m.officer_id,
        officer.name if officer else "",
        ids,
        tuple(sc.name for sc in schools),
        schools[0].la_id if schools else 0,
        la.timezone if la else "Europe/London",
    )


def check_ended(m: MeetingFacts, now: datetime, what: str) -> None:
    if m.status in ("cancelled", "no_show"):
        raise InvalidInput(
            f"That meeting was {'cancelled' if m.status == 'cancelled' else 'recorded as a no-show'}, "
            f"so there is nothing to {what}."
        )
    if m.status not in ENDED_OK and not (m.status in WAITING and m.end <= now):
        raise InvalidInput(f"That meeting has not happened yet: you can {what} once it has ended.")


@dataclass(frozen=True)
class EvaluationView:
    """The evaluation card's content for one person and one meeting."""

    meeting_id: int
    school: str
    officer: str
    start: datetime
    end: datetime
    timezone: str
    ratings: dict[str, int] | None = None  # the person's answer, to prefill (None: not answered, or anonymous
    comments: str = ""  # and opened without its edit token)
    anonymous: bool = False
    edit_token: str | None = None
    answered: bool = False  # this person has answered (named or anonymous)
    saved_now: bool = False  # shown right after a submit: "thank you, saved"
    updated: bool = False


@dataclass(frozen=True)
class AnswerView:
    """An answer as an officer sees it: no author for anonymous ones."""

    ratings: Ratings
    comments: str
    author: str | None
    meeting_day: object


class Evaluations:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _now) -> None:
        self.db = db
        self.clock = clock

    async def card_view(
        self, meeting_id: int, contact_id: int, *, edit_token: str | None = None
    ) -> EvaluationView:
        """The view for ``evaluation_card`` for (meeting, contact): what the scheduler sends at meeting end."""
        async with self.db.reader() as s:
            contact = await s.get(SchoolContact, contact_id)
            if contact is None:
                raise NotFound("No such school contact.")
            actor = Actor("contact", contact.id, contact.school_id, contact.name)
            m = await load_meeting(s, actor, meeting_id)
            return await self._view(s, m, contact.id, edit_token)

    async def view_for(
        self, actor: Actor, meeting_id: int, *, edit_token: str | None = None
    ) -> EvaluationView:
        if actor.kind != "contact":
            raise NotAllowed("Evaluations are for the school's staff who attended.")
        async with self.db.reader() as s:
            m = await load_meeting(s, actor, meeting_id)
            check_ended(m, self.clock(), "evaluate")
            return await self._view(s, m, actor.id, edit_token)

    async def latest_meeting(self, actor: Actor) -> int | None:
        """The contact's school's most recent meeting that has ended and was not cancelled."""
        now = self.clock()
        async with self.db.reader() as s:
            q = (
                select(Meeting.id)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .where(
                    MeetingSchool.school_id == actor.school_id,
                    Meeting.end <= now,
                    col(Meeting.status).in_((*ENDED_OK, *WAITING)),
                )
                .order_by(col(Meeting.start).desc())
                .limit(1)
            )
            return (await s.exec(q)).first()

    async def _view(
        self, s: AsyncSession, m: MeetingFacts, contact_id: int, edit_token: str | None, **extra
    ) -> EvaluationView:
        receipt = await s.get(EvaluationReceipt, (m.id, contact_id))
        row = await self._find(s, m.id, contact_id, edit_token)
        return EvaluationView(
            m.id,
            m.school_label,
            m.officer_name,
            m.start,
            m.end,
            m.timezone,
            ratings=_ratings(row).as_dict() if row else None,
            comments=row.comments if row else "",
            anonymous=bool(row and row.anonymous),
            edit_token=edit_token if row and row.anonymous else None,
            answered=receipt is not None,
            **extra,
        )

    async def _find(
        self, s: AsyncSession, meeting_id: int, contact_id: int, edit_token: str | None
    ) -> Evaluation | None:
        if edit_token:
            row = (
                await s.exec(
                    select(Evaluation).where(
                        Evaluation.meeting_id == meeting_id,
                        Evaluation.edit_token_hash == token_hash(edit_token),
                    )
                )
            ).first()
            if row is not None:
                return row
        return (
            await s.exec(
                select(Evaluation).where(
                    Evaluation.meeting_id == meeting_id, Evaluation.contact_id == contact_id
                )
            )
        ).first()

    async def submit(
        self, actor: Actor, meeting_id: int, data: dict, *, edit_token: str | None = None
    ) -> EvaluationView:
        """Save the person's answer (or update it). Returns the view to show next, with a fresh edit token
        for an anonymous answer."""
        if actor.kind != "contact" or actor.id is None:
            raise NotAllowed("Evaluations are for the school's staff who attended.")
        ratings = parse_ratings(data)
        # Feedback is about the meeting: a pupil's UPN or date of birth is refused here, names once the meeting's
        # own names (schools, officer) are known, in _submit.
        comments = free_text(data.get("comments"), label="your comments", max_len=MAX_COMMENT, names=False)
        anonymous = parse_flag(data.get("anonymous"))
        if edit_token is not None and (not isinstance(edit_token, str) or len(edit_token) > 100):
            edit_token = None
        for attempt in range(2):
            try:
                return await self._submit(actor, meeting_id, ratings, comments, anonymous, edit_token)
            except IntegrityError:
                if (
                    attempt == 1
                ):  # a concurrent first answer by the same person won: this one becomes an update
                    raise InvalidInput(
                        "Your answer was saved a moment ago from another window. "
                        "Open the evaluation again to change it."
                    ) from None
        raise AssertionError("unreachable")

    async def _submit(
        self,
        actor: Actor,
        meeting_id: int,
        ratings: Ratings,
        comments: str,
        anonymous: bool,
        edit_token: str | None,
    ) -> EvaluationView:
        now = self.clock()
        async with self.db.transaction() as s:
            m = await load_meeting(s, actor, meeting_id)
            check_ended(m, now, "evaluate")
            check_free_text(
                comments, label="your comments", allowed=allowed_from_names([*m.school_names, m.officer_name])
            )
            receipt = await s.get(EvaluationReceipt, (m.id, actor.id))
            row = await self._find(s, m.id, actor.id, edit_token)
            if receipt is not None and row is None:
                raise InvalidInput(
                    "You have already answered this evaluation anonymously. Your name is not kept with "
                    "an anonymous answer, so it can only be changed from the card that confirmed it "
                    "(it has a **Change my answer** button)."
                )
            if row is not None and row.contact_id != actor.id and receipt is None:  # someone else's token
                raise NotAllowed("That answer is not yours to change.")
            updated = row is not None
            # Both dates are the meeting's day, never the day of answering: matching an anonymous answer's date
            # with a receipt's would tell whose it is.
            day = m.start.astimezone(ZoneInfo(m.timezone)).date()
            token = secrets.token_urlsafe(24) if anonymous else None
            if row is None:
                row = Evaluation(
                    id=secrets.token_hex(16),
                    meeting_id=m.id,
                    usefulness=0,
                    working_together=0,
                    clarity=0,
                    overall=0,
                    submitted_on=day,
                )
            row.usefulness, row.working_together = ratings.usefulness, ratings.working_together
            row.clarity, row.overall = ratings.clarity, ratings.overall
            row.comments, row.anonymous = comments, anonymous
            row.contact_id = None if anonymous else actor.id
            row.edit_token_hash = token_hash(token) if token else None
            row.submitted_on = day
            s.add(row)
            if receipt is None:
                s.add(EvaluationReceipt(meeting_id=m.id, contact_id=actor.id, answered_on=day))
            # The audit names the person and the meeting, never the answer (that would undo anonymity).
            s.add(
                AuditLog(
                    at=now,
                    actor=actor.key,
                    action="evaluation.update" if updated else "evaluation.answer",
                    entity="meeting",
                    entity_id=str(m.id),
                )
            )
            await s.flush()
        return EvaluationView(
            m.id,
            m.school_label,
            m.officer_name,
            m.start,
            m.end,
            m.timezone,
            ratings=ratings.as_dict(),
            comments=comments,
            anonymous=anonymous,
            edit_token=token,
            answered=True,
            saved_now=True,
            updated=updated,
        )

    async def answers(self, actor: Actor, meeting_id: int) -> list[AnswerView]:
        """A meeting's answers for its officer or an admin (authors of anonymous answers are not known)."""
        if not actor.is_officer and actor.kind != "system":
            raise NotAllowed("Only the link officer and the LA see the answers to a meeting's evaluation.")
        async with self.db.reader() as s:
            m = await load_meeting(s, actor, meeting_id)
            rows = list(
                await s.exec(
                    select(Evaluation, SchoolContact.name)
                    .join(SchoolContact, SchoolContact.id == Evaluation.contact_id, isouter=True)
                    .where(Evaluation.meeting_id == m.id)
                    .order_by(Evaluation.id)
                )
            )
        return [
            AnswerView(_ratings(e), e.comments, None if e.anonymous or name is None else name, e.submitted_on)
            for e, name in rows
        ]

    async def unanswered(self, meeting_id: int, contact_ids: Sequence[int]) -> list[int]:
        """Those of ``contact_ids`` with no receipt for the meeting (for the reminder)."""
        async with self.db.reader() as s:
            done = set(
                await s.exec(
                    select(EvaluationReceipt.contact_id).where(
                        EvaluationReceipt.meeting_id == meeting_id,
                        col(EvaluationReceipt.contact_id).in_(list(contact_ids)),
                    )
                )
            )
        return [c for c in contact_ids if c not in done]


def _ratings(e: Evaluation) -> Ratings:
    return Ratings(e.usefulness, e.working_together, e.clarity, e.overall)
