"""Who is who: a Teams user matched to a school contact or an officer, and contacts added by officers.

The transport passes the user's verified AAD object id (and, when that is not known yet, the email or
UPN from the Teams roster); the match is remembered by AAD object id. Nothing here trusts card data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    String,
    any_,
    bindparam,
    false,
    func,
    literal,
    literal_column,
    null,
    true,
    union_all,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ..adapters.db.directory import LA, Officer, School, SchoolContact
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog, DomainEvent
from ..adapters.db.hot import HotStatement
from ..adapters.db.tenants import MsTenant
from ..domain.emails import work_email
from ..domain.errors import InvalidInput, NotAllowed, NotFound
from ..domain.model import ContactRole
from ..domain.pupil_data import check_free_text
from .actors import Actor, contact_actor, officer_actor
from .actors import check_school as _check_school
from .booking import now_utc
from .conversation import NOTIFY_ROLES  # the notifications' SCHOOL audience: who an invitation reaches
from .events import EventKind, record
from .tenants import Tenants

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_WORDS = {
    "attendance_lead": ContactRole.ATTENDANCE_LEAD,
    "attendance": ContactRole.ATTENDANCE_LEAD,
    "lead": ContactRole.ATTENDANCE_LEAD,
    "senior_leader": ContactRole.SENIOR_LEADER,
    "senior": ContactRole.SENIOR_LEADER,
    "slt": ContactRole.SENIOR_LEADER,
    "head": ContactRole.SENIOR_LEADER,
    "other": ContactRole.OTHER,
}


def _by_aad(match):
    """Active officers and contacts whose AAD object id ``match`` (a condition on the id column) accepts: (aad, kind,
    id, name, la_id, is_admin, national_admin, tenant, school_id), officers and contacts in one statement."""
    o, c, sc = Officer.__table__, SchoolContact.__table__, School.__table__
    officers = core_select(
        o.c.teams_aad_id.label("aad"),
        literal("officer").label("kind"),
        o.c.id,
        o.c.name,
        o.c.la_id,
        o.c.is_admin,
        o.c.national_admin,
        o.c.teams_tenant_id,
        null().label("school_id"),
    ).where(match(o.c.teams_aad_id), o.c.active == true())
    contacts = (
        core_select(
            c.c.teams_aad_id.label("aad"),
            literal("contact").label("kind"),
            c.c.id,
            c.c.name,
            sc.c.la_id,
            false().label("is_admin"),
            false().label("national_admin"),
            c.c.teams_tenant_id,
            c.c.school_id,
        )
        .select_from(c.join(sc, sc.c.id == c.c.school_id))
        .where(match(c.c.teams_aad_id), c.c.active == true())
    )
    return union_all(officers, contacts)


# The ids travel as one parameter whatever their number, so the statement is compiled once and prepared by the
# driver (tsm.adapters.db.hot): an array on PostgreSQL, a JSON list read by json_each on SQLite.
_BY_AAD = {
    "postgresql": HotStatement(
        _by_aad(lambda aad: aad == any_(bindparam("aads", type_=postgresql.ARRAY(String))))
    ),
    "sqlite": HotStatement(
        _by_aad(
            lambda aad: aad.in_(
                core_select(literal_column("value")).select_from(
                    func.json_each(bindparam("aads", type_=String))
                )
            )
        )
    ),
}


async def people_by_aad(db: Database, aads: list[str]) -> dict[str, list[Any]]:
    """Each AAD id's active officers and contacts (``actor_by_aad`` picks one), in one statement for any number:
    rows with the fields ``_by_aad`` names."""
    out: dict[str, list[Any]] = {}
    if db.backend == "sqlite":
        rows = await _BY_AAD["sqlite"].all(db, aads=json.dumps(aads))
    else:
        rows = await _BY_AAD[db.backend].all(db, aads=aads)
    for row in rows:
        out.setdefault(row.aad, []).append(row)
    return out


def actor_by_aad(people: list[Any], tenant: str | None) -> Actor | None:
    """The actor for one AAD id's people (``people_by_aad``): an officer before a contact, each in id order; with a
    tenant, only a person remembered in that tenant."""
    for p in sorted(people, key=lambda r: (r.kind != "officer", r.id)):
        if tenant is not None and p.teams_tenant_id != tenant:
            continue
        return officer_actor(p) if p.kind == "officer" else contact_actor(p.id, p.school_id, p.name, p.la_id)
    return None


@dataclass(frozen=True)
class ContactView:
    id: int
    school_id: int
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class NationalAdminRow:
    email: str
    name: str
    la_code: str
    la_name: str
    is_admin: bool
    national: bool
    active: bool


@dataclass(frozen=True)
class SchoolRow:
    id: int
    urn: int
    name: str


def parse_role(word: str) -> ContactRole:
    role = ROLE_WORDS.get((word or "").strip().lower().replace("-", "_"))
    if role is None:
        raise InvalidInput(f"'{word}' is not a role: use attendance_lead, senior_leader or other.")
    return role


def normalise_email(email: str) -> str:
    e = (email or "").strip().lower()
    if len(e) > 254 or not _EMAIL.match(e):
        raise InvalidInput(f"'{email}' is not a valid work email address.")
    return e


class Directory:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.db = db
        self.clock = clock
        self.tenants = Tenants(db, clock=clock)

    async def identify(
        self, aad_object_id: str | None, email_or_upn: str | None = None, tenant_id: str | None = None
    ) -> Actor | None:
        """The actor for a sender; active officers and contacts only. The one resolver of every channel: Teams, the
        CLI's ``--as``, any later one.

        With ``tenant_id`` (Teams, whenever a tenant is registered): the user is matched by (tenant, AAD object id);
        else the roster's email makes the first match only when the tenant is registered for that person's LA
        (officers, admins) or school/trust (contacts, :class:`~tsm.services.tenants.Tenants`), and only then are the
        AAD id and tenant remembered. A user of a school's tenant whose roster email equals an officer's is not
        that officer, and the officer's stored AAD id is left alone. Without ``tenant_id`` (the CLI, the local
        no-auth mode with no tenant registered): by AAD id alone, else by email."""
        aad = (aad_object_id or "").strip() or None
        tid = (tenant_id or "").strip().lower() or None
        if aad is not None:
            # The officers and contacts with this AAD id in one statement (every turn of every person starts here).
            found = await people_by_aad(self.db, [aad])
            actor = actor_by_aad(found.get(aad, []), tid)
            if actor is not None:
                return actor
        if not email_or_upn:
            return None
        try:
            email = normalise_email(email_or_upn)
        except InvalidInput:
            return None
        async with self.db.transaction() as s:
            o = (
                await s.exec(
                    select(Officer).where(func.lower(Officer.email) == email, Officer.active == True)  # noqa: E712
                )
            ).first()  # noqa: E712
            if o is not None and (tid is None or await self.tenants.covers(s, tid, o)):
                await _remember(s, o, aad, tid)
                return officer_actor(o)
            contacts = list(
                await s.exec(
                    select(SchoolContact, School.la_id)
                    .join(School, School.id == SchoolContact.school_id)
                    .where(func.lower(SchoolContact.email) == email, SchoolContact.active == True)  # noqa: E712
                    .order_by(SchoolContact.id)
                )
            )
            # The same person at two schools (an executive head, say): the first contact their tenant vouches for is
            # used and remembered.
            for c, la_id in contacts:
                if tid is None or await self.tenants.covers(s, tid, c):
                    await _remember(s, c, aad, tid)
                    return contact_actor(c.id, c.school_id, c.name, la_id)
            return None

    async def inactive(self, email_or_upn: str) -> bool:
        """Whether ``identify`` found nobody for this address because the officer or contact is marked inactive
        (so a refusal can say so rather than "unknown")."""
        try:
            email = normalise_email(email_or_upn)
        except InvalidInput:
            return False
        async with self.db.reader() as s:
            for table in (Officer, SchoolContact):
                if (
                    await s.exec(
                        select(table.id).where(func.lower(table.email) == email, table.active == False)  # noqa: E712
                    )
                ).first() is not None:  # noqa: E712
                    return True
        return False

    async def contacts_of(self, actor: Actor, school_id: int) -> list[ContactView]:
        async with self.db.reader() as s:
            school = await s.get(School, school_id) if isinstance(school_id, int) else None
            if school is None:
                raise NotFound(f"No school with id {school_id}.")
            _check_school(actor, school)
            rows = await s.exec(
                select(SchoolContact)
                .where(SchoolContact.school_id == school_id, SchoolContact.active == True)  # noqa: E712
                .order_by(SchoolContact.role, SchoolContact.name)
            )
            return [ContactView(c.id, c.school_id, c.name, c.email, c.role) for c in rows]

    async def officer_schools(self, actor: Actor) -> list[SchoolRow]:
        if not actor.is_officer:
            raise NotAllowed("Only link officers have a list of schools.")
        async with self.db.reader() as s:
            rows = await s.exec(
                select(School)
                .where(School.link_officer_id == actor.id, School.open == True)  # noqa: E712
                .order_by(School.name)
            )
            return [SchoolRow(sc.id, sc.urn, sc.name) for sc in rows]

    async def school_by_urn(self, actor: Actor, urn: int) -> SchoolRow:
        async with self.db.reader() as s:
            school = (await s.exec(select(School).where(School.urn == urn))).first()
            if school is None:
                raise NotFound(f"No school with URN {urn}.")
            _check_school(actor, school)
            return SchoolRow(school.id, school.urn, school.name)

    async def add_contact(self, actor: Actor, urn: int, name: str, email: str, role: str) -> ContactView:
        """An officer (for one of their schools) or an admin adds a school contact."""
        if not actor.is_officer:
            raise NotAllowed("Only your link officer or the LA attendance team can add school contacts.")
        if not isinstance(urn, int) or isinstance(urn, bool):
            raise InvalidInput("The school's URN is a number (6 digits).")
        name = " ".join((name or "").split())
        if not 2 <= len(name) <= 120:
            raise InvalidInput("Give the person's name (2 to 120 characters).")
        check_free_text(
            name, label="the name", names=False
        )  # a contact is invited by name: never a pupil's UPN
        email = work_email(email, label="their work email")  # they will be invited: no CR/LF, no junk
        role_ = parse_role(role)
        now = self.clock()
        try:
            async with self.db.transaction() as s:
                school = (await s.exec(select(School).where(School.urn == urn))).first()
                if school is None:
                    raise NotFound(f"No school with URN {urn}.")
                _check_school(actor, school)
                existing = (
                    await s.exec(
                        select(SchoolContact).where(
                            SchoolContact.school_id == school.id, col(SchoolContact.email) == email
                        )
                    )
                ).first()
                if existing is not None:
                    if existing.active:
                        raise InvalidInput(f"{email} is already a contact of {school.name}.")
                    existing.active, existing.name, existing.role = True, name, role_.value
                    c = existing
                else:
                    c = SchoolContact(school_id=school.id, name=name, email=email, role=role_.value)
                s.add(c)
                await s.flush()
                s.add(
                    AuditLog(
                        at=now,
                        actor=actor.key,
                        action="contact.add",
                        entity="school_contact",
                        entity_id=str(c.id),
                        detail={"school_id": school.id, "role": role_.value},
                    )
                )
                return ContactView(c.id, c.school_id, c.name, c.email, c.role)
        except IntegrityError:
            raise InvalidInput(f"{email} is already a contact of that school.") from None

    async def invite_school(self, actor: Actor, school_id: int) -> list[ContactView]:
        """The school's officer (or an admin, or the CLI) sends its attendance leads and senior leaders their link
        to book: an ``invited`` event, delivered like every message (``tsm.notifications``: Teams with a
        conversation, else an email with their sign-in link). Returns the people who will be told."""
        if not actor.is_officer:
            raise NotAllowed(
                "Only the school's link officer or the LA attendance team can invite a school to book."
            )
        now = self.clock()
        async with self.db.transaction() as s:
            school = await s.get(School, school_id) if isinstance(school_id, int) else None
            if school is None:
                raise NotFound(f"No school with id {school_id}.")
            _check_school(actor, school)
            if not school.open:
                raise InvalidInput(f"{school.name} is closed.")
            if school.link_officer_id is None:
                raise InvalidInput(f"{school.name} has no link officer yet: link one first (tsm assign).")
            told = [
                ContactView(c.id, c.school_id, c.name, c.email, c.role)
                for c in await s.exec(
                    select(SchoolContact)
                    .where(
                        SchoolContact.school_id == school.id,
                        SchoolContact.active == True,  # noqa: E712
                        col(SchoolContact.role).in_(NOTIFY_ROLES),
                    )
                    .order_by(SchoolContact.id)
                )
            ]
            if not told:
                raise InvalidInput(
                    f"{school.name} has no attendance lead or senior leader to invite: add a contact first."
                )
            record(s, EventKind.INVITED, actor, now, school_id=school.id)
            s.add(
                AuditLog(
                    at=now,
                    actor=actor.key,
                    action="school.invite",
                    entity="school",
                    entity_id=str(school.id),
                    detail={"contacts": len(told)},
                )
            )
        return told

    # ------------------------------------------------------------------ the national admin right (issue 15)

    async def set_national_admin(self, email: str, granted: bool, *, actor: str = "cli") -> NationalAdminRow:
        """An operator grants (or takes back) the right to see every LA's reports. Only the command line does this
        (``tsm admins``): no chat or web action reaches it. The person keeps acting only in their own LA."""
        address = normalise_email(email)
        async with self.db.transaction() as s:
            found = (
                await s.exec(
                    select(Officer, LA).join(LA, LA.id == Officer.la_id).where(Officer.email == address)
                )
            ).first()
            if found is None:
                raise NotFound(f"No officer with email {address}: import them with their LA first.")
            o, la = found
            if o.national_admin != granted:
                o.national_admin = granted
                s.add(o)
                s.add(
                    AuditLog(
                        at=self.clock(),
                        actor=actor,
                        action="officer.national_admin" if granted else "officer.national_admin_revoked",
                        entity="officer",
                        entity_id=str(o.id),
                        detail={"la": la.code},
                    )
                )
            return NationalAdminRow(o.email, o.name, la.code, la.name, o.is_admin, o.national_admin, o.active)

    async def admins(self) -> list[NationalAdminRow]:
        """Every LA admin and national admin, by LA."""
        async with self.db.reader() as s:
            rows = await s.exec(
                select(Officer, LA)
                .join(LA, LA.id == Officer.la_id)
                .where((Officer.is_admin == True) | (Officer.national_admin == True))  # noqa: E712
                .order_by(LA.code, Officer.email)
            )
            return [
                NationalAdminRow(o.email, o.name, la.code, la.name, o.is_admin, o.national_admin, o.active)
                for o, la in rows
            ]


ACCESS_REQUEST_DAYS = 7  # one request per address in this many days reaches the LA admins


async def request_access(
    db: Database, clock: Callable[[], datetime], *, name: str, email: str | None, tenant_id: str = ""
) -> str:
    """Someone the bot does not know asks the LA for access (issue 14, item 6): an ``access_requested`` event the LA
    admins are told of (``tsm.notifications``), with the name, address and tenant Teams vouched for, and the school
    when the tenant is registered for one. Answers "sent", "already" (asked in the last week), "no_email" (Teams
    gave no address to go on) or "no_la" (no LA to send it to)."""
    address = (email or "").strip().lower()
    if "@" not in address:
        return "no_email"
    now = clock()
    async with db.transaction() as s:
        recent = await s.exec(
            select(DomainEvent)
            .where(
                DomainEvent.kind == EventKind.ACCESS_REQUESTED.value,
                DomainEvent.at >= now - timedelta(days=ACCESS_REQUEST_DAYS),
            )
            .order_by(col(DomainEvent.id).desc())
            .limit(500)
        )
        if any((ev.data or {}).get("email") == address for ev in recent):
            return "already"
        la_id, school_id = None, None
        if tenant_id:
            row = (await s.exec(select(MsTenant).where(MsTenant.tenant_id == tenant_id.lower()))).first()
            if row is not None:
                school_id = row.school_id
                school = await s.get(School, row.school_id) if row.school_id else None
                la_id = row.la_id or (school.la_id if school is not None else None)
        if la_id is None:
            las = list(await s.exec(select(LA.id).limit(2)))
            la_id = las[0] if len(las) == 1 else None
        if la_id is None:
            return "no_la"
        record(
            s,
            EventKind.ACCESS_REQUESTED,
            "guest",
            now,
            school_id=school_id,
            la_id=la_id,
            name=name[:120],
            email=address[:254],
            tenant=tenant_id[:36],
        )
    return "sent"


async def _remember(s, person: Officer | SchoolContact, aad: str | None, tid: str | None) -> None:
    """Remember the AAD id (and the tenant it was seen in) of a person just matched by their email. Another row
    holding the same AAD id lets go of it first (the id is unique): the email match is the newer evidence."""
    if not aad or (person.teams_aad_id == aad and person.teams_tenant_id == tid):
        return
    for table in (Officer, SchoolContact):
        await s.exec(
            update(table)
            .where(table.teams_aad_id == aad, table.id != person.id)
            .values(teams_aad_id=None, teams_tenant_id=None)
        )
    person.teams_aad_id, person.teams_tenant_id = aad, tid
    s.add(person)
