"""Demo data: "Demoshire" (LA 999), a made-up LA with schools of every kind, officers, contacts and calendars.

Everything here is invented: school names, towns, postcodes (area "DM" does not exist), people, emails
(``@demo.example``) and attendance figures. The schools live in ``tsm/data/demo-gias.csv``, a file with
the real GIAS header (head teacher columns included, with made-up values) in Windows-1252 like the real
download, and are loaded through the real importers, so the demo exercises the same path as an LA's
own data. The data is deterministic (a seeded ``random.Random``).
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select

from tsm.adapters.db.calendars import CalendarEvent
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Term
from tsm.adapters.db.engine import Database
from tsm.domain.averages import parse_period
from tsm.domain.policy import load_policy
from tsm.importers.gias import csv_text, ensure_la, import_attendance_in, import_gias_in
from tsm.importers.people import (
    import_contacts_in,
    import_link_officers_in,
    import_officers_in,
    import_trust_officers_in,
)
from tsm.importers.report import ImportReport
from tsm.importers.terms import import_terms, parse_terms_csv

DEMO_LA_CODE = "999"
DEMO_POLICY = "demo"
DEMO_SEED = 20261122
DEMO_GIAS_FILE = "demo-gias.csv"
DEMO_ATTENDANCE_PERIOD = "2024-25 autumn and spring terms"  # the latest national averages' period (domain.md)
DEMO_ACTOR = "system:demo"
CALENDAR_WEEKS = 6
LONDON = ZoneInfo("Europe/London")

# The header of GIAS's "all establishment data" download (edubasealldataYYYYMMDD.csv).
GIAS_HEADER = (
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (code)",
    "TypeOfEstablishment (name)",
    "EstablishmentTypeGroup (code)",
    "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (code)",
    "EstablishmentStatus (name)",
    "ReasonEstablishmentOpened (code)",
    "ReasonEstablishmentOpened (name)",
    "OpenDate",
    "ReasonEstablishmentClosed (code)",
    "ReasonEstablishmentClosed (name)",
    "CloseDate",
    "PhaseOfEducation (code)",
    "PhaseOfEducation (name)",
    "StatutoryLowAge",
    "StatutoryHighAge",
    "Boarders (code)",
    "Boarders (name)",
    "NurseryProvision (name)",
    "OfficialSixthForm (code)",
    "OfficialSixthForm (name)",
    "Gender (code)",
    "Gender (name)",
    "ReligiousCharacter (code)",
    "ReligiousCharacter (name)",
    "ReligiousEthos (name)",
    "Diocese (code)",
    "Diocese (name)",
    "AdmissionsPolicy (code)",
    "AdmissionsPolicy (name)",
    "SchoolCapacity",
    "SpecialClasses (code)",
    "SpecialClasses (name)",
    "CensusDate",
    "NumberOfPupils",
    "NumberOfBoys",
    "NumberOfGirls",
    "PercentageFSM",
    "TrustSchoolFlag (code)",
    "TrustSchoolFlag (name)",
    "Trusts (code)",
    "Trusts (name)",
    "SchoolSponsorFlag (name)",
    "SchoolSponsors (name)",
    "FederationFlag (name)",
    "Federations (code)",
    "Federations (name)",
    "UKPRN",
    "FEHEIdentifier",
    "FurtherEducationType (name)",
    "OfstedLastInsp",
    "OfstedSpecialMeasures (code)",
    "OfstedSpecialMeasures (name)",
    "LastChangedDate",
    "Street",
    "Locality",
    "Address3",
    "Town",
    "County (name)",
    "Postcode",
    "SchoolWebsite",
    "TelephoneNum",
    "HeadTitle (name)",
    "HeadFirstName",
    "HeadLastName",
    "HeadPreferredJobTitle",
    "BSOInspectorateName (name)",
    "InspectorateReport",
    "DateOfLastInspectionVisit",
    "NextInspectionVisit",
    "TeenMoth (name)",
    "TeenMothPlaces",
    "CCF (name)",
    "SENPRU (name)",
    "EBD (name)",
    "PlacesPRU",
    "FTProv (name)",
    "EdByOther (name)",
    "Section41Approved (name)",
    "SEN1 (name)",
    "SEN2 (name)",
    "SEN3 (name)",
    "SEN4 (name)",
    "SEN5 (name)",
    "SEN6 (name)",
    "SEN7 (name)",
    "SEN8 (name)",
    "SEN9 (name)",
    "SEN10 (name)",
    "SEN11 (name)",
    "SEN12 (name)",
    "SEN13 (name)",
    "TypeOfResourcedProvision (name)",
    "ResourcedProvisionOnRoll",
    "ResourcedProvisionCapacity",
    "SenUnitOnRoll",
    "SenUnitCapacity",
    "GOR (code)",
    "GOR (name)",
    "DistrictAdministrative (code)",
    "DistrictAdministrative (name)",
    "AdministrativeWard (code)",
    "AdministrativeWard (name)",
    "ParliamentaryConstituency (code)",
    "ParliamentaryConstituency (name)",
    "UrbanRural (code)",
    "UrbanRural (name)",
    "GSSLACode (name)",
    "Easting",
    "Northing",
    "CensusAreaStatisticWard (name)",
    "MSOA (name)",
    "LSOA (name)",
    "InspectorateName (name)",
    "SENStat",
    "SENNoStat",
    "BoardingEstablishment (name)",
    "PropsName",
    "PreviousLA (code)",
    "PreviousLA (name)",
    "PreviousEstablishmentNumber",
    "OfstedRating (name)",
    "RSCRegion (name)",
    "Country (name)",
    "UPRN",
    "SiteName",
    "QABName (code)",
    "QABName (name)",
    "EstablishmentAccredited (code)",
    "EstablishmentAccredited (name)",
    "QABReport",
    "CHNumber",
    "MSOA (code)",
    "LSOA (code)",
)
HEAD_COLUMNS = ("HeadTitle (name)", "HeadFirstName", "HeadLastName", "HeadPreferredJobTitle")

# Made-up head teachers: written to the demo GIAS file to prove the importer ignores them.
HEAD_FIRST_NAMES = (
    "Augustina",
    "Barnaby",
    "Cressida",
    "Dorian",
    "Eulalia",
    "Fitzroy",
    "Georgiana",
    "Horatio",
)
HEAD_LAST_NAMES = ("Quillfeather", "Ravensworth", "Marchbanks", "Thistlewood", "Pemberton-Vane", "Ormerod")

# Made-up school staff (contacts); disjoint from the head teachers above.
CONTACT_FIRST_NAMES = (
    "Amy",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Faisal",
    "Grace",
    "Harry",
    "Isla",
    "Jack",
    "Kiran",
    "Laura",
    "Mohammed",
    "Nina",
    "Oliver",
    "Priti",
    "Rachel",
    "Sam",
    "Tara",
    "Will",
)
CONTACT_LAST_NAMES = (
    "Ahmed",
    "Baker",
    "Clarke",
    "Davies",
    "Evans",
    "Fisher",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Mason",
    "Nowak",
    "Owen",
    "Patel",
    "Reid",
    "Singh",
    "Turner",
    "Walsh",
)

LA_MAINTAINED = "Local authority maintained schools"
ACADEMIES = "Academies"
FREE_SCHOOLS = "Free Schools"
SPECIAL_SCHOOLS = "Special schools"
INDEPENDENT = "Independent schools"

TYPE_CODES = {
    "Community school": "01",
    "Voluntary aided school": "02",
    "Voluntary controlled school": "03",
    "Foundation school": "05",
    "Community special school": "07",
    "Other independent special school": "10",
    "Other independent school": "11",
    "Foundation special school": "12",
    "Pupil referral unit": "14",
    "Academy sponsor led": "28",
    "Academy special converter": "33",
    "Academy converter": "34",
    "Free schools": "35",
    "Free schools special": "36",
    "Academy special sponsor led": "38",
}
GROUP_CODES = {
    INDEPENDENT: "3",
    LA_MAINTAINED: "4",
    SPECIAL_SCHOOLS: "5",
    ACADEMIES: "10",
    FREE_SCHOOLS: "11",
}
PHASE_CODES = {"Not applicable": "0", "Primary": "2", "Secondary": "4", "All-through": "7"}

TRUSTS = {
    # code: (name, flag, has an allocated officer)
    "9001": ("Demoshire Learning Trust", "Supported by a multi-academy trust", True),
    "9002": ("Wexbridge Schools Partnership", "Supported by a multi-academy trust", False),
    "9003": ("Ridgeway Academy Trust", "Supported by a single-academy trust", False),
}


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _on_or_before(day: date, weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _weekday_on_or_after(day: date) -> date:
    return day if day.weekday() < 5 else _on_or_after(day, 0)


def example_year(start_year: int) -> list[tuple[str, str, date, date, str, str]]:
    """Plausible, made-up term dates for the academic year starting in September ``start_year``, shaped like an
    English LA's: (academic_year, term, start, end, kind, label) rows. Autumn from the first weekday on or after
    3 September to the Friday on or before 20 December, half term the week from the Monday on or after
    24 October; spring from the first weekday on or after 5 January, half term the week from the Monday on or
    after 14 February, ending the day before Good Friday when Easter is early, else the Friday on or before
    31 March; summer from the Monday two weeks after spring ends (after Easter Monday), half term the week of
    the spring bank holiday, ending the weekday on or before 20 July. No LA published these."""
    from dateutil.easter import easter

    y, n = start_year, start_year + 1
    label = f"{y}-{n % 100:02d}"
    good_friday = easter(n) - timedelta(days=2)
    spring_end = (
        good_friday - timedelta(days=1) if good_friday <= date(n, 4, 2) else _on_or_before(date(n, 3, 31), 4)
    )
    summer_start = _on_or_after(spring_end + timedelta(days=15), 0)
    if summer_start <= easter(n) + timedelta(days=1):
        summer_start = easter(n) + timedelta(days=2)
    autumn_half = _on_or_after(date(y, 10, 24), 0)
    spring_half = _on_or_after(date(n, 2, 14), 0)
    may_bank = _on_or_before(date(n, 5, 31), 0)
    summer_end = date(n, 7, 20) if date(n, 7, 20).weekday() < 5 else _on_or_before(date(n, 7, 20), 4)
    week = timedelta(days=4)
    return [
        (label, "autumn", _weekday_on_or_after(date(y, 9, 3)), _on_or_before(date(y, 12, 20), 4), "term", ""),
        (label, "autumn", autumn_half, autumn_half + week, "half_term", "October half term"),
        (label, "spring", _weekday_on_or_after(date(n, 1, 5)), spring_end, "term", ""),
        (label, "spring", spring_half, spring_half + week, "half_term", "February half term"),
        (label, "summer", summer_start, summer_end, "term", ""),
        (label, "summer", may_bank, may_bank + week, "half_term", "May half term"),
    ]


def example_terms_csv(today: date, years: int = 2) -> str:
    """The demo's term dates as a terms CSV marked EXAMPLE: the academic year holding ``today`` and the next
    (``years`` in all), so the demo never runs out of terms whatever the date."""
    first = today.year if today.month >= 9 else today.year - 1
    lines = [
        "# EXAMPLE dates, not published by any LA: made up for the demo, relative to the day it was loaded",
        "academic_year,term,start_date,end_date,kind,label",
    ]
    for y in range(first, first + years):
        lines += [
            f"{a},{t},{s.isoformat()},{e.isoformat()},{k},{lab}" for a, t, s, e, k, lab in example_year(y)
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DemoSchool:
    urn: int
    name: str
    type_name: str
    group: str
    phase: str  # GIAS PhaseOfEducation (name)
    town: str
    trust: str | None = None
    status: str = "Open"
    la_code: str = DEMO_LA_CODE
    attendance: bool = True  # has an attendance figure in the demo


DEMO_SCHOOLS: tuple[DemoSchool, ...] = (
    DemoSchool(990001, "Ashcombe Primary School", "Community school", LA_MAINTAINED, "Primary", "Demoton"),
    DemoSchool(990002, "Brookfield Infant School", "Community school", LA_MAINTAINED, "Primary", "Demoton"),
    DemoSchool(
        990003, "Castle Hill Junior School", "Community school", LA_MAINTAINED, "Primary", "Wexbridge"
    ),
    DemoSchool(
        990004, "Denby Road Primary School", "Community school", LA_MAINTAINED, "Primary", "Wexbridge"
    ),
    DemoSchool(
        990005,
        "Elmstead Primary School",
        "Community school",
        LA_MAINTAINED,
        "Primary",
        "Little Hanford",
        attendance=False,
    ),
    DemoSchool(
        990006,
        "St Aldhelm\u2019s CE Primary School",
        "Voluntary aided school",
        LA_MAINTAINED,
        "Primary",
        "Little Hanford",
    ),
    DemoSchool(
        990007,
        "St Bede\u2019s Catholic Primary School",
        "Voluntary aided school",
        LA_MAINTAINED,
        "Primary",
        "Demoton",
    ),
    DemoSchool(
        990008,
        "Fernley CE VC Primary School",
        "Voluntary controlled school",
        LA_MAINTAINED,
        "Primary",
        "Fernley",
    ),
    DemoSchool(
        990009, "Hartwell Primary Academy", "Academy converter", ACADEMIES, "Primary", "Hartwell", "9001"
    ),
    DemoSchool(
        990010, "Ivybridge Lane Academy", "Academy sponsor led", ACADEMIES, "Primary", "Demoton", "9001"
    ),
    DemoSchool(
        990011,
        "Juniper Fields Primary Academy",
        "Academy converter",
        ACADEMIES,
        "Primary",
        "Wexbridge",
        "9002",
    ),
    DemoSchool(
        990012, "Kestrel Primary Academy", "Academy converter", ACADEMIES, "Primary", "Kestrel Cross", "9002"
    ),
    DemoSchool(
        990013, "Larkspur Primary School", "Academy converter", ACADEMIES, "Primary", "Fernley", "9002"
    ),
    DemoSchool(990014, "Northgate High School", "Community school", LA_MAINTAINED, "Secondary", "Demoton"),
    DemoSchool(
        990015,
        "Oakhurst School",
        "Foundation school",
        LA_MAINTAINED,
        "Secondary",
        "Little Hanford",
        attendance=False,
    ),
    DemoSchool(990016, "Priory Academy", "Academy converter", ACADEMIES, "Secondary", "Hartwell", "9001"),
    DemoSchool(
        990017, "Queensway Academy", "Academy sponsor led", ACADEMIES, "Secondary", "Wexbridge", "9002"
    ),
    DemoSchool(
        990018, "Ridgeway Academy", "Academy converter", ACADEMIES, "Secondary", "Kestrel Cross", "9003"
    ),
    DemoSchool(990019, "Saxon Free School", "Free schools", FREE_SCHOOLS, "Secondary", "Demoton", "9002"),
    DemoSchool(
        990020,
        "Thornbury All-Through Academy",
        "Academy converter",
        ACADEMIES,
        "All-through",
        "Thornbury",
        "9001",
    ),
    DemoSchool(
        990021, "Upton Lodge School", "Community special school", SPECIAL_SCHOOLS, "Not applicable", "Demoton"
    ),
    DemoSchool(
        990022,
        "Valley View School",
        "Community special school",
        SPECIAL_SCHOOLS,
        "Not applicable",
        "Wexbridge",
    ),
    DemoSchool(
        990023,
        "Willowbrook School",
        "Foundation special school",
        SPECIAL_SCHOOLS,
        "Not applicable",
        "Fernley",
    ),
    DemoSchool(
        990024,
        "Yew Tree Academy",
        "Academy special converter",
        ACADEMIES,
        "Not applicable",
        "Hartwell",
        "9001",
    ),
    DemoSchool(
        990025,
        "Zephyr Academy",
        "Academy special sponsor led",
        ACADEMIES,
        "Not applicable",
        "Thornbury",
        "9002",
    ),
    DemoSchool(
        990026,
        "Amberley Free School",
        "Free schools special",
        FREE_SCHOOLS,
        "Not applicable",
        "Kestrel Cross",
        "9002",
    ),
    DemoSchool(
        990027,
        "Beacon House School",
        "Other independent school",
        INDEPENDENT,
        "Not applicable",
        "Demoton",
        attendance=False,
    ),
    DemoSchool(
        990028,
        "Cedar Park College",
        "Other independent school",
        INDEPENDENT,
        "Not applicable",
        "Thornbury",
        attendance=False,
    ),
    DemoSchool(
        990029,
        "Dovecote School",
        "Other independent special school",
        SPECIAL_SCHOOLS,
        "Not applicable",
        "Little Hanford",
        attendance=False,
    ),
    DemoSchool(
        990030,
        "Demoshire Short Stay School",
        "Pupil referral unit",
        LA_MAINTAINED,
        "Not applicable",
        "Demoton",
    ),
    # Left out by the importer: a closed school, and a school of another LA.
    DemoSchool(
        990031,
        "Old Mill Primary School",
        "Community school",
        LA_MAINTAINED,
        "Primary",
        "Wexbridge",
        status="Closed",
    ),
    DemoSchool(
        998001,
        "Elsewhere Primary School",
        "Community school",
        LA_MAINTAINED,
        "Primary",
        "Elsewhere",
        la_code="998",
    ),
)
DEMO_OPEN_SCHOOLS = tuple(s for s in DEMO_SCHOOLS if s.la_code == DEMO_LA_CODE and s.status != "Closed")

PUPILS = {
    "Primary": (120, 420),
    "Secondary": (700, 1500),
    "All-through": (900, 1600),
    "Not applicable": (40, 160),
}

DEMO_OFFICERS = (
    # name, email, area, working hours ("" = the policy's), max meetings a day, admin
    ("Alex Carter", "alex.carter@demo.example", "North Demoshire", "", "", "yes"),
    (
        "Priya Shah",
        "priya.shah@demo.example",
        "South Demoshire",
        "mon=09:00-16:00;tue=09:00-16:00;wed=09:00-12:30;thu=09:00-16:00",
        "2",
        "no",
    ),
    (
        "Tom Okafor",
        "tom.okafor@demo.example",
        "Trusts and specialist settings",
        "mon=08:30-12:00|13:00-16:30;tue=08:30-12:00|13:00-16:30;wed=08:30-16:30;thu=08:30-16:30;fri=08:30-14:00",
        "3",
        "no",
    ),
)
TRUST_OFFICER = "tom.okafor@demo.example"

# (subject, show_as, weight) for the officers' own calendar entries. No pupil details, ever.
EVENT_KINDS = (
    ("Team meeting", "busy", 4),
    ("Multi-agency panel", "busy", 3),
    ("Casework supervision", "busy", 3),
    ("Training: attendance and the law", "busy", 1),
    ("LA planning session (to be confirmed)", "tentative", 2),
    ("School visit (provisional)", "tentative", 2),
    ("Working from the Wexbridge office", "workingElsewhere", 2),
    ("Medical appointment", "oof", 1),
)


# --------------------------------------------------------------------------------------------------
# The demo GIAS file


def _postcode(rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return f"DM{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"


def demo_gias_rows() -> list[dict[str, str]]:
    """The demo schools as GIAS rows (every header column, head teachers included)."""
    rng = random.Random(DEMO_SEED)
    streets = (
        "High Street",
        "Church Lane",
        "Station Road",
        "Mill Road",
        "School Lane",
        "The Green",
        "Park Avenue",
        "Queen's Road",
        "Orchard Way",
        "London Road",
    )
    out = []
    for n, s in enumerate(DEMO_SCHOOLS):
        row = dict.fromkeys(GIAS_HEADER, "")
        lo, hi = PUPILS[s.phase]
        trust_name, flag, _ = TRUSTS[s.trust] if s.trust else ("", "Not applicable", False)
        row.update(
            {
                "URN": str(s.urn),
                "LA (code)": s.la_code,
                "LA (name)": "Demoshire" if s.la_code == DEMO_LA_CODE else "Elsewhereshire",
                "EstablishmentNumber": str(2000 + n),
                "EstablishmentName": s.name,
                "TypeOfEstablishment (code)": TYPE_CODES[s.type_name],
                "TypeOfEstablishment (name)": s.type_name,
                "EstablishmentTypeGroup (code)": GROUP_CODES[s.group],
                "EstablishmentTypeGroup (name)": s.group,
                "EstablishmentStatus (code)": "2" if s.status == "Closed" else "1",
                "EstablishmentStatus (name)": s.status,
                "CloseDate": "31-08-2025" if s.status == "Closed" else "",
                "PhaseOfEducation (code)": PHASE_CODES[s.phase],
                "PhaseOfEducation (name)": s.phase,
                "NumberOfPupils": str(rng.randint(lo, hi)),
                "TrustSchoolFlag (code)": "0" if not s.trust else "3",
                "TrustSchoolFlag (name)": flag,
                "Trusts (code)": s.trust or "",
                "Trusts (name)": trust_name,
                "Street": f"{rng.randint(1, 120)} {rng.choice(streets)}",
                "Town": s.town,
                "County (name)": "Demoshire",
                "Postcode": _postcode(rng),
                "SchoolWebsite": f"https://{s.urn}.demo.example",
                "TelephoneNum": f"01632 960{rng.randint(0, 999):03d}",  # Ofcom's range for drama
                "HeadTitle (name)": rng.choice(("Mrs", "Mr", "Ms", "Dr")),
                "HeadFirstName": HEAD_FIRST_NAMES[n % len(HEAD_FIRST_NAMES)],
                "HeadLastName": HEAD_LAST_NAMES[n % len(HEAD_LAST_NAMES)],
                "HeadPreferredJobTitle": "Headteacher" if n % 3 else "Executive Principal",
                "GOR (name)": "East of England",
                "Country (name)": "",
            }
        )
        out.append(row)
    return out


def demo_gias_csv() -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GIAS_HEADER, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writeheader()
    w.writerows(demo_gias_rows())
    return buf.getvalue()


def write_demo_gias_csv(path: str | Path) -> Path:
    """Write the demo GIAS file in Windows-1252, as GIAS ships its download."""
    p = Path(path)
    p.write_bytes(demo_gias_csv().encode("cp1252"))
    return p


def demo_gias_path() -> Path:
    return Path(str(resources.files("tsm") / "data" / DEMO_GIAS_FILE))


# --------------------------------------------------------------------------------------------------
# Officers, contacts, attendance, calendars


def _attendance_rows(rng: random.Random) -> list[tuple[int, str, str]]:
    """Attendance % around the demo policy's national averages of the period the figures are from (2024/25 autumn
    and spring terms): some below, some above."""
    found = load_policy(DEMO_POLICY).national_averages.matching(parse_period(DEMO_ATTENDANCE_PERIOD))
    averages = {phase.value: value for phase, value in (found.attendance_by_phase if found else {}).items()}
    base = {
        "Primary": averages.get("primary", 94.5),
        "Secondary": averages.get("secondary", 91.1),
        "All-through": averages.get("secondary", 91.1),
    }
    rows = []
    for i, s in enumerate(DEMO_OPEN_SCHOOLS):
        if not s.attendance:
            continue
        avg = averages.get("special", 87.0) if "special" in s.type_name.lower() else base.get(s.phase, 80.0)
        # alternate below / above so both kinds are always present, then jitter
        offset = (-1 if i % 2 == 0 else 1) * rng.uniform(0.3, 3.0)
        rows.append((s.urn, f"{min(100.0, avg + offset):.1f}", DEMO_ATTENDANCE_PERIOD))
    return rows


def _contact_rows(rng: random.Random) -> list[tuple[int, str, str, str]]:
    people = [(f, last) for f in CONTACT_FIRST_NAMES for last in CONTACT_LAST_NAMES]
    rng.shuffle(people)
    rows = []
    it = iter(people)
    for s in DEMO_OPEN_SCHOOLS:
        for role in ("attendance_lead", "senior_leader"):
            first, last = next(it)
            rows.append((s.urn, f"{first} {last}", f"{first}.{last}@demo.example".lower(), role))
    return rows


def _link_rows() -> list[tuple[int, str]]:
    emails = [o[1] for o in DEMO_OFFICERS]
    rows = []
    i = 0
    for s in DEMO_OPEN_SCHOOLS:
        if s.trust and TRUSTS[s.trust][2]:
            rows.append((s.urn, TRUST_OFFICER))
        else:
            rows.append((s.urn, emails[i % len(emails)]))
            i += 1
    return rows


def _calendar_events(rng: random.Random, officer_id: int, today: date) -> list[CalendarEvent]:
    """An officer's own busy time over the coming weeks: meetings, provisional holds, a day's leave."""
    kinds = [k for k in EVENT_KINDS for _ in range(k[2])]
    events = []
    leave_day = today + timedelta(days=14 + rng.randint(0, 4))
    while leave_day.weekday() >= 5:
        leave_day += timedelta(days=1)
    for offset in range(1, CALENDAR_WEEKS * 7 + 1):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        if day == leave_day:
            start = datetime.combine(day, time(0, 0), LONDON)
            events.append(
                CalendarEvent(
                    officer_id=officer_id,
                    start=start.astimezone(UTC),
                    end=(start + timedelta(days=1)).astimezone(UTC),
                    subject="Annual leave",
                    show_as="oof",
                )
            )
            continue
        taken: list[tuple[int, int]] = []
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            length = rng.choice((30, 60, 60, 90, 120))
            begin = rng.randrange(9 * 60, 16 * 60 - length + 1, 30)
            if any(begin < b and a < begin + length for a, b in taken):
                continue
            taken.append((begin, begin + length))
            subject, show_as, _ = rng.choice(kinds)
            start = datetime.combine(day, time(begin // 60, begin % 60), LONDON)
            events.append(
                CalendarEvent(
                    officer_id=officer_id,
                    start=start.astimezone(UTC),
                    end=(start + timedelta(minutes=length)).astimezone(UTC),
                    subject=subject,
                    show_as=show_as,
                )
            )
    return events


# --------------------------------------------------------------------------------------------------
# Loading


@dataclass
class DemoSummary:
    la_id: int
    la_code: str
    schools: int
    trusts: int
    officers: int
    contacts: int
    terms: int
    calendar_events: int
    already_loaded: bool = False
    closed_skipped: int = 0
    reports: dict[str, ImportReport] = field(default_factory=dict)

    def summary(self) -> str:
        if self.already_loaded:
            head = f"Demoshire (LA {self.la_code}) was already loaded"
        else:
            head = f"Demoshire (LA {self.la_code}) loaded"
        return (
            f"{head}: {self.schools} schools, {self.trusts} trusts, {self.officers} officers, "
            f"{self.contacts} school contacts, {self.terms} terms, {self.calendar_events} calendar events"
        )


async def _counts(db: Database, la: LA, *, already_loaded: bool) -> DemoSummary:
    async with db.reader() as s:
        school_ids = select(School.id).where(School.la_id == la.id)
        officer_ids = select(Officer.id).where(Officer.la_id == la.id)

        async def n(stmt) -> int:
            return int((await s.exec(stmt)).one())

        return DemoSummary(
            la_id=la.id,
            la_code=la.code,
            schools=await n(select(func.count()).select_from(School).where(School.la_id == la.id)),
            trusts=await n(
                select(func.count(func.distinct(School.trust_code))).where(
                    School.la_id == la.id, School.trust_code.is_not(None)
                )
            ),
            officers=await n(select(func.count()).select_from(Officer).where(Officer.la_id == la.id)),
            contacts=await n(
                select(func.count()).select_from(SchoolContact).where(SchoolContact.school_id.in_(school_ids))
            ),
            terms=await n(select(func.count()).select_from(Term).where(Term.la_id == la.id)),
            calendar_events=await n(
                select(func.count())
                .select_from(CalendarEvent)
                .where(CalendarEvent.officer_id.in_(officer_ids))
            ),
            already_loaded=already_loaded,
        )


async def load_demo(db: Database, *, today: date) -> DemoSummary:
    """Load Demoshire into a migrated database. Loading it again changes nothing (returns early).

    ``today`` anchors the officers' calendar entries (the coming ``CALENDAR_WEEKS`` weeks).
    """
    policy = load_policy(DEMO_POLICY)
    async with db.transaction() as s:
        la = await ensure_la(s, DEMO_LA_CODE, policy)
        has_schools = (
            await s.exec(select(School.id).where(School.la_id == la.id).limit(1))
        ).first() is not None
    if has_schools:
        return await _counts(db, la, already_loaded=True)

    reports: dict[str, ImportReport] = {}
    # Terms first, in their own transaction (import_terms opens one); re-importing them is harmless.
    # The example terms follow the clock: this academic year and the next, whatever the date.
    parsed = parse_terms_csv(example_terms_csv(today))
    reports["terms"] = await import_terms(db, la.id, parsed.terms, source="example")
    reports["terms"].errors[:0] = parsed.errors

    rng = random.Random(DEMO_SEED)
    async with db.transaction() as s:
        gias = await import_gias_in(
            s, demo_gias_path(), la_code=DEMO_LA_CODE, policy=policy, actor=DEMO_ACTOR
        )
        reports["schools"] = gias
        reports["officers"] = await import_officers_in(
            s,
            csv_text(
                ("name", "email", "area", "working_hours", "max_meetings_per_day", "is_admin"),
                [(n, e, a, wh, mx, adm) for n, e, a, wh, mx, adm in DEMO_OFFICERS],
            ),
            la_code=DEMO_LA_CODE,
            actor=DEMO_ACTOR,
        )
        reports["contacts"] = await import_contacts_in(
            s, csv_text(("urn", "name", "email", "role"), _contact_rows(rng)), actor=DEMO_ACTOR
        )
        reports["link_officers"] = await import_link_officers_in(
            s, csv_text(("urn", "officer_email"), _link_rows()), actor=DEMO_ACTOR
        )
        reports["trust_officers"] = await import_trust_officers_in(
            s,
            csv_text(
                ("trust_code", "officer_email"),
                [(code, TRUST_OFFICER) for code, (_n, _f, allocated) in TRUSTS.items() if allocated],
            ),
            la_code=DEMO_LA_CODE,
            actor=DEMO_ACTOR,
        )
        reports["attendance"] = await import_attendance_in(
            s, csv_text(("urn", "attendance_pct", "period"), _attendance_rows(rng)), actor=DEMO_ACTOR
        )
        officers = (await s.exec(select(Officer).where(Officer.la_id == la.id).order_by(Officer.id))).all()
        for officer in officers:
            for event in _calendar_events(rng, officer.id, today):
                s.add(event)
        await s.flush()

    summary = await _counts(db, la, already_loaded=False)
    summary.closed_skipped = gias.closed
    summary.reports = reports
    return summary
