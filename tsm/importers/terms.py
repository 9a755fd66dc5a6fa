"""Term dates: parse a CSV or iCalendar file into domain terms (pure), store them, load a TermCalendar.

CSV format (one row per term or break; blank lines and lines starting with ``#`` are skipped)::

    academic_year,term,start_date,end_date,kind,label
    2025-26,autumn,2025-09-03,2025-12-19,term,
    2025-26,autumn,2025-10-27,2025-10-31,half_term,October half term
    2025-26,,2025-11-28,2025-11-28,closure,INSET day

- ``academic_year``: ``2025-26`` (``2025/26`` accepted); empty means "the year of the dates".
- ``term``: ``autumn``/``spring``/``summer``, or Kent's numbered ``Term 1``..``Term 6`` (also ``1``..``6``,
  ``T1``) and ``Autumn 1``/``Autumn 2`` style halves. Two halves make one "old" term (Terms 1+2 =
  autumn, 3+4 = spring, 5+6 = summer) from the first's start to the second's end; the weekdays between
  them become its half term. On a break row the term is optional: empty means "found by date".
- ``start_date``/``end_date``: inclusive, ``YYYY-MM-DD`` (``DD/MM/YYYY`` accepted).
- ``kind``: ``term`` (the default when empty), ``half_term`` or ``closure`` (``INSET`` accepted).
- ``label``: optional, shown for closures ("INSET day").

iCalendar: each VEVENT is a term ("Autumn term", "Term 3", "Spring 2"), a half term ("Half term") or a
closure ("INSET day", "Closure"); holidays ("Christmas holidays", "Bank holiday") are skipped, since
days outside term and bank holidays are never bookable anyway. All-day DTEND is exclusive (RFC 5545).

Bad rows are reported as (line number, message) and left out; the good rows are kept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from ..adapters.db import directory
from ..adapters.db.engine import Database
from ..domain.model import DateRange, TermName
from ..domain.terms import TERM_ORDER, Break, Term, TermCalendar, academic_year_of
from .report import ImportReport

BREAK_KINDS = ("half_term", "closure")
_OLD_BY_NUMBER = (
    TermName.AUTUMN,
    TermName.AUTUMN,
    TermName.SPRING,
    TermName.SPRING,
    TermName.SUMMER,
    TermName.SUMMER,
)
_LONDON = ZoneInfo("Europe/London")


@dataclass
class TermImport:
    """What a term-dates file held: the valid terms (with their breaks) and the bad rows."""

    terms: list[Term]
    errors: list[tuple[int, str]] = field(default_factory=list)
    example: bool = False  # a '#' comment says EXAMPLE: the dates are made up, not published by an LA


class _RowError(ValueError):
    """A row that cannot be used; the message says why, in words an LA administrator understands."""


# --- term names --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TermRef:
    """A term as a file names it: a whole old term, or one half of a pair (Kent's Term 1..6, "Autumn 1")."""

    name: TermName
    half: int | None = None  # None: the whole term; 0 or 1: first or second half
    number: int | None = None  # Kent's term number 1..6, when named that way

    @property
    def display(self) -> str:
        if self.number is not None:
            return f"Term {self.number}"
        if self.half is not None:
            return f"{self.name.value} {self.half + 1}"
        return f"{self.name.value} term"

    @property
    def partner(self) -> _TermRef:
        assert self.half is not None
        other = 1 - self.half
        number = None if self.number is None else self.number - self.half + other
        return _TermRef(self.name, other, number)


def _numbered(n: int) -> _TermRef:
    return _TermRef(_OLD_BY_NUMBER[n - 1], (n - 1) % 2, n)


_EXACT_NUMBER = re.compile(r"^(?:term ?|t ?)?([1-6])$")
_EXACT_SEASON = re.compile(r"^(autumn|spring|summer)(?: term)?(?: ?([12]))?$")


def parse_term_name(text: str) -> _TermRef | None:
    """``autumn``, ``Autumn term``, ``Term 3``, ``3``, ``T3``, ``Spring 1`` -> the term; else None."""
    s = re.sub(r"[\s_\-]+", " ", text.strip().lower())
    if m := _EXACT_NUMBER.match(s):
        return _numbered(int(m[1]))
    if m := _EXACT_SEASON.match(s):
        return _TermRef(TermName(m[1]), None if m[2] is None else int(m[2]) - 1)
    return None


_SEARCH_NUMBER = re.compile(r"\b(?:term ?|t)([1-6])\b")
_SEARCH_SEASON = re.compile(r"\b(autumn|spring|summer)\b(?: term)?(?: ([12])\b)?")


def _term_in_summary(summary: str) -> _TermRef | None:
    """ "Spring 2"/"Summer term 1" (a half), else "Term 3"/"T3" (Kent's number), else "Autumn term"."""
    s = re.sub(r"[\s_\-]+", " ", summary.lower())
    season = _SEARCH_SEASON.search(s)
    if season and season[2]:
        return _TermRef(TermName(season[1]), int(season[2]) - 1)
    if m := _SEARCH_NUMBER.search(s):
        return _numbered(int(m[1]))
    return _TermRef(TermName(season[1])) if season else None


# --- one row -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    line: int
    kind: str  # term | half_term | closure
    year: str
    year_given: bool
    ref: _TermRef | None
    dates: DateRange
    label: str


_YEAR = re.compile(r"^(\d{4})\s*[-/]\s*(\d{2})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _parse_year(text: str) -> str | None:
    s = text.strip()
    if not s:
        return None
    m = _YEAR.match(s)
    if not m or (int(m[1]) + 1) % 100 != int(m[2]):
        raise _RowError(f"academic year '{s}' is not like 2025-26")
    return f"{m[1]}-{m[2]}"


def _parse_date(text: str, column: str) -> date:
    s = text.strip()
    if not s:
        raise _RowError(f"{column} is empty")
    if m := _ISO_DATE.match(s):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := _UK_DATE.match(s):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    else:
        raise _RowError(f"{column} '{s}' is not a date: use YYYY-MM-DD (or DD/MM/YYYY)")
    try:
        return date(y, mo, d)
    except ValueError:
        raise _RowError(f"{column} '{s}' is not a real date") from None


def _parse_kind(text: str) -> str:
    s = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if s in ("", "term"):
        return "term"
    if s in ("half_term", "halfterm"):
        return "half_term"
    if s in ("closure", "inset", "inset_day", "closed"):
        return "closure"
    raise _RowError(f"kind '{text.strip()}' is not one of term, half_term, closure")


def _make_row(
    line: int, kind: str, year: str | None, ref: _TermRef | None, first: date, last: date, label: str
) -> _Row:
    """The checks every row gets, whatever file it came from."""
    if last < first:
        raise _RowError(f"end date {last} is before start date {first}")
    if kind == "term" and ref is None:
        raise _RowError("a term row needs a term name (autumn, spring, summer or Term 1..6)")
    span = academic_year_of(first)
    if academic_year_of(last) != span:
        raise _RowError(f"{first} to {last} spans two academic years ({span} and {academic_year_of(last)})")
    if year is not None and year != span:
        raise _RowError(
            f"academic year {year} does not match the dates {first} to {last}, which are in {span}"
        )
    return _Row(line, kind, year or span, year is not None, ref, DateRange(first, last), label.strip())


# --- CSV ---------------------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("academic_year", "term", "start_date", "end_date")
OPTIONAL_COLUMNS = ("kind", "label")


def parse_terms_csv(text: str) -> TermImport:
    """Parse term dates in the CSV format above. Pure: no database, no clock."""
    text = text.removeprefix("\ufeff")
    errors: list[tuple[int, str]] = []
    example = False
    physical: list[int] = []  # physical line number of each line handed to the csv reader

    def lines() -> Iterator[str]:
        nonlocal example
        for n, line in enumerate(text.splitlines(keepends=True), 1):
            if line.lstrip().startswith("#"):
                example = example or bool(re.search(r"\bexample\b", line, re.IGNORECASE))
                continue
            physical.append(n)
            yield line

    reader = csv.reader(lines())
    header: list[str] | None = None
    header_line = 0
    rows: list[_Row] = []
    while True:
        before = len(physical)
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            errors.append(
                (physical[before] if before < len(physical) else len(physical), f"unreadable CSV: {e}")
            )
            continue
        line = physical[before]
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            header_line = line
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                errors.append(
                    (
                        line,
                        f"the header lacks {', '.join(missing)}: expected "
                        f"{','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
                    )
                )
                return TermImport([], errors, example)
            continue
        cells = dict(zip(header, (c.strip() for c in record), strict=False))
        if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
            errors.append((line, f"{len(record)} fields, but the header has {len(header)}"))
            continue
        try:
            kind = _parse_kind(cells.get("kind", ""))
            year = _parse_year(cells.get("academic_year", ""))
            term_text = cells.get("term", "")
            ref = parse_term_name(term_text) if term_text else None
            if term_text and ref is None:
                raise _RowError(f"unknown term name '{term_text}': use autumn, spring, summer or Term 1..6")
            first = _parse_date(cells.get("start_date", ""), "start_date")
            last = _parse_date(cells.get("end_date", ""), "end_date")
            rows.append(_make_row(line, kind, year, ref, first, last, cells.get("label", "")))
        except _RowError as e:
            errors.append((line, str(e)))
    if header is None:
        errors.append(
            (header_line or 1, f"no header row: expected {','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
        )
        return TermImport([], errors, example)
    terms = _assemble(rows, errors)
    return TermImport(terms, sorted(errors, key=lambda e: e[0]), example)


# --- iCalendar ---------------------------------------------------------------------------------------

_HALF_TERM = re.compile(r"half[\s\-]?term", re.IGNORECASE)
_CLOSURE = re.compile(
    r"\binset\b|closure|\bclosed\b|training day|staff development|non[\s\-]pupil day", re.IGNORECASE
)
_HOLIDAY = re.compile(r"holiday|vacation", re.IGNORECASE)
_YEAR_IN_TEXT = re.compile(r"\b(\d{4}\s*[-/]\s*\d{2})(?![-/\d])")


def _to_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(_LONDON) if value.tzinfo else value).date()
    return value


def _prop_value(ev, name: str):
    prop = ev.get(name)
    if prop is None:
        return None
    try:
        return prop.dt
    except Exception:  # icalendar keeps a malformed value and raises only when it is read
        raw = prop.to_ical().decode(errors="replace") if hasattr(prop, "to_ical") else str(prop)
        example = "DURATION:P5D" if name == "DURATION" else f"{name};VALUE=DATE:20250903"
        raise _RowError(f"{name} '{raw}' is not readable (write it like {example})") from None


def _event_dates(ev) -> tuple[date, date]:
    """First and last day (inclusive) of a VEVENT; all-day DTEND is the day after the last (RFC 5545)."""
    start = _prop_value(ev, "DTSTART")
    if start is None:
        raise _RowError("the event has no DTSTART")
    end, duration = _prop_value(ev, "DTEND"), _prop_value(ev, "DURATION")
    if end is None and duration is not None:
        end = start + duration
    if isinstance(start, datetime):  # a timed event: the days it touches
        first = _to_date(start)
        if end is None or end == start:
            return first, first
        if not isinstance(end, datetime):
            end = datetime.combine(end, datetime.min.time(), start.tzinfo)
        if end < start:
            raise _RowError(f"end {end} is before start {start}")
        return first, _to_date(end - timedelta(microseconds=1))
    if end is None or _to_date(end) == start:  # no end, or a producer writing DTEND = DTSTART: one day
        return start, start
    end_day = _to_date(end)
    if end_day < start:
        raise _RowError(f"end date {end_day} is before start date {start}")
    return start, end_day - timedelta(days=1)


def _ics_row(line: int, ev) -> _Row | None:
    summary = str(ev.get("SUMMARY", "")).strip()
    if ev.get("RRULE") is not None:
        raise _RowError(f"'{summary}' repeats (RRULE): give each term or break as its own event")
    if _HALF_TERM.search(summary):
        kind = "half_term"
    elif _CLOSURE.search(summary):
        kind = "closure"
    elif _HOLIDAY.search(summary):
        return None  # between terms, or a bank holiday: never bookable anyway
    else:
        kind = "term"
    ref = _term_in_summary(summary)
    if kind == "term" and ref is None:
        raise _RowError(
            f"cannot tell what '{summary}' is: expected a term ('Autumn term', 'Term 3'), "
            "'Half term' or 'INSET day'/'Closure'"
        )
    m = _YEAR_IN_TEXT.search(summary)
    year = _parse_year(m[1]) if m else None
    first, last = _event_dates(ev)
    return _make_row(line, kind, year, ref, first, last, summary if kind == "closure" else "")


def parse_terms_ics(data: bytes | str) -> TermImport:
    """Parse term dates from an iCalendar file. Pure: no database, no clock. Lines are those of BEGIN:VEVENT."""
    import icalendar

    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    event_lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().upper() == "BEGIN:VEVENT"]
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as e:
        return TermImport([], [(1, f"not a readable iCalendar file: {e}")])
    errors: list[tuple[int, str]] = []
    rows: list[_Row] = []
    for i, ev in enumerate(cal.walk("VEVENT")):
        line = event_lines[i] if i < len(event_lines) else 0
        try:
            row = _ics_row(line, ev)
        except (_RowError, ValueError, TypeError) as e:
            errors.append((line, str(e)))
            continue
        if row is not None:
            rows.append(row)
    name = str(cal.get("X-WR-CALNAME", "")) + " " + str(cal.get("X-WR-CALDESC", ""))
    example = bool(re.search(r"\bexample\b", name, re.IGNORECASE))
    terms = _assemble(rows, errors)
    return TermImport(terms, sorted(errors, key=lambda e: e[0]), example)


def parse_terms_file(path: str | Path) -> TermImport:
    """A ``.ics``/``.ical`` file through the iCalendar parser, anything else through the CSV parser."""
    p = Path(path)
    if p.suffix.lower() in (".ics", ".ical", ".ifb", ".icalendar"):
        return parse_terms_ics(p.read_bytes())
    return parse_terms_csv(p.read_text(encoding="utf-8-sig"))


# --- rows -> terms -----------------------------------------------------------------------------------


@dataclass
class _Built:
    year: str
    name: TermName
    dates: DateRange
    line: int
    breaks: list[Break] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name.value} term {self.year}"


