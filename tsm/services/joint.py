"""A joint TSM for several schools of one trust (issue 13, item 7; Kent's FAQ: "one TSM for several schools of the
trust at one of the sites"): which of a trust's schools can join one, and why the others cannot.

The booking service decides (``BookingService.book`` checks every school's officer, trust, route and term in its own
transaction); this is what the conversation shows before, worked out by the same rules so that the card and the
refusal agree: a school can join when it is open, has the same link officer, has no TSM this term and, when a school
contact books, books itself (not contacted directly, and the LA lets schools book). The officer arranges the TSMs of
schools the LA contacts directly, so for the officer those can join.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from ..adapters.db.directory import Officer, School, SchoolContact, Trust
from ..adapters.db.meetings import Meeting, MeetingSchool
from ..domain.entitlement import entitlement_for, officer_short_words
from ..domain.errors import NotAllowed, NotFound
from ..domain.model import BookingRoute
from ..domain.text import moment_text
from .actors import Actor
from .actors import check_school as _check_school
from .booking import school_facts
from .conversation import ConversationService


@dataclass(frozen=True)
class JointSchool:
    id: int
    urn: int
    name: str
    address: str
    status: str  # this term, in words: "not booked (expected each term)", "booked: Tue 1 Dec 10:00"
    why_not: str = ""  # why it cannot join ("" when it can)

    @property
    def can_join(self) -> bool:
        return not self.why_not


@dataclass(frozen=True)
class JointChoice:
    """A trust's schools as one officer (or one school's contact) may bring them into a joint TSM this term."""

    trust_code: str
    trust_name: str
    officer_id: int
    officer_name: str
    officer_email: str
    term_id: int
    term_label: str
    schools: tuple[JointSchool, ...]  # those that can join first, then the others, each by name
    default_mode: str
    modes_allowed: tuple[str, ...]
    own_school_id: int | None = None  # a contact's own school: always one of the meeting's

    @property
    def joinable(self) -> tuple[JointSchool, ...]:
        return tuple(sc for sc in self.schools if sc.can_join)

    def why_not(self, school_id: int) -> str:
        """Why a school named by a card cannot join ("" when it can): one of the trust's, able to join."""
        for sc in self.schools:
            if sc.id == school_id:
                return sc.why_not
        return "it is not one of this trust's schools"


@dataclass(frozen=True)
class Person:
    id: int
    school_id: int
    name: str
    role: str  # attendance_lead | senior_leader | other


@dataclass(frozen=True)
class TrustRow:
    code: str
    name: str
    schools: int  # the officer's schools in it


