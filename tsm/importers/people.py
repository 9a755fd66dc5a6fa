"""LA officers, school contacts, and who is whose link officer, from small CSV files an LA keeps.

CSV formats (header row required; column names are case-insensitive, extra columns are ignored):

- officers: ``name,email,mailbox,area,working_hours,max_meetings_per_day,is_admin``
  (``working_hours`` like ``mon=09:00-16:00;tue=09:00-12:00|13:00-16:00``, empty = the LA policy's;
  ``mailbox`` empty = the email; ``is_admin`` yes/no/true/false/1/0, empty = no)
- school contacts: ``urn,name,email,role`` (role ``attendance_lead``, ``senior_leader`` or ``other``)
- link officers: ``urn,officer_email`` (empty officer_email removes the link)
- trust officers: ``trust_code,officer_email`` (per LA: each row is the trust's officer in that officer's LA; empty
  officer_email removes the allocation of the LA given with ``la_code``)

Emails are validated and stored lower-cased. Bad rows are reported by line number; good rows are kept.
"""

from __future__ import annotations

import re

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Trust, TrustOfficer
from tsm.adapters.db.engine import Database
from tsm.domain.errors import NotFound, PolicyError
from tsm.domain.model import ContactRole
from tsm.domain.policy import WEEKDAYS, WorkingHours, load_policy
from tsm.services.officer_loads import officer_loads

from .gias import (
    MissingColumns,
    Source,
    assign,
    audit,
    check_length,
    count,
    fetch_in,
    open_text,
    parse_int,
    read_columns,
    refresh_booking_routes,
)
from .report import ImportReport

OFFICER_COLUMNS = ("name", "email", "mailbox", "area", "working_hours", "max_meetings_per_day", "is_admin")
CONTACT_COLUMNS = ("urn", "name", "email", "role")
LINK_COLUMNS = ("urn", "officer_email")
TRUST_OFFICER_COLUMNS = ("trust_code", "officer_email")

MAX_MEETINGS_PER_DAY = 10

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_TRUE = {"yes", "y", "true", "t", "1"}
_FALSE = {"", "no", "n", "false", "f", "0"}


def normalise_email(raw: str, what: str = "email") -> str:
    """A plausible address, lower-cased; ``ValueError`` otherwise."""
    email = raw.strip().lower()
    if not email:
        raise ValueError(f"{what} is missing")
    if len(email) > 254 or ".." in email or not _EMAIL.match(email):
        raise ValueError(f"{what} '{raw.strip()}' is not an email address")
    return email


def parse_working_hours(text: str) -> dict[str, list[str]] | None:
    """``mon=09:00-16:00;tue=09:00-12:00|13:00-16:00`` to the dict stored on Officer; empty = None.

    Days left out are not worked. Raises ``ValueError`` with a message for the import report.
    """
    text = text.strip()
    if not text:
        return None
    raw: dict[str, list[str]] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        day, sep, spans = part.partition("=")
        if not sep:
            raise ValueError(f"working_hours '{part}' is not like mon=09:00-16:00")
        key = day.strip().lower()[:3]
        if key in raw:
            raise ValueError(f"working_hours gives '{day.strip()}' twice")
        raw[key] = [s.strip() for s in spans.split("|") if s.strip()]
        if not raw[key]:
            raise ValueError(f"working_hours '{part}' has no times")
    try:
        hours = WorkingHours.parse(raw, where="working_hours")
    except PolicyError as exc:
        raise ValueError(str(exc)) from None
    for day, spans in hours.by_weekday.items():
        for (_a, b), (c, _d) in zip(spans, spans[1:], strict=False):
            if c < b:
                raise ValueError(f"working_hours: the times for {WEEKDAYS[day]} overlap")
    return hours.to_raw()