def _fmt(r: DateRange) -> str:
    return f"{r.first} to {r.last}"


def _weekdays_between(after: date, before: date) -> DateRange | None:
    days = [after + timedelta(days=i) for i in range(1, (before - after).days)]
    days = [d for d in days if d.weekday() < 5]
    return DateRange(days[0], days[-1]) if days else None


def _assemble(rows: list[_Row], errors: list[tuple[int, str]]) -> list[Term]:
    """Group rows into old terms, validate them against each other, attach the breaks."""
    built: list[_Built] = []
    seen: dict[tuple[str, TermName], int] = {}  # line of the first row naming each old term
    halves: dict[tuple[str, TermName], list[_Row | None]] = {}
    for r in (r for r in rows if r.kind == "term"):
        assert r.ref is not None
        key = (r.year, r.ref.name)
        if r.ref.half is None:
            if key in seen:
                errors.append(
                    (r.line, f"{r.ref.name.value} term {r.year} is given twice (also line {seen[key]})")
                )
                continue
            seen[key] = r.line
            built.append(_Built(r.year, r.ref.name, r.dates, r.line))
        else:
            pair = halves.get(key)
            if pair is None and key in seen:  # the whole term is already given
                errors.append(
                    (
                        r.line,
                        f"{r.ref.name.value} term {r.year} is given twice "
                        f"(as {r.ref.display}; also line {seen[key]})",
                    )
                )
                continue
            if pair is not None and (other := pair[r.ref.half]) is not None:
                errors.append((r.line, f"{r.ref.display} {r.year} is given twice (also line {other.line})"))
                continue
            halves.setdefault(key, [None, None])[r.ref.half] = r
            seen.setdefault(key, r.line)
    for (year, name), (a, b) in halves.items():
        if a is None or b is None:
            one = a or b
            assert one is not None and one.ref is not None
            errors.append(
                (
                    one.line,
                    f"{one.ref.display} {year} has no {one.ref.partner.display}: numbered terms "
                    "come in pairs (Terms 1+2 = autumn, 3+4 = spring, 5+6 = summer)",
                )
            )
            continue
        assert a.ref is not None and b.ref is not None
        if b.dates.first <= a.dates.last:
            errors.append(
                (
                    b.line,
                    f"{b.ref.display} {year} starts on {b.dates.first}, "
                    f"before {a.ref.display} ends on {a.dates.last} (line {a.line})",
                )
            )
            continue
        t = _Built(year, name, DateRange(a.dates.first, b.dates.last), a.line)
        gap = _weekdays_between(a.dates.last, b.dates.first)
        if gap is not None:
            t.breaks.append(Break(gap, "half_term", f"half term between {a.ref.display} and {b.ref.display}"))
        built.append(t)

    # Terms must not overlap, and within a year come autumn, spring, summer.
    accepted: list[_Built] = []
    rejected: dict[tuple[str, TermName], int] = {}
    for t in sorted(built, key=lambda t: (t.dates.first, t.line)):
        clash = next(
            (o for o in accepted if o.dates.first <= t.dates.last and t.dates.first <= o.dates.last), None
        )
        if clash is not None:
            errors.append(
                (
                    t.line,
                    f"{t.label} ({_fmt(t.dates)}) overlaps {clash.label} "
                    f"({_fmt(clash.dates)}, line {clash.line})",
                )
            )
            rejected[(t.year, t.name)] = t.line
            continue
        later = next(
            (o for o in accepted if o.year == t.year and TERM_ORDER[o.name] > TERM_ORDER[t.name]), None
        )
        if later is not None:
            errors.append(
                (
                    t.line,
                    f"{t.label} starts on {t.dates.first}, after {later.label} "
                    f"starts on {later.dates.first} (line {later.line})",
                )
            )
            rejected[(t.year, t.name)] = t.line
            continue
        accepted.append(t)

    by_key = {(t.year, t.name): t for t in accepted}
    for r in (r for r in rows if r.kind != "term"):
        what = "half term" if r.kind == "half_term" else (r.label or "closure")
        if r.ref is not None:
            term = by_key.get((r.year, r.ref.name))
            if term is None:
                why = (
                    f"it has an error (line {rejected[(r.year, r.ref.name)]})"
                    if (r.year, r.ref.name) in rejected
                    else "it is not in this file"
                )
                errors.append(
                    (r.line, f"{what} {_fmt(r.dates)} names the {r.ref.name.value} term {r.year}, but {why}")
                )
                continue
        else:
            term = next(
                (t for t in accepted if r.dates.first in t.dates and (t.year == r.year or not r.year_given)),
                None,
            )
            if term is None:
                errors.append((r.line, f"{what} {_fmt(r.dates)} is not inside any term in this file"))
                continue
        if not (term.dates.first <= r.dates.first and r.dates.last <= term.dates.last):
            errors.append(
                (r.line, f"{what} {_fmt(r.dates)} is outside its term, the {term.label} ({_fmt(term.dates)})")
            )
            continue
        brk = Break(r.dates, r.kind, r.label)
        if not any(b.kind == brk.kind and b.dates == brk.dates for b in term.breaks):
            term.breaks.append(brk)

    return [
        Term(t.year, t.name, t.dates, tuple(sorted(t.breaks, key=lambda b: (b.dates.first, b.dates.last))))
        for t in accepted
    ]


