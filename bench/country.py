"""A synthetic England on one PostgreSQL: what each sweep, the coverage report, a booking turn and one bot cost.

    .venv/bin/python bench/country.py [--scale 1.0] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                      [--db tsm_country] [--out var/country-<commit>-<scale>.json]

Builds the country in its own database (``--db``, default ``tsm_country``: dropped and made again on every run;
never the ``test`` database the test suite uses) through the product's Alembic migrations
(``tsm.adapters.db.migrate.upgrade``, what ``tsm db upgrade`` runs), then bulk-loads it with COPY into the
product's own tables (``tsm/adapters/db``). At ``--scale 1.0``: 150 LAs (Norfolk's, Kent's and the demo's rules),
750 officers (5 an LA, one an LA admin), 22,500 schools (150 an LA) with 2 to 3 contacts each, term dates for each
LA from 2023-24 to 2027-28 (each LA its own dates and half terms), bot conversations for part of the people,
officers' calendars, about 100,000 meetings from 2023-24 to this term (held, cancelled, no-shows, booked ahead)
with their schools, attendees, status changes, officer blocks and day seats, domain events, audit rows,
evaluations, TSM records and actions, chat offers, and the delivery ledger as it stands after the daily purge
(what was sent in the last 180 days: confirmations, reminders, meeting ends, next term's offers, evaluations,
term-start nudges, chasers, agendas, weekly lists; ~560,000 rows).

The clock is a ``tsm.clock.FixedClock`` given to the composition root (``tsm.composition.compose``, role
``worker``, with a messenger that answers "sent" at once, so what is measured is the sweeps and the composing of
their messages, not a channel). It stands at Thursday 26 November 2026 16:05 (after the officers' agenda hour).
For every sweep (the public methods of ``scheduler.jobs.Jobs`` and ``scheduler.feedback_jobs.FeedbackJobs``) it
prints the SQL statements (a SQLAlchemy ``before_cursor_execute`` listener on the product's engine) and the CPU
seconds of this process (``time.process_time``; PostgreSQL's own CPU is not in it, the wall time is shown beside)
of:

- an **idle** run: nothing due. Every sweep runs twice and the second run is measured (the first catches up on
  anything the seed left due: its claims are shown, and should be near 0);
- an **idle run an hour on**: nothing new, the clock an hour later, so sweeps that work out what is due once an
  hour do that pass (in a 5-minute cycle it comes once in twelve);
- a **busy** run: the clock moved on one day (Friday 16:05) and, in the data, 0.5% of schools booked in the last
  minutes (domain events not dispatched yet), 0.2% of the booked meetings' senior leaders declined, 1% of the
  unbooked schools got a new contact and some people who had missed messages installed the app; then each sweep
  once, measured. A day of meetings ended, reminders, agendas, record prompts and evaluation reminders fall due.

Then the coverage report (``tsm.services.reports.Reports.coverage``) for one LA and for every LA (n/a when the
code has no report across LAs), and the booking turns on this database against the SDK's echo bot through the
real HTTP server, with the client, fake connector and phases of ``bench/bot_turns.py`` (its bots' process started on
this database, clock at the same instant), and the resident memory (VmRSS, VmHWM) of that bots' process (our
server without the scheduler, plus the echo bot). Prints a table and writes the figures as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tsm.adapters.db.migrate import upgrade  # noqa: E402

LONDON = ZoneInfo("Europe/London")
T_IDLE = datetime(2026, 11, 26, 16, 5, tzinfo=UTC)  # a Thursday in the autumn term 2026-27, after 16:00
T_BUSY = T_IDLE + timedelta(days=1)  # the Friday: a day's work falls due
LEDGER_KEPT = timedelta(
    days=180
)  # the daily purge drops ledger rows finished longer ago (scheduler/ledger.py)
YEARS = (2023, 2024, 2025, 2026, 2027)  # academic years starting in these autumns
POLICIES = ("norfolk", "norfolk", "norfolk", "kent", "demo")
OFFICERS_PER_LA = 5
SCHOOLS_PER_LA = 150
PERIOD = "2024-25 autumn and spring terms"
AVERAGES = {"primary": 94.84, "secondary": 91.91, "special": 87.23}
SWEEPS = (
    "events",
    "reminders",
    "leader_unavailable",
    "officer_agendas",
    "unbooked_weekly",
    "term_start_nudges",
    "chasers",
    "meeting_ends",
    "late_installs",
    "retry_expired",
)
FEEDBACK_SWEEPS = ("record_prompts", "evaluation_reminders", "action_reminders", "purge")


def progress(what: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {what}", file=sys.stderr, flush=True)


def iso(dt: datetime) -> str:
    """A meeting's start as the ledger's ``ref`` writes it (``tsm.services.events.iso``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def weekday_on_or_after(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def la_codes(n: int) -> list[tuple[str, str]]:
    """The first ``n`` current English LA codes with their names (``tsm/data/english-la-codes.csv``), then made-up
    ones past the 153 real authorities."""
    path = ROOT / "tsm" / "data" / "english-la-codes.csv"
    out: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as f:
        for row in csv.reader(line for line in f if not line.startswith("#")):
            if len(row) >= 3 and row[0].strip().isdigit() and row[2].strip() == "current":
                out.append((row[0].strip(), row[1].strip()))
    for i in range(len(out), n):
        out.append((f"X{i:03d}", f"Synthetic LA {i}"))
    return out[:n]


# ---------------------------------------------------------------------------------------------------- the seed


@dataclass
class TermRow:
    id: int
    la: int
    year: int
    name: str
    start: date
    end: date
    breaks: list[tuple[date, date]]

    @property
    def academic_year(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d}"

    def days(self) -> list[date]:
        out, d = [], self.start
        while d <= self.end:
            if d.weekday() < 5 and not any(a <= d <= b for a, b in self.breaks):
                out.append(d)
            d += timedelta(days=1)
        return out


@dataclass
class SchoolRow:
    id: int
    la: int
    officer: int
    phase: str
    route: str  # self | contacted_directly
    termly: bool
    contacts: list[int]  # attendance lead, senior leader (, other)
    name: str
    address: str


@dataclass
class Country:
    """Ids and rows kept in memory while loading, and what the busy run adds later."""

    scale: float
    n_las: int
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    la_policy: dict[int, str] = field(default_factory=dict)
    la_code: dict[int, str] = field(default_factory=dict)
    officers: dict[int, list[int]] = field(default_factory=dict)  # la -> officer ids (first: the LA admin)
    terms: dict[int, list[TermRow]] = field(default_factory=dict)  # la -> terms in order
    schools: list[SchoolRow] = field(default_factory=list)
    free_slots: dict[tuple[int, int], list[datetime]] = field(
        default_factory=dict
    )  # (officer, term) -> starts
    booked_this_term: set[int] = field(default_factory=set)  # schools with an active meeting this term
    future_meetings: list[tuple[int, int]] = field(
        default_factory=list
    )  # (meeting id, senior leader's attendee id)
    missed: list[int] = field(
        default_factory=list
    )  # contacts with an undeliverable message and no conversation
    next_ids: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Ids:
    def __init__(self) -> None:
        self.n: dict[str, int] = defaultdict(int)

    def __call__(self, table: str) -> int:
        self.n[table] += 1
        return self.n[table]


def current_term(terms: list[TermRow], day: date) -> TermRow | None:
    return next((t for t in terms if t.start <= day <= t.end), None)


def slot_times(policy: str) -> tuple[dtime, ...]:
    """Starts 2.5 hours apart: a 90-minute meeting on site with its 30-minute travel buffers fits between two."""
    return (dtime(9, 0), dtime(13, 0)) if policy == "kent" else (dtime(9, 0), dtime(11, 30), dtime(14, 0))


def meeting_type(policy: str, phase: str) -> tuple[str, int]:
    if policy == "kent":
        return ("tsm", 90) if phase == "secondary" else ("tsm_short", 60)
    if phase == "secondary":
        return "secondary", 90
    return ("special", 60) if phase in ("special", "pru_ap") else ("primary", 60)


def seed(url: str, scale: float, rng: random.Random) -> Country:
    """Everything, with COPY, in one transaction; ids are given here (sequences set at the end)."""
    t0 = time.perf_counter()
    n_las = max(2, round(150 * scale))
    c = Country(scale, n_las)
    ids = Ids()
    today = T_IDLE.astimezone(LONDON).date()

    las, officers, trusts, schools, contacts, terms, breaks = [], [], [], [], [], [], []
    trust_officers: list[tuple] = []
    conversations, cal_events = [], []
    for li, (code, name) in enumerate(la_codes(n_las)):
        la = li + 1
        policy = POLICIES[li % len(POLICIES)]
        c.la_policy[la], c.la_code[la] = policy, code
        las.append((la, code, name, "Europe/London", policy))
        c.officers[la] = []
        for k in range(OFFICERS_PER_LA):
            oid = ids("officer")
            c.officers[la].append(oid)
            email = f"officer{oid}@la{code.lower()}.example"
            officers.append((oid, la, f"Officer {oid}", email, email, f"Area {k + 1}", k == 0, True))
            if rng.random() < 0.9:
                conversations.append(("officer", oid))
        # Term dates: each LA its own (a few days apart), with half terms.
        c.terms[la] = []
        d = li % 4
        for y in YEARS:
            spans = (
                ("autumn", date(y, 9, 1 + d), date(y, 12, 16 + d % 3), date(y, 10, 26)),
                ("spring", date(y + 1, 1, 4 + d % 3), date(y + 1, 3, 26 + d % 3), date(y + 1, 2, 15)),
                ("summer", date(y + 1, 4, 13 + d), date(y + 1, 7, 18 + d % 3), date(y + 1, 5, 27)),
            )
            for tname, a, b, half in spans:
                tid = ids("term")
                hs = monday_of(half) + timedelta(days=7 * (d % 2))
                t = TermRow(tid, la, y, tname, weekday_on_or_after(a), b, [(hs, hs + timedelta(days=4))])
                c.terms[la].append(t)
                terms.append((tid, la, t.academic_year, tname, t.start, t.end, "bench: made up"))
                breaks.append((ids("term_break"), tid, "half_term", hs, hs + timedelta(days=4), "Half term"))
        # Trusts: 6 an LA, the first with an allocated officer (its schools are contacted directly, Norfolk's rule).
        la_trusts = [f"T{code}{k}" for k in range(6)]
        for k, tc in enumerate(la_trusts):
            trusts.append((tc, f"Trust {tc}", c.officers[la][1] if k == 0 else None))
            if k == 0:
                trust_officers.append((tc, la, c.officers[la][1]))
        for k in range(SCHOOLS_PER_LA):
            sid = ids("school")
            officer = c.officers[la][k % OFFICERS_PER_LA]
            r = rng.random()
            trust = None
            if r < 0.62:
                phase, pname = "primary", "Primary"
                academy = rng.random() < 0.4
                tname_, group = (
                    ("Academy converter", "Academies")
                    if academy
                    else ("Community school", "Local authority maintained schools")
                )
            elif r < 0.80:
                phase, pname = "secondary", "Secondary"
                academy = rng.random() < 0.8
                tname_, group = (
                    ("Academy converter", "Academies")
                    if academy
                    else ("Foundation school", "Local authority maintained schools")
                )
            elif r < 0.88:
                phase, pname = "special", "Not applicable"
                academy = rng.random() < 0.3
                tname_, group = (
                    ("Academy special converter", "Academies")
                    if academy
                    else ("Community special school", "Special schools")
                )
            elif r < 0.91:
                phase, pname, academy = "pru_ap", "Not applicable", False
                tname_, group = "Pupil referral unit", "Local authority maintained schools"
            elif r < 0.93:
                phase, pname, academy = "nursery", "Nursery", False
                tname_, group = "Local authority nursery school", "Local authority maintained schools"
            else:
                phase, pname, academy = "other", "Not applicable", False
                tname_, group = "Other independent school", "Independent schools"
            if academy:
                trust = la_trusts[rng.randrange(len(la_trusts))]
            if (
                group == "Independent schools"
                or tname_ == "Community special school"
                or trust == la_trusts[0]
            ):
                route = "contacted_directly"
            else:
                route = "self"
            avg = AVERAGES.get(phase)
            pct = None
            if avg is not None and rng.random() < 0.92:
                pct = round(avg + rng.gauss(0.3, 1.6), 1)
            # Wanted each term (the profiles' rules): Kent's every school; elsewhere below the national average,
            # no figure or no average to compare with, secondaries (encouraged), nurseries and PRUs.
            termly = (
                policy == "kent" or phase in ("secondary", "nursery", "pru_ap") or pct is None or pct < avg
            )
            name = f"School {sid} {pname if pname != 'Not applicable' else tname_}"
            street, town, postcode = f"{sid} School Lane", f"Town {la}", f"AB{la % 99} {sid % 9}CD"
            schools.append(
                (
                    sid,
                    100000 + sid,
                    la,
                    name,
                    tname_,
                    group,
                    pname,
                    phase,
                    trust,
                    f"Trust {trust}" if trust else None,
                    street,
                    town,
                    postcode,
                    rng.randint(40, 1600),
                    pct,
                    PERIOD if pct is not None else None,
                    route,
                    "" if route == "self" else "contacted directly",
                    officer,
                    True,
                )
            )
            mine = []
            for role in ("attendance_lead", "senior_leader") + (("other",) if rng.random() < 0.3 else ()):
                cid = ids("school_contact")
                mine.append(cid)
                contacts.append((cid, sid, f"Contact {cid}", f"c{cid}@school{sid}.example", role, True))
                if rng.random() < 0.4:
                    conversations.append(("contact", cid))
            c.schools.append(
                SchoolRow(sid, la, officer, phase, route, termly, mine, name, f"{street}, {town}, {postcode}")
            )

    with psycopg.connect(url) as conn, conn.cursor() as cur:

        def copy(table: str, columns: str, rows) -> None:
            """COPY the rows; a column this revision of the schema does not have (yet, or any more) is left out."""
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
            have = {r[0] for r in cur.fetchall()}
            if not have:
                return  # no such table in this revision
            names = [x.strip() for x in columns.split(",")]
            keep = [i for i, x in enumerate(names) if x.strip('"') in have]
            listed = ", ".join(names[i] for i in keep)
            n = 0
            with cur.copy(f"COPY {table} ({listed}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row if len(keep) == len(names) else [row[i] for i in keep])
                    n += 1
            c.rows[table] += n

        copy("la", "id, code, name, timezone, policy", las)
        copy("officer", "id, la_id, name, email, mailbox, area, is_admin, active", officers)
        copy("trust", "code, name, allocated_officer_id", trusts)
        # Since migration 0015 a trust's allocated officer is per LA (trust_officer); older schemas have no such table.
        copy("trust_officer", "trust_code, la_id, officer_id", trust_officers)
        copy(
            "school",
            "id, urn, la_id, name, type_name, type_group, phase_of_education, phase, trust_code, trust_name, street, "
            "town, postcode, pupils, attendance_pct, attendance_period, booking_route, booking_route_reason, "
            "link_officer_id, open",
            schools,
        )
        copy("school_contact", "id, school_id, name, email, role, active", contacts)
        copy("term", "id, la_id, academic_year, name, start_date, end_date, source", terms)
        copy("term_break", "id, term_id, kind, start_date, end_date, label", breaks)

        conv_rows = []
        with_conversation: set[tuple[str, int]] = set()
        for kind, pid in conversations:
            cid = ids("bot_conversation")
            with_conversation.add((kind, pid))
            conv_id = f"a:bench-{kind}-{pid}"
            ref = {
                "activityId": None,
                "user": {"id": f"29:{kind}-{pid}", "aadObjectId": f"aad-{kind}-{pid}"},
                "bot": {"id": "28:bench-bot"},
                "conversation": {"id": conv_id, "conversationType": "personal", "tenantId": "bench"},
                "channelId": "msteams",
                "serviceUrl": "https://smba.trafficmanager.net/uk/",
            }
            conv_rows.append(
                (
                    cid,
                    conv_id,
                    "personal",
                    "bench",
                    f"aad-{kind}-{pid}",
                    f"29:{kind}-{pid}",
                    "https://smba.trafficmanager.net/uk/",
                    "msteams",
                    "28:bench-bot",
                    json.dumps(ref),
                    pid if kind == "contact" else None,
                    pid if kind == "officer" else None,
                    True,
                    None,
                    "",
                    naive(T_IDLE - timedelta(days=rng.randint(1, 400))),
                )
            )
        copy(
            "bot_conversation",
            "id, conversation_id, conversation_type, tenant_id, aad_object_id, user_id, service_url, channel_id, "
            "bot_id, reference, contact_id, officer_id, installed, blocked_at, last_error, updated_at",
            conv_rows,
        )

        # Meetings: past academic years and this term; a few booked for next term at the end of this one.
        meetings, mschools, attendees, changes, blocks, seats, events, audits = [], [], [], [], [], [], [], []
        evaluations, receipts, records, actions, offers, ledger = [], [], [], [], [], []
        day_seat: dict[tuple[int, date], int] = defaultdict(int)
        kept_from = T_IDLE - LEDGER_KEPT

        def out(kind, skind, sid_, rkind, rid, ref, at, status="sent", error=""):
            ledger.append(
                (
                    kind,
                    skind,
                    sid_,
                    rkind,
                    rid,
                    ref,
                    status,
                    "bench",
                    None,
                    1,
                    naive(at),
                    naive(at) if status == "sent" else None,
                    error,
                )
            )

        def slot_for(s: SchoolRow, t: TermRow) -> datetime | None:
            key = (s.officer, t.id)
            if key not in c.free_slots:
                starts = [
                    datetime.combine(d, hm, tzinfo=LONDON).astimezone(UTC)
                    for d in t.days()
                    for hm in slot_times(c.la_policy[s.la])
                ]
                rng.shuffle(starts)
                c.free_slots[key] = starts
            free = c.free_slots[key]
            return free.pop() if free else None

        for s in c.schools:
            policy = c.la_policy[s.la]
            lead, senior = s.contacts[0], s.contacts[1]
            mtype, minutes = meeting_type(policy, s.phase)
            terms_ = c.terms[s.la]
            now_term = current_term(terms_, today)
            yearly_term = {y: rng.randrange(3) for y in YEARS}
            next_term = terms_[terms_.index(now_term) + 1] if now_term else None
            for ti, t in enumerate(terms_):
                if t.start > today and t is not next_term:
                    continue
                is_now, is_next = t is now_term, t.start > today
                if s.route == "contacted_directly":
                    p = 0.55
                elif s.termly:
                    p = 0.75
                else:
                    p = 0.8 if ti % 3 == yearly_term[t.year] else 0.0
                if t.year == YEARS[0]:
                    p *= 0.5  # fewer LAs used the product in its first year
                if is_next:
                    p *= 0.15  # booked at the end of this term's meeting
                if rng.random() >= p:
                    continue
                start = slot_for(s, t)
                if start is None:
                    continue
                end = start + timedelta(minutes=minutes)
                created = max(
                    datetime.combine(t.start, dtime(8), tzinfo=UTC) - timedelta(days=20),
                    start - timedelta(days=rng.randint(7, 45)),
                )
                if created >= T_IDLE:
                    created = T_IDLE - timedelta(hours=rng.randint(2, 48))
                if end <= T_IDLE - timedelta(minutes=30):
                    roll = rng.random()
                    status = "held" if roll < 0.9 else ("cancelled" if roll < 0.97 else "no_show")
                elif start <= T_IDLE:
                    status = "held"
                else:
                    status = "cancelled" if rng.random() < 0.03 else "booked"
                mid = ids("meeting")
                mode = "teams" if rng.random() < 0.6 else "on_site"
                officer_actor = s.route != "self"
                booked_by = f"officer:{s.officer}" if officer_actor else f"contact:{lead}"
                meetings.append(
                    (
                        mid,
                        s.officer,
                        t.id,
                        naive(start),
                        naive(end),
                        mode,
                        mtype,
                        status,
                        "Microsoft Teams" if mode == "teams" else s.address,
                        f"https://teams.microsoft.com/l/meetup-join/bench-{mid}" if mode == "teams" else None,
                        booked_by,
                        None,
                        f"bench-{mid}@tsm.example",
                        0,
                        naive(created),
                        naive(created),
                    )
                )
                active = status in ("booked", "held")
                mschools.append((mid, s.id, t.id, t.id if active else None))
                if active and (is_now or is_next):
                    if is_now:
                        c.booked_this_term.add(s.id)
                a_lead, a_senior = ids("meeting_attendee"), ids("meeting_attendee")
                response = "accepted" if rng.random() < 0.5 else "none"
                attendees.append(
                    (
                        a_lead,
                        mid,
                        lead,
                        f"Contact {lead}",
                        f"c{lead}@school{s.id}.example",
                        "attendance_lead",
                        False,
                        response,
                    )
                )
                attendees.append(
                    (
                        a_senior,
                        mid,
                        senior,
                        f"Contact {senior}",
                        f"c{senior}@school{s.id}.example",
                        "senior_leader",
                        True,
                        response,
                    )
                )
                if status == "booked":
                    c.future_meetings.append((mid, a_senior))
                changes.append(
                    (
                        ids("meeting_status_change"),
                        mid,
                        "booked",
                        naive(created),
                        booked_by,
                        "",
                        naive(start),
                        naive(end),
                    )
                )
                ev_kind = "proposed" if officer_actor else "booked"
                ev = ids("domain_event")
                events.append(
                    (
                        ev,
                        ev_kind,
                        mid,
                        None,
                        booked_by,
                        naive(created),
                        json.dumps({"start": iso(start)}),
                        naive(created + timedelta(seconds=5)),
                    )
                )
                audits.append(
                    (
                        ids("audit_log"),
                        naive(created),
                        booked_by,
                        "meeting.book",
                        "meeting",
                        str(mid),
                        json.dumps({"schools": [s.id], "start": start.isoformat(), "mode": mode}),
                    )
                )
                if active and t.year >= 2026:  # this academic year's meetings hold their officer's time
                    buffer = timedelta(minutes=30 if mode == "on_site" else 0)
                    b = start - buffer
                    while b < end + buffer:
                        blocks.append((s.officer, naive(b), mid))
                        b += timedelta(minutes=5)
                    day = start.astimezone(LONDON).date()
                    day_seat[(s.officer, day)] += 1
                    seats.append((s.officer, day, day_seat[(s.officer, day)], mid))
                    cal_events.append(
                        (
                            s.officer,
                            naive(start),
                            naive(end),
                            f"TSM: {s.name}",
                            "",
                            "busy",
                            mid,
                            f"bench-{mid}@tsm.example",
                            False,
                        )
                    )
                recent = created >= kept_from
                people = [("contact", lead), ("contact", senior)]
                if recent:
                    msg = "proposal" if officer_actor else "confirm"
                    for rk, rid in people:
                        out(f"ev.{msg}", "event", ev, rk, rid, iso(start), created + timedelta(seconds=10))
                    out(
                        "ev.school_booked" if not officer_actor else "ev.confirm",
                        "event",
                        ev,
                        "officer",
                        s.officer,
                        iso(start),
                        created + timedelta(seconds=10),
                    )
                if status == "cancelled":
                    at = min(start - timedelta(days=2), T_IDLE - timedelta(hours=1))
                    changes.append(
                        (
                            ids("meeting_status_change"),
                            mid,
                            "cancelled",
                            naive(at),
                            f"contact:{lead}",
                            "Ofsted visit",
                            None,
                            None,
                        )
                    )
                    cev = ids("domain_event")
                    events.append(
                        (
                            cev,
                            "cancelled",
                            mid,
                            None,
                            f"contact:{lead}",
                            naive(at),
                            json.dumps({"reason": "Ofsted visit"}),
                            naive(at),
                        )
                    )
                    if at >= kept_from:
                        out("ev.cancelled", "event", cev, "officer", s.officer, iso(start), at)
                    continue
                for lead_days, kind in ((7, "remind_7d"), (1, "remind_1d")):
                    due_at = start - timedelta(days=lead_days)
                    if due_at <= T_IDLE and due_at >= kept_from and created <= due_at:
                        for rk, rid in people:
                            # Some found no conversation (the person has not installed the app): kept undeliverable,
                            # sent by late_installs once they install it while still useful (before the meeting).
                            missed = (
                                kind == "remind_7d"
                                and start > T_BUSY + timedelta(days=1)
                                and (rk, rid) not in with_conversation
                                and rng.random() < 0.3
                            )
                            if missed:
                                c.missed.append(rid)
                            out(
                                kind,
                                "meeting",
                                mid,
                                rk,
                                rid,
                                iso(start),
                                due_at + timedelta(minutes=1),
                                *(("undeliverable", "no_conversation") if missed else ()),
                            )
                if end > T_IDLE:
                    continue
                ended = end + timedelta(minutes=30)
                day = start.astimezone(LONDON).date()
                changes.append(
                    (ids("meeting_status_change"), mid, status, naive(ended), "system", "", None, None)
                )
                hev = ids("domain_event")
                events.append(
                    (
                        hev,
                        "ended" if status == "held" else "no_show",
                        mid,
                        None,
                        "system",
                        naive(ended),
                        None,
                        naive(ended),
                    )
                )
                if status != "held":
                    continue
                if ended >= kept_from:
                    out("meeting_end", "meeting", mid, "officer", s.officer, iso(start), ended)
                    for rk, rid in [("officer", s.officer), *people]:
                        out("next_tsm_offer", "meeting", mid, rk, rid, iso(start), ended)
                    for rk, rid in people:
                        out("evaluation", "meeting", mid, rk, rid, iso(start), ended)
                    out("record_prompt", "meeting", mid, "officer", s.officer, iso(start), ended)
                answered = set()
                for rk, rid in people:
                    if rng.random() < 0.45:
                        answered.add(rid)
                        anon = rng.random() < 0.3
                        evaluations.append(
                            (
                                uuid.uuid4().hex,
                                mid,
                                None if anon else rid,
                                anon,
                                *(rng.randint(3, 5) for _ in range(4)),
                                "",
                                None,
                                day,
                                False,
                            )
                        )
                        receipts.append((mid, rid, day))
                    elif ended + timedelta(days=3) <= T_IDLE and ended >= kept_from:
                        out(
                            "evaluation_reminder",
                            "meeting",
                            mid,
                            rk,
                            rid,
                            iso(start),
                            ended + timedelta(days=3),
                        )
                if rng.random() < 0.7 and ended <= T_IDLE - timedelta(hours=2):
                    rec = ids("tsm_record")
                    pct = round(AVERAGES.get(s.phase, 90.0) + rng.gauss(0, 2), 1)
                    records.append(
                        (
                            rec,
                            mid,
                            pct,
                            rng.randint(5, 60),
                            rng.randint(0, 10),
                            "Lead practitioner",
                            "",
                            f"officer:{s.officer}",
                            f"officer:{s.officer}",
                            naive(ended),
                            naive(ended),
                        )
                    )
                    for pos in range(rng.randint(0, 2)):
                        aid = ids("record_action")
                        due = day + timedelta(days=rng.randint(14, 56))
                        owner = "school" if rng.random() < 0.6 else "la"
                        done = due < today - timedelta(days=14) and rng.random() < 0.8
                        actions.append(
                            (
                                aid,
                                rec,
                                pos,
                                "Agreed action",
                                owner,
                                "",
                                due,
                                naive(datetime.combine(due, dtime(12), tzinfo=UTC)) if done else None,
                                "officer" if done else "",
                            )
                        )
                        if not done and today - timedelta(days=14) <= due <= today + timedelta(days=8):
                            for rk, rid in people if owner == "school" else [("officer", s.officer)]:
                                out(
                                    "action_reminder",
                                    "action",
                                    aid,
                                    rk,
                                    rid,
                                    due.isoformat(),
                                    T_IDLE - timedelta(days=1),
                                )
            # This term's offers (the times a card showed), kept 30 days after they expired.
            if now_term and rng.random() < 0.5:
                made = T_IDLE - timedelta(days=rng.randint(0, 29), hours=rng.randint(0, 12))
                offers.append(
                    (
                        uuid.uuid4().hex,
                        "book",
                        f"contact:{lead}",
                        json.dumps([s.id]),
                        None,
                        now_term.id,
                        "teams",
                        mtype,
                        minutes,
                        "Europe/London",
                        json.dumps([int((made + timedelta(days=k + 3)).timestamp() // 60) for k in range(5)]),
                        json.dumps({}),
                        naive(made),
                        naive(made + timedelta(hours=24)),
                    )
                )

        # Term-start nudges and chasers (this term and last, within the ledger's 180 days), weekly lists, agendas.
        by_la: dict[int, list[SchoolRow]] = defaultdict(list)
        for s in c.schools:
            by_la[s.la].append(s)
        for la, terms_ in c.terms.items():
            for t in terms_:
                first = datetime.combine(t.start, dtime(8), tzinfo=UTC)
                if first > T_IDLE or first + timedelta(days=120) < kept_from:
                    continue
                for s in by_la[la]:
                    if t is current_term(terms_, today) and s.id in c.booked_this_term and rng.random() < 0.5:
                        continue  # booked before term started: no nudge
                    if s.route == "self":
                        for cid in s.contacts[:2]:
                            out("term_start", "school", s.id, "contact", cid, str(t.id), first)
                    else:
                        out("term_start_officer", "school", s.id, "officer", s.officer, str(t.id), first)
                    chase = first + timedelta(weeks=3)
                    if chase <= T_IDLE and s.id not in c.booked_this_term:
                        if s.route == "self":
                            for cid in s.contacts[:2]:
                                out("chaser", "school", s.id, "contact", cid, str(t.id), chase)
                        out("chaser_officer", "school", s.id, "officer", s.officer, str(t.id), chase)
                week = monday_of(t.start)
                while datetime.combine(week, dtime(8), tzinfo=UTC) <= min(
                    T_IDLE, datetime.combine(t.end, dtime(8), tzinfo=UTC)
                ):
                    at = datetime.combine(week, dtime(8), tzinfo=UTC)
                    if at >= kept_from and week >= t.start - timedelta(days=6):
                        iy, iw, _ = week.isocalendar()
                        for oid in c.officers[la]:
                            out(
                                "unbooked_weekly",
                                "officer",
                                oid,
                                "officer",
                                oid,
                                f"{t.id}:{iy}-W{iw:02d}",
                                at,
                            )
                    week += timedelta(days=7)
        agenda_days = {(oid, d) for (oid, d) in day_seat}
        for oid, d in agenda_days:
            at = datetime.combine(d - timedelta(days=1), dtime(16), tzinfo=UTC)
            if kept_from <= at <= T_IDLE:
                out("agenda", "officer", oid, "officer", oid, d.isoformat(), at)
        copy(
            "meeting",
            'id, officer_id, term_id, start, "end", mode, meeting_type, status, location, join_url, booked_by, '
            "calendar_event_id, ical_uid, ical_sequence, created_at, updated_at",
            meetings,
        )
        copy("meeting_school", "meeting_id, school_id, term_id, active_term_id", mschools)
        copy(
            "meeting_attendee", "id, meeting_id, contact_id, name, email, role, required, response", attendees
        )
        copy("meeting_status_change", 'id, meeting_id, status, at, actor, reason, start, "end"', changes)
        copy("officer_block", "officer_id, block_start, meeting_id", blocks)
        copy("officer_day_load", "officer_id, day, seat, meeting_id", seats)
        busy_events = []
        for oid in range(1, c.n_las * OFFICERS_PER_LA + 1):  # the officers' own appointments this year
            for _ in range(40):
                d = date(2026, 9, 7) + timedelta(days=rng.randint(0, 300))
                if d.weekday() >= 5:
                    continue
                st = datetime.combine(d, dtime(rng.choice((9, 10, 14, 15))), tzinfo=LONDON)
                busy_events.append(
                    (oid, naive(st), naive(st + timedelta(minutes=60)), "Busy", "", "busy", None, None, False)
                )
        copy(
            "calendar_event",
            'officer_id, start, "end", subject, location, show_as, meeting_id, ical_uid, cancelled',
            cal_events + busy_events,
        )
        copy("domain_event", "id, kind, meeting_id, school_id, actor, at, data, dispatched_at", events)
        copy("audit_log", "id, at, actor, action, entity, entity_id, detail", audits)
        copy(
            "evaluation",
            "id, meeting_id, contact_id, anonymous, usefulness, working_together, clarity, overall, comments, "
            "edit_token_hash, submitted_on, purged",
            evaluations,
        )
        copy("evaluation_receipt", "meeting_id, contact_id, answered_on", receipts)
        copy(
            "tsm_record",
            "id, meeting_id, attendance_pct, pa_count, sa_count, lead_practitioner, notes, created_by, updated_by, "
            "created_at, updated_at",
            records,
        )
        copy(
            "record_action",
            "id, record_id, position, text, owner, owner_detail, due_date, done_at, done_by",
            actions,
        )
        copy(
            "chat_offer",
            "id, kind, actor_key, school_ids, meeting_id, term_id, mode, meeting_type, duration_minutes, timezone, "
            "slots, context, created_at, expires_at",
            offers,
        )
        copy(
            "outbound",
            "kind, subject_kind, subject_id, recipient_kind, recipient_id, ref, status, claimed_by, lease_until, "
            "attempts, created_at, sent_at, last_error",
            _unique_ledger(ledger),
        )
        for table in (
            "la officer school school_contact term term_break bot_conversation meeting meeting_attendee "
            "meeting_status_change calendar_event domain_event audit_log tsm_record record_action outbound"
        ).split():
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        conn.commit()
    c.next_ids = dict(ids.n)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    c.seconds = time.perf_counter() - t0
    return c


def _unique_ledger(rows):
    seen = set()
    for r in rows:
        key = r[:6]
        if key not in seen:
            seen.add(key)
            yield r


def make_busy(url: str, c: Country, rng: random.Random) -> dict[str, int]:
    """What happens during the day to T_BUSY that the sweeps must notice (the rest falls due with the clock)."""
    now = T_BUSY - timedelta(minutes=10)
    made = {"bookings": 0, "leaders_declined": 0, "new_contacts": 0, "installed": 0}
    today = T_IDLE.astimezone(LONDON).date()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(id) FROM meeting")
        mid = cur.fetchone()[0]
        cur.execute("SELECT max(id) FROM meeting_attendee")
        aid = cur.fetchone()[0]
        cur.execute("SELECT max(id) FROM domain_event")
        eid = cur.fetchone()[0]
        cur.execute("SELECT max(id) FROM school_contact")
        cid = cur.fetchone()[0]
        unbooked = [s for s in c.schools if s.id not in c.booked_this_term and s.route == "self"]
        rng.shuffle(unbooked)
        for s in unbooked[: max(1, round(0.005 * len(c.schools)))]:
            t = current_term(c.terms[s.la], today)
            if t is None:
                continue
            starts = sorted(
                x for x in c.free_slots.get((s.officer, t.id), []) if x > T_BUSY + timedelta(days=3)
            )
            if not starts:
                continue
            start = starts[0]
            c.free_slots[(s.officer, t.id)].remove(start)
            mtype, minutes = meeting_type(c.la_policy[s.la], s.phase)
            end = start + timedelta(minutes=minutes)
            mid, eid = mid + 1, eid + 1
            cur.execute(
                'INSERT INTO meeting (id, officer_id, term_id, start, "end", mode, meeting_type, status, location, '
                "join_url, booked_by, ical_uid, ical_sequence, created_at, updated_at) VALUES "
                "(%s, %s, %s, %s, %s, 'teams', %s, 'booked', 'Microsoft Teams', %s, %s, %s, 0, %s, %s)",
                (
                    mid,
                    s.officer,
                    t.id,
                    naive(start),
                    naive(end),
                    mtype,
                    f"https://teams.microsoft.com/l/bench-{mid}",
                    f"contact:{s.contacts[0]}",
                    f"bench-{mid}@tsm.example",
                    naive(now),
                    naive(now),
                ),
            )
            cur.execute("INSERT INTO meeting_school VALUES (%s, %s, %s, %s)", (mid, s.id, t.id, t.id))
            for role, contact in (("attendance_lead", s.contacts[0]), ("senior_leader", s.contacts[1])):
                aid += 1
                cur.execute(
                    "INSERT INTO meeting_attendee (id, meeting_id, contact_id, name, email, role, required, response) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, 'none')",
                    (
                        aid,
                        mid,
                        contact,
                        f"Contact {contact}",
                        f"c{contact}@school{s.id}.example",
                        role,
                        role == "senior_leader",
                    ),
                )
            b = start
            while b < end:
                cur.execute("INSERT INTO officer_block VALUES (%s, %s, %s)", (s.officer, naive(b), mid))
                b += timedelta(minutes=5)
            cur.execute(
                'INSERT INTO calendar_event (officer_id, start, "end", subject, location, show_as, meeting_id, ical_uid, '
                "cancelled) VALUES (%s, %s, %s, %s, '', 'busy', %s, %s, false)",
                (s.officer, naive(start), naive(end), f"TSM: {s.name}", mid, f"bench-{mid}@tsm.example"),
            )
            cur.execute(
                "INSERT INTO domain_event (id, kind, meeting_id, actor, at, data) VALUES (%s, 'booked', %s, %s, %s, %s)",
                (eid, mid, f"contact:{s.contacts[0]}", naive(now), json.dumps({"start": iso(start)})),
            )
            made["bookings"] += 1
        future = [m for m in c.future_meetings]
        rng.shuffle(future)
        for _meeting, senior_attendee in future[: max(1, round(0.002 * len(c.schools)))]:
            cur.execute("UPDATE meeting_attendee SET response = 'declined' WHERE id = %s", (senior_attendee,))
            made["leaders_declined"] += 1
        wanted = [s for s in c.schools if s.id not in c.booked_this_term and s.route == "self" and s.termly]
        for s in wanted[: max(1, round(0.01 * len(c.schools)))]:
            cid += 1
            cur.execute(
                "INSERT INTO school_contact (id, school_id, name, email, role, active) "
                "VALUES (%s, %s, %s, %s, 'attendance_lead', true)",
                (cid, s.id, f"Contact {cid}", f"c{cid}@school{s.id}.example"),
            )
            made["new_contacts"] += 1
        for contact in c.missed[: max(1, len(c.missed) // 5)]:
            cur.execute(
                "INSERT INTO bot_conversation (conversation_id, conversation_type, tenant_id, user_id, service_url, "
                "channel_id, bot_id, reference, contact_id, installed, last_error, updated_at) VALUES "
                "(%s, 'personal', 'bench', %s, 'https://smba.trafficmanager.net/uk/', 'msteams', '28:bench-bot', "
                "%s, %s, true, '', %s)",
                (
                    f"a:bench-late-{contact}",
                    f"29:late-{contact}",
                    json.dumps({"conversation": {"id": f"a:bench-late-{contact}"}}),
                    contact,
                    naive(now),
                ),
            )
            made["installed"] += 1
        for table in ("meeting", "meeting_attendee", "domain_event", "school_contact"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        conn.commit()
    return made


# ---------------------------------------------------------------------------------------------------- measuring


class Counter:
    """SQL statements sent through the product's engine (``before_cursor_execute``), while ``on``."""

    def __init__(self) -> None:
        self.n = 0
        self.on = False

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            self.n += 1


class Sent:
    """The worker's channel, answering at once: what is measured is the sweep, not Teams or SMTP."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, recipient, message):
        from tsm.messaging import SendResult, SendStatus

        self.count += 1
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        return None


async def measured(counter: Counter, fn, keep: dict | None = None) -> dict:
    """Statements, CPU and wall time of one ``await fn()``; its result goes in ``keep["result"]`` when asked."""
    n0 = counter.n
    counter.on = True
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        result = await fn()
    finally:
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        counter.on = False
    if keep is not None:
        keep["result"] = result
    claimed = getattr(result, "claimed", None)
    if claimed is None and hasattr(result, "total"):
        claimed = result.total
    return {
        "statements": counter.n - n0,
        "cpu_s": round(cpu, 4),
        "wall_s": round(wall, 4),
        "claimed": claimed if isinstance(claimed, int) else None,
        "sent": getattr(result, "sent", None),
    }


def _settings(url: str, tmp: Path):
    from tsm.settings import Settings

    return Settings(
        database_url=url,
        _env_file=None,
        run_scheduler=False,
        invitations_dir=str(tmp / "inv"),
        mail_dir=str(tmp / "mail"),
    )


def sweep_functions(comp, messenger) -> dict:
    """Every sweep by name, from the composition's scheduler: ``Jobs``' and ``FeedbackJobs``' public methods."""
    from scheduler import feedback_jobs

    jobs = comp.scheduler.jobs
    fns = {name: getattr(jobs, name) for name in SWEEPS if hasattr(jobs, name)}
    try:  # the FeedbackJobs whose run_all the scheduler runs as tsm.feedback
        feedback = feedback_jobs.feedback_sweep(comp.scheduler)[0].__self__
    except (AttributeError, TypeError, IndexError):
        feedback = feedback_jobs.FeedbackJobs.for_app(comp.app, messenger, jobs.ledger)
    for name in FEEDBACK_SWEEPS:
        if hasattr(feedback, name):
            fns[f"feedback.{name}"] = getattr(feedback, name)
    return fns


async def measure_sweeps(url: str, c: Country, rng: random.Random, tmp: Path) -> dict:
    from sqlalchemy import event

    from tsm.clock import FixedClock
    from tsm.composition import compose

    clock = FixedClock(T_IDLE)
    messenger = Sent()
    comp = compose(_settings(url, tmp), role="worker", clock=clock, messenger=messenger, worker_id="bench")
    counter = Counter()
    event.listen(comp.app.db.engine.sync_engine, "before_cursor_execute", counter)
    fns = sweep_functions(comp, messenger)
    out: dict[str, dict] = {name: {} for name in fns}
    try:
        for run in ("catch_up", "idle"):  # the first pass catches up on what the seed left due
            progress(f"sweeps, {run} run")
            for name, fn in fns.items():
                out[name][run] = await measured(counter, fn)
        progress("coverage report")
        reports = await measure_reports(comp, counter, c)
        # An hour on with nothing new: sweeps that work out what is due once an hour (the nudges since issue 15) do
        # their hourly pass here; in a 5-minute cycle that pass comes once in twelve.
        clock.now = T_IDLE + timedelta(hours=1)
        progress("sweeps, idle run an hour on")
        for name, fn in fns.items():
            out[name]["idle_hour"] = await measured(counter, fn)
        # The same hourly pass as the scheduler runs it: tsm.nudges is one pass of the nudge sweeps (Jobs.nudges,
        # which works the unbooked schools out once for the pass) and tsm.feedback's action reminders; an hour later
        # again, nothing new.
        hourly = None
        if hasattr(comp.scheduler.jobs, "nudges"):
            clock.now = T_IDLE + timedelta(hours=2)
            progress("the scheduler's hourly pass, two hours on")
            hourly = {"nudges": await measured(counter, comp.scheduler.jobs.nudges)}
            if "feedback.action_reminders" in fns:
                hourly["feedback.action_reminders"] = await measured(
                    counter, fns["feedback.action_reminders"]
                )
        made = make_busy(url, c, rng)
        clock.now = T_BUSY
        progress("sweeps, busy run")
        for name, fn in fns.items():
            out[name]["busy"] = await measured(counter, fn)
    finally:
        await comp.close()
    return {
        "sweeps": out,
        "hourly_pass": hourly,
        "busy_made": made,
        "reports": reports,
        "sent": messenger.count,
    }


async def measure_reports(comp, counter: Counter, c: Country) -> dict:
    from tsm.services.actors import Actor

    reports = comp.app.reports
    code = c.la_code[1]
    kept: dict = {}
    one = await measured(
        counter, lambda: reports.coverage(Actor("admin", None, None, "bench"), la_code=code), kept
    )
    one["schools"] = len(kept["result"].rows)
    result = {"one_la": one, "all_las": None}
    across = None
    if hasattr(reports, "across_las"):  # issue 15: every LA at once, for a national admin or the operator

        def across(actor):
            return reports.across_las(actor, "coverage")

    else:
        across = next(
            (
                getattr(reports, n)
                for n in ("coverage_all", "coverage_national", "national_coverage")
                if hasattr(reports, n)
            ),
            None,
        )
    if across is not None:
        try:
            result["all_las"] = await measured(
                counter, lambda: across(Actor("admin", None, None, "bench")), kept
            )
            las = getattr(kept["result"], "las", None)
            result["all_las"]["las"] = len(las) if las is not None else None
        except Exception as exc:  # noqa: BLE001 - reported as n/a with the reason
            result["all_las"] = {"error": f"{type(exc).__name__}: {exc}"}
    return result


# ---------------------------------------------------------------------------------------------------- bot turns


def _load_bot_turns():
    spec = importlib.util.spec_from_file_location("bench_bot_turns", ROOT / "bench" / "bot_turns.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


async def measure_turns(url: str, c: Country, args, tmp: Path) -> dict:
    """The booking turns on this database against the echo bot, with bench/bot_turns.py's client, connector and
    bots' process (started on this database with the clock at T_IDLE)."""
    import aiohttp

    bt = _load_bot_turns()
    connector = bt.FakeConnector()
    runner, connector_url = await bt.start(connector.app())
    service_url = connector_url + "/"
    port_file = tmp / "ports.json"
    os.environ["TSM_CLOCK_START"] = T_IDLE.isoformat()
    child = bt._spawn_bots(url, tmp, port_file, False)
    try:
        for _ in range(600):
            if port_file.exists() and port_file.read_text():
                break
            if child.poll() is not None:
                raise RuntimeError("the bots' process exited")
            await asyncio.sleep(0.1)
        ports = json.loads(port_file.read_text())
        tsm_url, echo_url = ports["tsm"], ports["echo"]
        rss_start = _rss(child.pid)
        unbooked = [s for s in c.schools if s.route == "self" and s.id not in c.booked_this_term]
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=64)
        ) as session:
            users: list[tuple[int, dict | None]] = []
            no_pick = ""
            for s in unbooked[: args.users * 3]:
                if len(users) >= args.users:
                    break
                n = 1000 * s.contacts[0] + len(users) + 1
                email = f"c{s.contacts[0]}@school{s.id}.example"
                connector.members[f"29:user-{n}"] = {
                    "id": f"29:user-{n}",
                    "name": f"Contact {s.contacts[0]}",
                    "email": email,
                    "userPrincipalName": email,
                    "aadObjectId": f"aad-bench-{n}",
                }
                async with session.post(
                    tsm_url + "/api/messages", json=bt.message(service_url, n, "book")
                ) as resp:
                    if resp.status != 200:
                        continue
                try:  # the second press to replay: "Choose this time" on the first card, else a date pick
                    pick = await second_press(bt, session, tsm_url, service_url, n)
                except Exception as exc:  # noqa: BLE001 - the book turn is measured either way
                    pick = None
                    no_pick = f"{type(exc).__name__}: {exc}"
                users.append((n, pick))
            if not users:
                raise RuntimeError("no school contact could start a booking")
            pickers = [(n, d) for n, d in users if d]

            def echo_turn(w: int) -> dict:
                return bt.message(service_url, 10_000 + w, "hello")

            def book_turn(w: int) -> dict:
                return bt.message(service_url, users[w % len(users)][0], "book")

            def pick_turn(w: int) -> dict:
                n, (verb, d) = pickers[w % len(pickers)]
                return bt.invoke(service_url, n, verb, d)

            phases = {
                "echo (SDK defaults)": (echo_url, echo_turn, 201),
                "book (text command)": (tsm_url, book_turn, 200),
            }
            if pickers:
                phases[f"{pickers[0][1][0]} (invoke)"] = (tsm_url, pick_turn, 200)
            cpu_url = tsm_url + "/_bench/cpu"
            for base, make, expect in phases.values():  # warm-up
                await bt.phase(
                    session,
                    base + "/api/messages",
                    make,
                    min(40, args.turns),
                    args.concurrency,
                    expect,
                    cpu_url,
                )
            runs: dict[str, list[dict]] = {name: [] for name in phases}
            for _ in range(args.repeat):
                for name, (base, make, expect) in phases.items():
                    runs[name].append(
                        await bt.phase(
                            session,
                            base + "/api/messages",
                            make,
                            args.turns,
                            args.concurrency,
                            expect,
                            cpu_url,
                        )
                    )
        results = {name: bt._median_run(rs) for name, rs in runs.items()}
        rss_end = _rss(child.pid)
    finally:
        os.environ.pop("TSM_CLOCK_START", None)
        child.terminate()
        child.wait(timeout=30)
        await runner.cleanup()
    echo = results["echo (SDK defaults)"]["tps"]
    return {
        "how": "bench/bot_turns.py's client, fake connector and bots' process, on this database",
        "users": len(users),
        "no_date_pick": "" if pickers else no_pick,
        "turns": {
            k: {x: round(v, 2) if isinstance(v, float) else v for x, v in r.items()}
            for k, r in results.items()
        },
        "ratio_to_echo": {
            k: round(r["tps"] / echo, 2) for k, r in results.items() if not k.startswith("echo")
        },
        "rss_mb": {"after_start": rss_start, "after_turns": rss_end},
    }


async def second_press(bt, session, tsm_url: str, service_url: str, n: int) -> tuple[str, dict]:
    """(verb, data) of the booking's second press for user ``n``: "Choose this time" with the first time shown (the
    three-press flow), or the first date of the dates card (the older flow: how to meet, then the dates)."""

    async def press(verb: str, data: dict) -> dict:
        async with session.post(
            tsm_url + "/api/messages", json=bt.invoke(service_url, n, verb, data)
        ) as resp:
            return bt.first_card(await resp.json())

    card = await press("book.start", {})
    if _has(bt, card, "book.pick_start"):
        data = bt.find(card, "book.pick_start")["data"]
        return "book.pick_start", {**data, "start": bt.first_choice(card, "start"), "mode": "teams"}
    verb = next(v for v in ("book.dates", "book.pick_mode") if _has(bt, card, v))
    card = await press(verb, bt.find(card, verb)["data"])
    return "book.pick_date", {
        **bt.find(card, "book.pick_date")["data"],
        "date": bt.first_choice(card, "date"),
    }


def _has(bt, card: dict, verb: str) -> bool:
    try:
        bt.find(card, verb)
        return True
    except RuntimeError:
        return False


# ---------------------------------------------------------------------------------------------------- output


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY relname")
        stats = dict(cur.fetchall())
        out = {}
        for t in (
            "la",
            "officer",
            "school",
            "school_contact",
            "meeting",
            "meeting_attendee",
            "domain_event",
            "outbound",
        ):
            cur.execute(f"SELECT count(*) FROM {t}")
            out[t] = cur.fetchone()[0]
        out["all tables (live rows)"] = int(sum(stats.values()))
    return out


def _fmt(m: dict | None) -> str:
    if not m:
        return f"{'-':>7}{'-':>9}{'-':>8}"
    return f"{m['statements']:>7}{m['cpu_s']:>9.3f}{m['claimed'] if m['claimed'] is not None else '-':>8}"


def print_table(res: dict) -> None:
    print(f"$ {res['command']}")
    print(
        f"commit {res['commit']}; scale {res['scale']}; seeded in {res['seed_seconds']:.0f} s "
        f"(migrations {res['migrate_seconds']:.1f} s); idle at {T_IDLE.isoformat()}, busy at {T_BUSY.isoformat()}"
    )
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in res["counts"].items()))
    print("busy run made: " + ", ".join(f"{k} {v}" for k, v in res["busy_made"].items()))
    print()
    print(
        f"{'sweep':<32}{'| catch-up: SQL':>15}{'CPU s':>9}{'claimed':>8}{'| idle: SQL':>11}{'CPU s':>9}{'claimed':>8}"
        f"{'| +1 hour: SQL':>14}{'CPU s':>9}{'claimed':>8}{'| busy: SQL':>11}{'CPU s':>9}{'claimed':>8}"
    )
    runs = ("catch_up", "idle", "idle_hour", "busy")
    tot = {k: {"statements": 0, "cpu_s": 0.0, "claimed": 0} for k in runs}
    for name, m in res["sweeps"].items():
        print(
            f"{name:<32}{_fmt(m.get('catch_up')):>32}{_fmt(m.get('idle')):>28}{_fmt(m.get('idle_hour')):>31}"
            f"{_fmt(m.get('busy')):>28}"
        )
        for k in tot:
            if m.get(k):
                tot[k]["statements"] += m[k]["statements"]
                tot[k]["cpu_s"] += m[k]["cpu_s"]
                tot[k]["claimed"] += m[k]["claimed"] or 0
    print(
        f"{'every sweep once':<32}{_fmt(tot['catch_up']):>32}{_fmt(tot['idle']):>28}{_fmt(tot['idle_hour']):>31}"
        f"{_fmt(tot['busy']):>28}"
    )
    res["totals"] = tot
    hourly = res.get("hourly_pass")
    if hourly:
        st = sum(m["statements"] for m in hourly.values())
        cpu = sum(m["cpu_s"] for m in hourly.values())
        parts = ", ".join(f"{k} {m['statements']} / {m['cpu_s']:.3f} s" for k, m in hourly.items())
        print(
            f"the hourly pass as the scheduler runs it (two hours on, nothing new): {st} statements, {cpu:.3f} s CPU "
            f"({parts}); a 5-minute cycle averages {cpu / 12 + tot['idle']['cpu_s']:.3f} s CPU (target 0.3)"
        )
    print()
    rep = res["reports"]
    one = rep["one_la"]
    print(
        f"coverage report, one LA ({one['schools']} schools): {one['statements']} statements, "
        f"{one['cpu_s'] * 1000:.0f} ms CPU, {one['wall_s'] * 1000:.0f} ms wall"
    )
    allr = rep.get("all_las")
    if not allr:
        print("coverage report, every LA: n/a (no report across LAs in this code)")
    elif "error" in allr:
        print(f"coverage report, every LA: n/a ({allr['error']})")
    else:
        print(
            f"coverage report, every LA ({allr.get('las')} LAs): {allr['statements']} statements, "
            f"{allr['cpu_s'] * 1000:.0f} ms CPU, "
            f"{allr['wall_s'] * 1000:.0f} ms wall"
        )
    turns = res.get("turns")
    if not turns:
        print("booking turns: not measured (--no-turns)")
    elif "error" in turns:
        print(f"booking turns: not measured ({turns['error']})")
    else:
        print(f"booking turns ({turns['how']}; {turns['users']} users):")
        print(
            f"  {'turn':<26}{'turns/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/turn':>13}{'errors':>8}{'x echo':>8}"
        )
        for name, r in turns["turns"].items():
            ratio = turns["ratio_to_echo"].get(name)
            print(
                f"  {name:<26}{r['tps']:>9.1f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['cpu_ms']:>13.2f}{r['errors']:>8}"
                f"{(f'{ratio:.2f}' if ratio else ''):>8}"
            )
        if turns.get("no_date_pick"):
            print(f"  the second press not measured: {turns['no_date_pick']}")
        rss = turns["rss_mb"]
        print(
            f"  RSS of the bots' process (our server, no scheduler, + the echo bot): "
            f"{rss['after_start'].get('VmRSS', 0):.0f} MB after start, {rss['after_turns'].get('VmRSS', 0):.0f} MB "
            f"after the turns (peak {rss['after_turns'].get('VmHWM', 0):.0f} MB)"
        )


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        )
        return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except Exception:  # noqa: BLE001 - not a git checkout
        return "unknown"


def fresh_database(admin: str, name: str) -> str:
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(
            f"--db {name}: refusing to drop that database; give the country its own (e.g. tsm_country)"
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin.rsplit('/', 1)[0]}/{name}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Build a synthetic England on PostgreSQL through the migrations and measure the sweeps, the "
        "coverage report, the booking turns and one bot's memory on it.",
        epilog="The database named by --db is DROPPED and made again on every run. It is never the test suite's "
        "'test' database (refused). Figures: a table on stdout and JSON in --out.",
    )
    p.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 150 LAs, 750 officers, 22,500 schools (default)"
    )
    p.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin connection used to drop and create --db (default: %(default)s)",
    )
    p.add_argument(
        "--db", default="tsm_country", help="the country's own database (default: %(default)s; never 'test')"
    )
    p.add_argument("--out", help="the JSON file (default: var/country-<commit>-<scale>.json)")
    p.add_argument("--seed", type=int, default=15, help="the random generator's seed (default: %(default)s)")
    p.add_argument("--no-turns", action="store_true", help="skip the booking turns and the bot's memory")
    p.add_argument("--turns", type=int, default=300, help="turns per kind per run (default: %(default)s)")
    p.add_argument(
        "--repeat", type=int, default=3, help="interleaved runs of every kind (default: %(default)s)"
    )
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--keep", action="store_true", help="keep the database afterwards (default: dropped)")
    args = p.parse_args(argv)
    if args.scale <= 0:
        p.error("--scale must be above 0")
    rng = random.Random(args.seed)
    commit = git_commit()
    res: dict = {
        "command": shlex.join(
            [".venv/bin/python", "bench/country.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "commit": commit,
        "scale": args.scale,
        "measured_on": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    url = fresh_database(args.pg, args.db)
    tmp = Path(tempfile.mkdtemp(prefix="tsm-country-"))
    try:
        t0 = time.perf_counter()
        progress(f"migrating {args.db}")
        upgrade(url)
        res["migrate_seconds"] = time.perf_counter() - t0
        progress("seeding")
        c = seed(url, args.scale, rng)
        res["seed_seconds"] = c.seconds
        res["counts"] = table_counts(url)
        res.update(asyncio.run(measure_sweeps(url, c, rng, tmp)))
        if not args.no_turns:
            progress("booking turns")
            try:
                res["turns"] = asyncio.run(measure_turns(url, c, args, tmp))
            except Exception as exc:  # noqa: BLE001 - the sweep figures stand; the reason is printed
                res["turns"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if not args.keep:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    print_table(res)
    out = Path(args.out) if args.out else ROOT / "var" / f"country-{commit.split('+')[0]}-{args.scale:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nfigures: {out}")
    errors = (res.get("turns") or {}).get("turns", {})
    return 1 if any(r.get("errors") for r in errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