def parse_bool(raw: str, what: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{what} '{raw}' is not yes or no")


def parse_role(raw: str) -> str:
    value = re.sub(r"[\s-]+", "_", raw.strip().lower()) or ContactRole.OTHER.value
    try:
        return ContactRole(value).value
    except ValueError:
        roles = ", ".join(r.value for r in ContactRole)
        raise ValueError(f"role '{raw}' is not one of {roles}") from None


async def _la(session: AsyncSession, la_code: str) -> LA:
    la = (await session.exec(select(LA).where(LA.code == la_code.strip()))).first()
    if la is None:
        raise NotFound(f"LA {la_code} is not set up yet: import its schools (GIAS file) first")
    return la


def _rows(f, columns, required, report: ImportReport):
    try:
        return read_columns(f, columns, required=required, fold_case=True, on_error=report.error)
    except MissingColumns as exc:
        report.error(1, str(exc))
        return iter(())


# --------------------------------------------------------------------------------------------------
# Officers


async def import_officers(db: Database, path: Source, *, la_code: str, actor: str = "system") -> ImportReport:
    """Create or update (by email) the LA's officers. Raises ``NotFound`` if the LA is not set up."""
    async with db.transaction() as session:
        return await import_officers_in(session, path, la_code=la_code, actor=actor)


async def import_officers_in(
    session: AsyncSession, path: Source, *, la_code: str, actor: str = "system"
) -> ImportReport:
    la = await _la(session, la_code)
    report = ImportReport()
    parsed: dict[str, tuple[int, dict]] = {}
    with open_text(path) as f:
        for line, v in _rows(f, OFFICER_COLUMNS, ("name", "email"), report):
            try:
                name = check_length(v["name"], "name", 120)
                if not name:
                    raise ValueError("name is missing")
                email = normalise_email(v["email"])
                mailbox = normalise_email(v["mailbox"], "mailbox") if v["mailbox"] else email
                values = dict(
                    name=name,
                    mailbox=mailbox,
                    area=check_length(v["area"], "area", 120),
                    working_hours=parse_working_hours(v["working_hours"]),
                    max_meetings_per_day=(
                        parse_int(
                            v["max_meetings_per_day"], "max_meetings_per_day", lo=1, hi=MAX_MEETINGS_PER_DAY
                        )
                        if v["max_meetings_per_day"]
                        else None
                    ),
                    is_admin=parse_bool(v["is_admin"], "is_admin"),
                )
            except ValueError as exc:
                report.error(line, str(exc))
                continue
            if email in parsed:
                report.error(line, f"{email} appears more than once; the first row was kept")
                continue
            parsed[email] = (line, values)

    existing = {o.email: o for o in await fetch_in(session, Officer.email, parsed, Officer)}
    for email, (line, values) in parsed.items():
        officer = existing.get(email)
        if officer is not None and officer.la_id != la.id:
            # LAs are tenants of the data (issue 15): one LA's file never takes another LA's officer (nor their
            # schools and meetings with them).
            report.error(line, f"{email} is an officer of another LA: not changed (their LA imports them)")
            continue
        is_new = officer is None
        if officer is None:
            officer = Officer(la_id=la.id, email=email, name=values["name"], mailbox=values["mailbox"])
        changed = assign(officer, la_id=la.id, active=True, **values)
        count(report, is_new=is_new, changed=changed)
        session.add(officer)
    report.errors.sort()
    await session.flush()
    audit(
        session,
        actor=actor,
        action="import_officers",
        entity="la",
        entity_id=la.code,
        report=report,
        source=path,
    )
    return report


# --------------------------------------------------------------------------------------------------
# School contacts


async def import_contacts(db: Database, path: Source, *, actor: str = "system") -> ImportReport:
    """Create or update (by school and email) the staff a school books with."""
    async with db.transaction() as session:
        return await import_contacts_in(session, path, actor=actor)


async def import_contacts_in(session: AsyncSession, path: Source, *, actor: str = "system") -> ImportReport:
    report = ImportReport()
    parsed: list[tuple[int, int, str, str, str]] = []
    with open_text(path) as f:
        for line, v in _rows(f, CONTACT_COLUMNS, ("urn", "name", "email"), report):
            try:
                if not v["urn"]:
                    raise ValueError("urn is missing")
                urn = parse_int(v["urn"], "urn", lo=1)
                name = check_length(v["name"], "name", 120)
                if not name:
                    raise ValueError("name is missing")
                email = normalise_email(v["email"])
                role = parse_role(v["role"])
            except ValueError as exc:
                report.error(line, str(exc))
                continue
            parsed.append((line, urn, name, email, role))

    schools = {s.urn: s for s in await fetch_in(session, School.urn, [p[1] for p in parsed], School)}
    contacts = {
        (c.school_id, c.email): c
        for c in await fetch_in(
            session, SchoolContact.school_id, [s.id for s in schools.values()], SchoolContact
        )
    }
    seen: dict[tuple[int, str], int] = {}
    for line, urn, name, email, role in parsed:
        school = schools.get(urn)
        if school is None:
            report.error(line, f"no school with URN {urn} (import the GIAS file first)")
            continue
        key = (school.id, email)
        if key in seen:
            report.error(line, f"{email} is given twice for URN {urn} (line {seen[key]} was kept)")
            continue
        seen[key] = line
        contact = contacts.get(key)
        is_new = contact is None
        if contact is None:
            contact = SchoolContact(school_id=school.id, email=email, name=name, role=role)
        changed = assign(contact, name=name, role=role, active=True)
        count(report, is_new=is_new, changed=changed)
        session.add(contact)
    report.errors.sort()
    await session.flush()
    audit(
        session,
        actor=actor,
        action="import_contacts",
        entity="school_contact",
        entity_id="*",
        report=report,
        source=path,
    )
    return report


# --------------------------------------------------------------------------------------------------
# Link officers and trust officers


async def _officers_by_email(session: AsyncSession, emails) -> dict[str, Officer]:
    return {o.email: o for o in await fetch_in(session, Officer.email, emails, Officer)}


def _officer_email(raw: str) -> str | None:
    return normalise_email(raw, "officer_email") if raw.strip() else None


async def import_link_officers(db: Database, path: Source, *, actor: str = "system") -> ImportReport:
    """Assign each school (by URN) its link officer (by email), who must be an active officer of its LA."""
    async with db.transaction() as session:
        return await import_link_officers_in(session, path, actor=actor)


async def import_link_officers_in(
    session: AsyncSession, path: Source, *, actor: str = "system"
) -> ImportReport:
    report = ImportReport()
    parsed: list[tuple[int, int, str | None]] = []
    with open_text(path) as f:
        for line, v in _rows(f, LINK_COLUMNS, ("urn", "officer_email"), report):
            try:
                if not v["urn"]:
                    raise ValueError("urn is missing")
                parsed.append((line, parse_int(v["urn"], "urn", lo=1), _officer_email(v["officer_email"])))
            except ValueError as exc:
                report.error(line, str(exc))

    schools = {s.urn: s for s in await fetch_in(session, School.urn, [p[1] for p in parsed], School)}
    officers = await _officers_by_email(session, {p[2] for p in parsed if p[2]})
    allocations = await _trust_officers(session, {s.trust_code for s in schools.values() if s.trust_code})
    kept: list[str] = []
    seen: dict[int, int] = {}
    for line, urn, email in parsed:
        school = schools.get(urn)
        if school is None:
            report.error(line, f"no school with URN {urn} (import the GIAS file first)")
            continue
        if urn in seen:
            report.error(line, f"URN {urn} appears more than once (line {seen[urn]} was kept)")
            continue
        officer_id = None
        if email is not None:
            officer = officers.get(email)
            if officer is None:
                report.error(line, f"no officer with email {email} (import the officers first)")
                continue
            if not officer.active:
                report.error(line, f"officer {email} is not active")
                continue
            if officer.la_id != school.la_id:
                report.error(line, f"officer {email} works for another LA than URN {urn}")
                continue
            officer_id = officer.id
        seen[urn] = line
        allocated = allocations.get((school.trust_code, school.la_id)) if school.trust_code else None
        if allocated is not None and officer_id != allocated:
            kept.append(school.name)  # the trust's allocated officer stays this school's officer (item 6)
            count(report, is_new=False, changed=assign(school, link_officer_id=allocated))
            session.add(school)
            continue
        count(report, is_new=False, changed=assign(school, link_officer_id=officer_id))
        session.add(school)
    await session.flush()
    for la_id in sorted(
        {s.la_id for s in schools.values()}
    ):  # officers over the LA's capacity (issue 13, item 11)
        la = await session.get(LA, la_id)
        capacity = load_policy(la.policy).officer_capacity if la is not None else 30
        report.notes.extend(
            load.warning() for load in await officer_loads(session, la_id, capacity) if load.over
        )
    if kept:
        report.notes.append(
            f"{len(kept)} school{'' if len(kept) == 1 else 's'} in a trust with an allocated officer "
            f"kept that officer rather than the file's: {', '.join(sorted(kept)[:10])}"
            f"{', ...' if len(kept) > 10 else ''}"
        )
    report.errors.sort()
    await session.flush()
    audit(
        session,
        actor=actor,
        action="import_link_officers",
        entity="school",
        entity_id="*",
        report=report,
        source=path,
    )
    return report


async def _trust_officers(session: AsyncSession, codes) -> dict[tuple[str, int], int]:
    """(trust code, LA id) -> the trust's allocated officer in that LA (issue 15: per LA)."""
    return {
        (t.trust_code, t.la_id): t.officer_id
        for t in await fetch_in(session, TrustOfficer.trust_code, codes, TrustOfficer)
    }


async def import_trust_officers(
    db: Database, path: Source, *, la_code: str | None = None, actor: str = "system"
) -> ImportReport:
    """Give trusts (by GIAS trust code) an allocated officer in one LA; their schools' booking routes are recomputed.
    ``la_code``: the LA whose allocations the file holds (needed to clear one when the database holds several LAs)."""
    async with db.transaction() as session:
        return await import_trust_officers_in(session, path, la_code=la_code, actor=actor)


async def import_trust_officers_in(
    session: AsyncSession, path: Source, *, la_code: str | None = None, actor: str = "system"
) -> ImportReport:
    """A trust's allocated officer is per LA (issue 15): each row writes the trust's row of its officer's LA (the
    file's ``la_code``, when given: an officer of another LA is refused), never another LA's. An empty
    officer_email clears the trust's officer in that LA."""
    report = ImportReport()
    la = await _la(session, la_code) if la_code else None
    if la is None:
        only = list(await session.exec(select(LA).limit(2)))
        la = only[0] if len(only) == 1 else None
    parsed: list[tuple[int, str, str | None]] = []
    with open_text(path) as f:
        for line, v in _rows(f, TRUST_OFFICER_COLUMNS, ("trust_code", "officer_email"), report):
            try:
                if not v["trust_code"]:
                    raise ValueError("trust_code is missing")
                parsed.append((line, v["trust_code"], _officer_email(v["officer_email"])))
            except ValueError as exc:
                report.error(line, str(exc))

    codes = [p[1] for p in parsed]
    trusts = {t.code for t in await fetch_in(session, Trust.code, codes, Trust)}
    officers = await _officers_by_email(session, {p[2] for p in parsed if p[2]})
    rows = {
        (t.trust_code, t.la_id): t
        for t in await fetch_in(session, TrustOfficer.trust_code, codes, TrustOfficer)
    }
    seen: dict[tuple[str, int | None], int] = {}
    touched: set[tuple[str, int]] = set()
    for line, code, email in parsed:
        if code not in trusts:
            report.error(line, f"no trust with code {code} (trusts come from the GIAS file)")
            continue
        officer = officers.get(email) if email is not None else None
        if email is not None:
            if officer is None:
                report.error(line, f"no officer with email {email} (import the officers first)")
                continue
            if not officer.active:
                report.error(line, f"officer {email} is not active")
                continue
            if la is not None and officer.la_id != la.id:
                report.error(line, f"officer {email} works for another LA than {la.code}")
                continue
        la_id = officer.la_id if officer is not None else (la.id if la is not None else None)
        if la_id is None:
            report.error(line, f"which LA's officer of trust {code} to clear? Give --la-code")
            continue
        if (code, la_id) in seen:
            report.error(line, f"trust {code} appears more than once (line {seen[(code, la_id)]} was kept)")
            continue
        seen[(code, la_id)] = line
        row = rows.get((code, la_id))
        officer_id = officer.id if officer is not None else None
        changed = (row.officer_id if row is not None else None) != officer_id
        count(report, is_new=False, changed=changed)
        if not changed:
            continue
        touched.add((code, la_id))
        if officer_id is None:
            await session.delete(row)
        elif row is None:
            session.add(TrustOfficer(trust_code=code, la_id=la_id, officer_id=officer_id))
        else:
            row.officer_id = officer_id
            session.add(row)
    report.errors.sort()
    await session.flush()
    if touched:
        schools = [
            sc
            for sc in await fetch_in(session, School.trust_code, {code for code, _ in touched}, School)
            if (sc.trust_code, sc.la_id) in touched
        ]
        # The trust's allocated officer in an LA is the officer of its schools in that LA: they arrange, book and hold
        # those schools' TSMs and are the one named to them (issue 13, item 6).
        allocations = await _trust_officers(session, {code for code, _ in touched})
        handed = []
        for sc in schools:
            allocated = allocations.get((sc.trust_code, sc.la_id))
            if allocated is not None and sc.link_officer_id != allocated:
                sc.link_officer_id = allocated
                session.add(sc)
                handed.append(sc.name)
        if handed:
            report.notes.append(
                f"{len(handed)} school{'' if len(handed) == 1 else 's'} now have their trust's "
                f"allocated officer as their officer: {', '.join(sorted(handed)[:10])}"
                f"{', ...' if len(handed) > 10 else ''}"
            )
        await refresh_booking_routes(session, schools)
        await session.flush()
    audit(
        session,
        actor=actor,
        action="import_trust_officers",
        entity="trust",
        entity_id="*",
        report=report,
        source=path,
    )
    return report