# --- database ----------------------------------------------------------------------------------------


def _break_key(kind: str, first: date, last: date, label: str) -> tuple[str, date, date, str]:
    return (kind, first, last, label)


async def import_terms(db: Database, la_id: int, terms: Iterable[Term], *, source: str) -> ImportReport:
    """Upsert the LA's terms (by academic year and name) and replace their breaks, in one transaction.

    A term that would overlap another of the LA's terms (stored, or earlier in ``terms``) is not
    written: it is reported (line 0) and everything else goes ahead. Raises LookupError for an unknown LA.
    """
    report = ImportReport()
    source = source[:200]
    wanted: list[Term] = []
    for t in sorted(terms, key=lambda t: t.dates.first):
        if any((w.academic_year, w.name) == (t.academic_year, t.name) for w in wanted):
            report.error(0, f"{t.label} is given twice; the first one is used")
        else:
            wanted.append(t)

    async with db.transaction() as s:
        if await s.get(directory.LA, la_id) is None:
            raise LookupError(f"no LA with id {la_id}")
        stored = {
            (r.academic_year, r.name): r
            for r in await s.exec(select(directory.Term).where(directory.Term.la_id == la_id))
        }

        # Drop imported terms until the LA's resulting terms no longer overlap.
        while True:
            keys = {(t.academic_year, t.name.value) for t in wanted}
            kept = [
                (f"stored {r.name} term {r.academic_year}", DateRange(r.start_date, r.end_date), None)
                for k, r in stored.items()
                if k not in keys
            ]
            final = sorted(kept + [(t.label, t.dates, t) for t in wanted], key=lambda x: x[1].first)
            clash = next(
                (
                    (a, b)
                    for a, b in zip(final, final[1:], strict=False)
                    if b[1].first <= a[1].last and (a[2] or b[2])
                ),
                None,
            )
            if clash is None:
                break
            a, b = clash
            drop, other = (b, a) if b[2] is not None else (a, b)
            report.error(
                0, f"{drop[0]} ({_fmt(drop[1])}) overlaps the {other[0]} ({_fmt(other[1])}): not imported"
            )
            wanted.remove(drop[2])

        for t in wanted:
            row = stored.get((t.academic_year, t.name.value))
            new_breaks = sorted(_break_key(b.kind, b.dates.first, b.dates.last, b.label) for b in t.breaks)
            if row is None:
                row = directory.Term(
                    la_id=la_id,
                    academic_year=t.academic_year,
                    name=t.name.value,
                    start_date=t.dates.first,
                    end_date=t.dates.last,
                    source=source,
                )
                s.add(row)
                await s.flush()
                report.created += 1
            else:
                old = list(
                    await s.exec(select(directory.TermBreak).where(directory.TermBreak.term_id == row.id))
                )
                old_breaks = sorted(_break_key(b.kind, b.start_date, b.end_date, b.label) for b in old)
                if (row.start_date, row.end_date, row.source, old_breaks) == (
                    t.dates.first,
                    t.dates.last,
                    source,
                    new_breaks,
                ):
                    report.ok += 1
                    continue
                row.start_date, row.end_date, row.source = t.dates.first, t.dates.last, source
                s.add(row)
                for b in old:
                    await s.delete(b)
                await s.flush()
                report.updated += 1
            assert row.id is not None
            for kind, first, last, label in new_breaks:
                s.add(
                    directory.TermBreak(
                        term_id=row.id, kind=kind, start_date=first, end_date=last, label=label[:120]
                    )
                )
            report.ok += 1
    return report


async def import_terms_file(
    db: Database, la_id: int, path: str | Path, *, source: str | None = None
) -> ImportReport:
    """Parse a CSV/iCalendar file and import its good terms; the report carries the file's bad rows too.

    ``source`` defaults to the file name, or ``example`` when the file says its dates are made up.
    """
    parsed = parse_terms_file(path)
    if source is None:
        source = "example" if parsed.example else Path(path).name
    report = await import_terms(db, la_id, parsed.terms, source=source)
    report.errors[:0] = parsed.errors
    return report


async def load_calendar(db: Database, la_id: int) -> TermCalendar:
    """The LA's term calendar from its Term and TermBreak rows (each domain Term carries its row id)."""
    from ..services.reference import load_term_calendar

    async with db.reader() as s:
        return await load_term_calendar(s, la_id)