class JointTsms:
    """Reads for the joint TSM conversation (tsm/chat/joint.py); every method checks the actor."""

    def __init__(self, conversation: ConversationService) -> None:
        self.db = conversation.db
        self.ref = conversation.ref
        self.clock = conversation.clock

    async def officer_trusts(self, actor: Actor) -> list[TrustRow]:
        """The trusts with at least two of the officer's open schools (a joint TSM needs two), by name."""
        if not actor.is_officer or actor.id is None:
            raise NotAllowed("Only link officers have a list of schools.")
        async with self.db.reader() as s:
            rows = list(
                await s.exec(
                    select(School.trust_code, School.trust_name).where(
                        School.link_officer_id == actor.id,
                        School.open == True,  # noqa: E712
                        col(School.trust_code).is_not(None),
                    )
                )
            )
        counts: dict[str, TrustRow] = {}
        for code, name in rows:
            if code is None:
                continue
            seen = counts.get(code)
            counts[code] = TrustRow(
                code, (seen.name if seen else "") or name or code, (seen.schools if seen else 0) + 1
            )
        return sorted((t for t in counts.values() if t.schools > 1), key=lambda t: t.name)

    async def choice(
        self, actor: Actor, trust_code: str | None = None, *, school_id: int | None = None
    ) -> JointChoice:
        """The trust's schools for a joint TSM this term: an officer's trust (``trust_code``, or the trust of
        ``school_id``, one of their schools), or a contact's own school's trust. NotAllowed when there is none."""
        async with self.db.reader() as s:
            own: School | None = None
            if actor.kind != "contact" and school_id is not None:
                via = await s.get(School, school_id) if isinstance(school_id, int) else None
                if via is None:
                    raise NotFound("No such school.")
                _check_school(actor, via)
                trust_code = via.trust_code
            if actor.kind == "contact":
                own = await s.get(School, actor.school_id) if actor.school_id is not None else None
                if own is None:
                    raise NotFound("No such school.")
                _check_school(actor, own)
                if not own.trust_code:
                    raise NotAllowed(
                        f"{own.name} is not part of a trust on record, so there is no joint TSM to book: "
                        "type **book** for your own school's TSM."
                    )
                trust_code = own.trust_code
                officer_id = own.link_officer_id
            elif actor.is_officer:
                officer_id = actor.id
            else:
                raise NotAllowed("Only school staff and link officers can book a TSM.")
            mine = [
                sc
                for sc in await s.exec(
                    select(School).where(School.trust_code == trust_code).order_by(School.name)
                )
            ]
            if actor.is_officer:
                if not trust_code or not any(sc.link_officer_id == actor.id and sc.open for sc in mine):
                    raise NotAllowed("That trust has none of your schools.")
                mine = [
                    sc
                    for sc in mine
                    if sc.la_id == next(m.la_id for m in mine if m.link_officer_id == actor.id)
                ]
            else:
                assert own is not None
                mine = [sc for sc in mine if sc.la_id == own.la_id]
            officer = await s.get(Officer, officer_id) if officer_id is not None else None
            if officer is None or officer.id is None or not officer.active:
                raise NotAllowed(
                    "Your school has no link officer available in the system just now, so there is no joint TSM to "
                    "book. Please contact the LA attendance team."
                )
            la_id = mine[0].la_id
            policy, tz = await self.ref.policy_for_la(s, la_id)
            if actor.kind == "contact" and not policy.trust_contacts_book_joint:
                raise NotAllowed(
                    f"A joint TSM for several schools of your trust is arranged by {officer.name}, your link "
                    f"officer ({officer.email}): please ask them. Type **book** for your own school's TSM."
                )
            cal = await self.ref.calendar(s, la_id)
            term = cal.current_or_next(self.clock().astimezone(tz).date())
            if term is None or term.id is None:
                raise NotAllowed("No term dates are set for the coming months yet. Please contact the LA.")
            trust = await s.get(Trust, trust_code)
            booked: dict[int, Meeting] = {
                ms.school_id: m
                for ms, m in await s.exec(
                    select(MeetingSchool, Meeting)
                    .join(Meeting, Meeting.id == MeetingSchool.meeting_id)
                    .where(
                        col(MeetingSchool.school_id).in_([sc.id for sc in mine]),
                        MeetingSchool.active_term_id == term.id,
                    )
                )
            }
            names = {
                o.id: o.name
                for o in await s.exec(
                    select(Officer).where(col(Officer.id).in_({sc.link_officer_id for sc in mine} - {None}))
                )
            }
            schools = []
            for sc in mine:
                ent = entitlement_for(await school_facts(s, sc), policy)
                m = booked.get(sc.id) if sc.id is not None else None
                status = (
                    f"booked: {_short(m.start, tz)}"
                    if m is not None
                    else "not open"
                    if not sc.open
                    else f"not booked ({officer_short_words(ent).lower()})"
                )
                why = ""
                if not sc.open:
                    why = "closed (GIAS lists it as closed)"
                elif sc.link_officer_id != officer.id:
                    other = names.get(sc.link_officer_id) if sc.link_officer_id is not None else None
                    why = f"its link officer is {other}" if other else "it has no link officer yet"
                elif m is not None:
                    why = f"already booked this term ({_short(m.start, tz)})"
                elif actor.kind == "contact" and not ent.may_book:
                    contacted = ent.route is BookingRoute.CONTACTED_DIRECTLY
                    why = f"{'contacted directly: ' if contacted else ''}{officer.name} arranges its TSMs"
                # A closed school of another officer's is not shown.
                if sc.id is not None and (sc.open or sc.link_officer_id == officer.id):
                    schools.append(JointSchool(sc.id, sc.urn, sc.name, sc.address or sc.name, status, why))
        schools.sort(key=lambda sc: (not sc.can_join, sc.name))
        return JointChoice(
            str(trust_code),
            (trust.name if trust is not None else "") or mine[0].trust_name or str(trust_code),
            officer.id,
            officer.name,
            officer.email,
            term.id,
            term.label,
            tuple(schools),
            policy.default_mode.value,
            tuple(m.value for m in policy.modes_allowed),
            own.id if own is not None else None,
        )

    async def people(self, actor: Actor, school_ids: list[int]) -> dict[int, list[Person]]:
        """Each school's active contacts (names and roles, no addresses), for choosing who attends a joint TSM: the
        officer of every school, or a contact of one of them where the LA lets trust contacts book joint TSMs (their
        siblings' staff by name only, as the invitation shows them)."""
        async with self.db.reader() as s:
            schools = [await s.get(School, i) if isinstance(i, int) else None for i in school_ids]
            found = [sc for sc in schools if sc is not None]
            if len(found) != len(school_ids):
                raise NotFound("No such school.")
            if actor.kind == "contact":
                own = next((sc for sc in found if sc.id == actor.school_id), None)
                if own is None:
                    raise NotAllowed("Your own school is not in this joint TSM, so you cannot book it.")
                policy, _ = await self.ref.policy_for_la(s, own.la_id)
                if (
                    not policy.trust_contacts_book_joint
                    or not own.trust_code
                    or any(sc.trust_code != own.trust_code for sc in found)
                ):
                    raise NotAllowed(
                        "That is another school's: you can only book for your own school and your trust's."
                    )
            else:
                for sc in found:
                    _check_school(actor, sc)
            rows = await s.exec(
                select(SchoolContact)
                .where(col(SchoolContact.school_id).in_(school_ids), SchoolContact.active == True)  # noqa: E712
                .order_by(SchoolContact.role, SchoolContact.name)
            )
            out: dict[int, list[Person]] = {i: [] for i in school_ids}
            for c in rows:
                if c.id is not None:
                    out[c.school_id].append(Person(c.id, c.school_id, c.name, c.role))
            return out


def _short(start: datetime, tz: ZoneInfo) -> str:
    return moment_text(start, tz)
