"""Schools from a GIAS establishment CSV (``edubasealldataYYYYMMDD.csv``) and school attendance figures.

Only the columns in ``GIAS_COLUMNS`` are ever read from a row: the file also holds head teachers'
names, which the product must never import (data minimisation), so the reader picks columns by
position and never builds a value for any other column.

Also the helpers every importer uses: reading a CSV in utf-8 or cp1252, and recomputing a school's
booking route (who books its TSMs: ``tsm.domain.schools`` and the LA's entitlement rules) from its policy.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tsm.adapters.db.columns import now_utc
from tsm.adapters.db.directory import LA, School, Trust, TrustOfficer
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import AuditLog
from tsm.domain.averages import parse_period
from tsm.domain.entitlement import classify_phase, entitlement_for
from tsm.domain.la_codes import la_code_problem
from tsm.domain.policy import Policy, load_policy
from tsm.domain.schools import school_facts

from .report import ImportReport

Source = str | os.PathLike[str] | TextIO
Progress = Callable[[int], None]

# The only GIAS columns this product reads.
GIAS_COLUMNS = (
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (name)",
    "PhaseOfEducation (name)",
    "TrustSchoolFlag (name)",
    "Trusts (code)",
    "Trusts (name)",
    "Street",
    "Town",
    "Postcode",
    "NumberOfPupils",
)
# The type and status decide whether a row is a school the LA holds TSMs with: a file without them is not GIAS's.
GIAS_REQUIRED = (
    "URN",
    "LA (code)",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "EstablishmentStatus (name)",
)

# GIAS puts community and foundation special schools in the group "Special schools", not in
# "Local authority maintained schools", yet the LA maintains them (see the report to the lead).
PROGRESS_EVERY = 500
_CHUNK = 500  # ids per IN (...) query


# --------------------------------------------------------------------------------------------------
# Reading CSV files


def detect_encoding(path: str | os.PathLike[str]) -> str:
    """``utf-8-sig`` if the whole file decodes as UTF-8 (with or without a BOM), else ``cp1252``.

    GIAS downloads are usually Windows-1252. ``latin-1`` is the last resort (it decodes any byte).
    """
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


@contextmanager
def open_text(source: Source) -> Iterator[TextIO]:
    """A text stream for a path (encoding detected) or an already open text stream (left open)."""
    if hasattr(source, "read"):
        yield source  # type: ignore[misc]
        return
    encoding = detect_encoding(source)  # type: ignore[arg-type]
    with open(source, encoding=encoding, newline="") as f:  # type: ignore[arg-type]
        yield f


def source_name(source: Source) -> str:
    """The file's name for the audit log (never its directory: that may hold a person's name)."""
    name = getattr(source, "name", None) if hasattr(source, "read") else source
    return Path(name).name if isinstance(name, str | os.PathLike) else "<stream>"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")  # NUL (PostgreSQL refuses it), line breaks inside a field...


class MissingColumns(ValueError):
    pass


def read_columns(
    f: TextIO,
    wanted: Sequence[str],
    *,
    required: Sequence[str] = (),
    fold_case: bool = False,
    on_error: Callable[[int, str], None] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, {column: stripped value})`` with only the ``wanted`` columns of each row.

    Other columns are skipped by position: their values never reach a dict. Blank lines are skipped.
    Raises ``MissingColumns`` (before yielding anything) if a ``required`` column is absent.
    ``fold_case`` matches headers case-insensitively (for the small CSVs people write by hand).
    A record the csv module cannot read goes to ``on_error(line, message)`` (raised if None).
    The line number is the line the record starts on: a quoted field with line breaks makes one record of
    several lines, and a person looks for it where it begins (the csv module counts to where it ends).
    """
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        raise MissingColumns("the file is empty") from None
    if header:
        header[0] = header[0].lstrip("\ufeff")
    norm = (lambda s: s.strip().lower()) if fold_case else (lambda s: s.strip())
    wanted_norm = {norm(w): w for w in wanted}
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        name = wanted_norm.get(norm(h))
        if name is not None and name not in index:
            index[name] = i
    missing = [c for c in required if c not in index]
    if missing:
        raise MissingColumns(f"missing column(s) {', '.join(missing)}")
    absent = [w for w in wanted if w not in index]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        while True:
            first = reader.line_num + 1
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if on_error is None:
                    raise
                on_error(first, f"unreadable CSV: {exc}")
                continue
            if not any(cell.strip() for cell in raw):
                continue
            values = {
                name: (_CONTROL.sub(" ", raw[i]).strip() if i < len(raw) else "") for name, i in index.items()
            }
            for name in absent:
                values[name] = ""
            yield first, values

    return rows()


def parse_int(raw: str, what: str, *, lo: int | None = None, hi: int | None = None) -> int:
    try:
        value = int(raw.strip().replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} '{raw}' is not a whole number") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{what} {value} is out of range")
    return value


def assign(obj: object, **values: object) -> bool:
    """Set attributes; True if any value changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def count(report: ImportReport, *, is_new: bool, changed: bool) -> None:
    report.ok += 1
    if is_new:
        report.created += 1
    elif changed:
        report.updated += 1


def check_length(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return value


async def fetch_in(session: AsyncSession, column, values: Iterable, model) -> list:
    """Rows of ``model`` whose ``column`` is in ``values``, queried in chunks."""
    values = list(dict.fromkeys(values))
    out: list = []
    for i in range(0, len(values), _CHUNK):
        out.extend((await session.exec(select(model).where(column.in_(values[i : i + _CHUNK])))).all())
    return out


def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    report: ImportReport,
    source: Source,
    **extra: int,
) -> None:
    """One audit row per import: counts only, never row contents."""
    detail = {
        "file": source_name(source),
        "ok": report.ok,
        "created": report.created,
        "updated": report.updated,
        "errors": len(report.errors),
        **extra,
    }
    session.add(
        AuditLog(at=now_utc(), actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail)
    )


# --------------------------------------------------------------------------------------------------
# Booking route


def apply_booking_route(school: School, policy: Policy, *, trust_has_allocated_officer: bool) -> None:
    """Set ``booking_route`` and ``booking_route_reason`` (the rule's message) from the policy."""
    ent = entitlement_for(
        school_facts(school, trust_has_allocated_officer=trust_has_allocated_officer), policy
    )
    school.booking_route = ent.route.value
    school.booking_route_reason = ent.message[:300]


async def refresh_booking_routes(
    session: AsyncSession,
    schools: Iterable[School],
    *,
    policy: Policy | None = None,
    policies: dict[int, Policy] | None = None,
) -> int:
    """Recompute the booking route of ``schools`` (trust allocations read from the database).

    Each school's policy is its LA's (``LA.policy``) unless ``policy`` is given; ``policies`` is an
    optional cache by LA id. Returns how many schools' routes or reasons changed.
    """
    schools = list(schools)
    codes = {s.trust_code for s in schools if s.trust_code}
    allocated = {
        (t.trust_code, t.la_id) for t in await fetch_in(session, TrustOfficer.trust_code, codes, TrustOfficer)
    }  # a trust's officer is per LA (issue 15)
    policies = {} if policies is None else policies
    changed = 0
    for school in schools:
        pol = policy
        if pol is None:
            pol = policies.get(school.la_id)
            if pol is None:
                la = await session.get(LA, school.la_id)
                pol = policies[school.la_id] = load_policy(la.policy)
        before = (school.booking_route, school.booking_route_reason)
        apply_booking_route(
            school, pol, trust_has_allocated_officer=(school.trust_code, school.la_id) in allocated
        )
        if before != (school.booking_route, school.booking_route_reason):
            changed += 1
        session.add(school)
    return changed


# --------------------------------------------------------------------------------------------------
# GIAS


@dataclass(frozen=True)
class GiasRow:
    urn: int
    la_code: str
    name: str
    type_name: str
    type_group: str
    status: str
    phase_of_education: str
    trust_flag: str
    trust_code: str | None
    trust_name: str | None
    street: str
    town: str
    postcode: str
    pupils: int | None

    @property
    def closed(self) -> bool:
        return self.status.lower() == "closed"

    @property
    def open(self) -> bool:
        """GIAS's "Open" and "Open, but proposed to close"; not "Proposed to open" (not open yet), nor "Closed"."""
        return self.status.strip().lower() in OPEN_STATUSES


OPEN_STATUSES = {"open", "open, but proposed to close"}


def parse_gias_row(v: dict[str, str]) -> GiasRow:
    """Validate one row's picked columns; ``ValueError`` says what is wrong, for the import report."""
    if not v["URN"]:
        raise ValueError("URN is missing")
    urn = parse_int(v["URN"], "URN", lo=1, hi=2**31 - 1)
    name = check_length(v["EstablishmentName"], "EstablishmentName", 200)
    if not name:
        raise ValueError("EstablishmentName is missing")
    pupils = parse_int(v["NumberOfPupils"], "NumberOfPupils", lo=0) if v["NumberOfPupils"] else None
    trust_code = check_length(v["Trusts (code)"], "Trusts (code)", 16) or None
    trust_name = check_length(v["Trusts (name)"], "Trusts (name)", 200) or None
    if trust_name and not trust_code:
        raise ValueError("Trusts (name) is given without Trusts (code)")
    return GiasRow(
        urn=urn,
        la_code=v["LA (code)"],
        name=name,
        type_name=check_length(v["TypeOfEstablishment (name)"], "TypeOfEstablishment (name)", 100),
        type_group=check_length(v["EstablishmentTypeGroup (name)"], "EstablishmentTypeGroup (name)", 100),
        status=v["EstablishmentStatus (name)"],
        phase_of_education=check_length(v["PhaseOfEducation (name)"], "PhaseOfEducation (name)", 60),
        trust_flag=v["TrustSchoolFlag (name)"],
        trust_code=trust_code,
        trust_name=trust_name or (trust_code if trust_code else None),
        street=check_length(v["Street"], "Street", 200),
        town=check_length(v["Town"], "Town", 100),
        postcode=check_length(v["Postcode"].upper(), "Postcode", 16),
        pupils=pupils,
    )


SKIP_CLOSED = "closed (GIAS status Closed)"
SKIP_NOT_OPEN_YET = "proposed to open (not open yet)"
SHOWN_PER_REASON = 5


@dataclass
class GiasImportReport(ImportReport):
    """``ImportReport`` plus the rows it left out on purpose, and why."""

    closed: int = 0  # closed establishments of the LA (skipped; an existing school is marked not open)
    other_la: int = 0  # rows for other LAs (ignored)
    # why -> the establishments (URN, name) skipped for it: closed, not open yet, a type a TSM does not cover
    skipped: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    no_longer_open: list[int] = field(default_factory=list)  # ids of stored schools this import made not open
    cancelled: int | None = (
        None  # their future TSMs cancelled (None: no booking service given, none looked at)
    )

    def skip(self, why: str, row: GiasRow) -> None:
        self.skipped.setdefault(why, []).append((row.urn, row.name))

    def summary(self, what: str = "schools") -> str:
        n = sum(len(v) for v in self.skipped.values())
        lines = [
            f"{n} establishment{'' if n == 1 else 's'} of the LA skipped, "
            f"{self.other_la} row{'' if self.other_la == 1 else 's'} for other LAs ignored"
        ]
        for why, rows in sorted(self.skipped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            shown = ", ".join(f"{urn} {name}" for urn, name in rows[:SHOWN_PER_REASON])
            more = f" and {len(rows) - SHOWN_PER_REASON} more" if len(rows) > SHOWN_PER_REASON else ""
            lines.append(f"  {len(rows)} {why}: {shown}{more}")
        if self.no_longer_open:
            k = len(self.no_longer_open)
            done = (
                "their future TSMs are left as they are (the booking service was not given)"
                if self.cancelled is None
                else f"{self.cancelled} future TSM{'' if self.cancelled == 1 else 's'} cancelled, their officers told"
            )
            lines.append(f"{k} school{' is' if k == 1 else 's are'} no longer open; {done}")
        return "\n".join([*lines, super().summary(what)])


def skip_reason(row: GiasRow, policy: Policy) -> str | None:
    """Why a row of the LA is not a school the LA holds TSMs with (None: it is one)."""
    if row.closed:
        return SKIP_CLOSED
    if not row.open:
        return (
            SKIP_NOT_OPEN_YET
            if row.status.strip().lower() == "proposed to open"
            else f"with GIAS status '{row.status or '(none)'}' (not open)"
        )
    if not policy.covers_type(row.type_name):
        return f"{row.type_name or '(no type)'}: not a school a TSM covers"
    return None


async def ensure_la(session: AsyncSession, la_code: str, policy: Policy) -> LA:
    """The LA with ``la_code``; created from the policy (name, key, time zone) if missing."""
    la = (await session.exec(select(LA).where(LA.code == la_code))).first()
    if la is None:
        la = LA(code=la_code, name=policy.la_name, timezone=policy.timezone, policy=policy.key)
        session.add(la)
        await session.flush()
    return la


def gias_row_count(path: str | os.PathLike[str]) -> int:
    """Data rows in a GIAS file (a quick pass, for a progress bar's length)."""
    with open_text(path) as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


async def import_gias(
    db: Database,
    path: Source,
    *,
    la_code: str,
    policy: Policy,
    progress: Progress | None = None,
    actor: str = "system",
    booking=None,  # tsm.services.booking.BookingService: cancels the future TSMs of schools no longer open
) -> GiasImportReport:
    """Create or update (by URN) the LA's open schools, and their trusts, from a GIAS CSV.

    Only the establishment types the policy covers (``Policy.establishment_types``) and open ones are schools;
    the rest are reported as skipped with the reason. A stored school that GIAS now lists as closed (or of a type
    not covered) is made not open, and with ``booking`` its future TSMs are cancelled with the reason, which
    tells its officer and staff (domain events).

    ``progress(n)`` is called with the number of rows read since its previous call (every
    ``PROGRESS_EVERY`` rows and at the end), e.g. ``progress=bar.update``. Bad rows are reported
    by line number and the good rows are kept; everything is written in one transaction.
    """
    async with db.transaction() as session:
        report = await import_gias_in(
            session, path, la_code=la_code, policy=policy, progress=progress, actor=actor
        )
    if booking is not None and report.no_longer_open:
        from tsm.services.actors import Actor

        report.cancelled = len(
            await booking.cancel_for_schools_not_open(Actor.system(), report.no_longer_open)
        )
    return report


async def import_gias_in(
    session: AsyncSession,
    path: Source,
    *,
    la_code: str,
    policy: Policy,
    progress: Progress | None = None,
    actor: str = "system",
) -> GiasImportReport:
    """``import_gias`` inside the caller's transaction."""
    la_code = la_code.strip()
    report = GiasImportReport()
    problem = la_code_problem(la_code, also_allowed=(policy.la_code,) if policy.made_up_la else ())
    if problem:
        report.error(0, problem)
        return report
    rows: dict[int, tuple[int, GiasRow]] = {}
    closed: set[int] = set()  # not kept as schools: closed, not open yet, or a type a TSM does not cover
    pending = 0
    with open_text(path) as f:
        try:
            lines = read_columns(f, GIAS_COLUMNS, required=GIAS_REQUIRED, on_error=report.error)
        except MissingColumns as exc:
            report.error(1, f"not a GIAS establishment file: {exc}")
            return report
        for line, values in lines:
            pending += 1
            if pending >= PROGRESS_EVERY:
                if progress:
                    progress(pending)
                pending = 0
                await asyncio.sleep(0)
            if values["LA (code)"] != la_code:
                report.other_la += 1
                continue
            try:
                row = parse_gias_row(values)
            except ValueError as exc:
                report.error(line, str(exc))
                continue
            if row.urn in rows or row.urn in closed:
                report.error(line, f"URN {row.urn} appears more than once; the first row was kept")
                continue
            why = skip_reason(row, policy)
            if why is not None:
                closed.add(row.urn)
                report.closed += row.closed
                report.skip(why, row)
                continue
            rows[row.urn] = (line, row)
    if progress and pending:
        progress(pending)

    la = await ensure_la(session, la_code, policy)
    existing = {s.urn: s for s in await fetch_in(session, School.urn, [*rows, *closed], School)}

    trusts: dict[str, Trust] = {
        t.code: t
        for t in await fetch_in(
            session, Trust.code, {r.trust_code for _, r in rows.values() if r.trust_code}, Trust
        )
    }
    for _, row in rows.values():
        if not row.trust_code:
            continue
        trust = trusts.get(row.trust_code)
        if trust is None:
            trust = trusts[row.trust_code] = Trust(code=row.trust_code, name=row.trust_name or row.trust_code)
            session.add(trust)
        elif row.trust_name and assign(trust, name=row.trust_name):
            session.add(trust)

    allocated_here = {  # the trusts with an allocated officer in this LA (issue 15: per LA)
        t.trust_code
        for t in await fetch_in(session, TrustOfficer.trust_code, list(trusts), TrustOfficer)
        if t.la_id == la.id
    }
    for urn, (_line, row) in rows.items():
        school = existing.get(urn)
        is_new = school is None
        if school is None:
            school = School(urn=urn, la_id=la.id, name=row.name)
        changed = assign(
            school,
            la_id=la.id,
            name=row.name,
            type_name=row.type_name,
            type_group=row.type_group,
            phase_of_education=row.phase_of_education,
            phase=classify_phase(row.type_name, row.phase_of_education).value,
            trust_code=row.trust_code,
            trust_name=row.trust_name,
            street=row.street,
            town=row.town,
            postcode=row.postcode,
            pupils=row.pupils,
            open=True,
        )
        before = (school.booking_route, school.booking_route_reason)
        apply_booking_route(school, policy, trust_has_allocated_officer=row.trust_code in allocated_here)
        changed = changed or before != (school.booking_route, school.booking_route_reason)
        count(report, is_new=is_new, changed=changed)
        session.add(school)

    for urn in closed:
        school = existing.get(urn)
        if school is not None and school.open:
            school.open = False
            session.add(school)
            report.no_longer_open.append(school.id)

    await session.flush()
    audit(
        session,
        actor=actor,
        action="import_gias",
        entity="la",
        entity_id=la_code,
        report=report,
        source=path,
        closed=report.closed,
    )
    return report


# --------------------------------------------------------------------------------------------------
# Attendance

ATTENDANCE_COLUMNS = ("urn", "attendance_pct", "period")


def _route_state(school: School) -> tuple:
    return (
        school.attendance_pct,
        school.attendance_period,
        school.booking_route,
        school.booking_route_reason,
    )


def parse_percent(raw: str) -> float:
    text = raw.strip().rstrip("%").strip()
    if not text:
        raise ValueError("attendance_pct is missing")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"attendance_pct '{raw}' is not a number") from None
    if math.isnan(value) or not 0 <= value <= 100:
        raise ValueError(f"attendance_pct {raw} is not between 0 and 100")
    return value


async def import_attendance(db: Database, path: Source, *, actor: str = "system") -> ImportReport:
    """Set each school's latest attendance % (0-100, a school-level figure) and its period, by URN.

    CSV ``urn,attendance_pct,period``; the booking route is recomputed (it depends on attendance).
    """
    async with db.transaction() as session:
        return await import_attendance_in(session, path, actor=actor)


async def import_attendance_in(session: AsyncSession, path: Source, *, actor: str = "system") -> ImportReport:
    report = ImportReport()
    parsed: dict[int, tuple[int, float, str | None]] = {}
    with open_text(path) as f:
        try:
            lines = read_columns(
                f,
                ATTENDANCE_COLUMNS,
                required=("urn", "attendance_pct"),
                fold_case=True,
                on_error=report.error,
            )
        except MissingColumns as exc:
            report.error(1, str(exc))
            return report
        for line, v in lines:
            try:
                if not v["urn"]:
                    raise ValueError("urn is missing")
                urn = parse_int(v["urn"], "urn", lo=1)
                pct = parse_percent(v["attendance_pct"])
                period = check_length(v["period"], "period", 60) or None
            except ValueError as exc:
                report.error(line, str(exc))
                continue
            if parse_period(period) is None:
                report.notes.append(
                    f"line {line}: the period '{period or ''}' names no academic year (like 2024/25, or 2024/25 "
                    "autumn and spring terms): the figure is kept, but no national average can be compared with it, "
                    "so the school is asked for a TSM each term"
                )
            if urn in parsed:
                report.error(line, f"URN {urn} appears more than once; the first row was kept")
                continue
            parsed[urn] = (line, pct, period)

    schools = {s.urn: s for s in await fetch_in(session, School.urn, parsed, School)}
    found: list[tuple[School, tuple]] = []
    for urn, (line, pct, period) in parsed.items():
        school = schools.get(urn)
        if school is None:
            report.error(line, f"no school with URN {urn} (import the GIAS file first)")
            continue
        found.append((school, _route_state(school)))
        school.attendance_pct = pct
        school.attendance_period = period
    await refresh_booking_routes(session, [s for s, _ in found])
    for school, before in found:
        count(report, is_new=False, changed=before != _route_state(school))
    report.errors.sort()
    await session.flush()
    audit(
        session,
        actor=actor,
        action="import_attendance",
        entity="school",
        entity_id="*",
        report=report,
        source=path,
    )
    return report


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> io.StringIO:
    """An in-memory CSV (what the demo feeds the importers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    buf.seek(0)
    return buf
