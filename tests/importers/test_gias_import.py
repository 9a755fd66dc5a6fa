"""GIAS school import: LA filter, closed schools, bad rows, head teachers never stored, upserts, phases, routes."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from sqlmodel import func, select

from tsm.adapters.db.directory import LA, School, Trust
from tsm.adapters.db.history import AuditLog
from tsm.demo import GIAS_HEADER, HEAD_COLUMNS
from tsm.domain.policy import load_policy
from tsm.importers.gias import detect_encoding, import_attendance, import_gias
from tsm.importers.people import import_officers, import_trust_officers

NORFOLK = "926"
HEADS = {
    "HeadTitle (name)": "Dr",
    "HeadFirstName": "Zebedee",
    "HeadLastName": "Quimbleworth",
    "HeadPreferredJobTitle": "Chief Wizardess",
}
HEAD_VALUES = ("Zebedee", "Quimbleworth", "Chief Wizardess")

LA_MAINTAINED = "Local authority maintained schools"


def school(
    urn,
    name,
    *,
    type_name="Community school",
    group=LA_MAINTAINED,
    phase="Primary",
    la=NORFOLK,
    status="Open",
    trust_code="",
    trust_name="",
    pupils="210",
    **extra,
) -> dict[str, str]:
    row = dict.fromkeys(GIAS_HEADER, "")
    row.update(
        {
            "URN": str(urn),
            "LA (code)": la,
            "LA (name)": "Norfolk" if la == NORFOLK else "Kent",
            "EstablishmentName": name,
            "TypeOfEstablishment (name)": type_name,
            "EstablishmentTypeGroup (name)": group,
            "EstablishmentStatus (name)": status,
            "PhaseOfEducation (name)": phase,
            "TrustSchoolFlag (name)": "Supported by a multi-academy trust"
            if trust_code
            else "Not applicable",
            "Trusts (code)": trust_code,
            "Trusts (name)": trust_name,
            "Street": "1 Made Up Lane",
            "Town": "Notown",
            "Postcode": "zz9 9zz",
            "NumberOfPupils": pupils,
            **HEADS,
        }
    )
    row.update(extra)
    return row


def write_gias(path, rows, *, encoding="cp1252"):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GIAS_HEADER, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


SAMPLE = [
    school(900001, "Alpha Community Primary School"),  # line 2
    school(
        900002,
        "Beta Academy",
        type_name="Academy converter",
        group="Academies",  # line 3
        phase="Secondary",
        trust_code="5001",
        trust_name="Made Up Trust",
    ),
    school(
        900003,
        "Gamma Special School",
        type_name="Community special school",  # line 4
        group="Special schools",
        phase="Not applicable",
    ),
    school(800001, "Kentish School", la="886"),  # line 5
    school(900004, "Delta Closed Primary", status="Closed"),  # line 6
    school(
        900005,
        "Epsilon Independent School",
        type_name="Other independent school",  # line 7
        group="Independent schools",
        phase="Not applicable",
    ),
    school(
        900006,
        "Zeta Special Academy",
        type_name="Academy special converter",  # line 8
        group="Academies",
        phase="Secondary",
        trust_code="5001",
        trust_name="Made Up Trust",
    ),
    school(
        900007,
        "Eta Independent Special School",
        type_name="Other independent special school",  # line 9
        group="Special schools",
        phase="Not applicable",
    ),
    school(
        900008,
        "Theta Academy",
        type_name="Academy sponsor led",
        group="Academies",  # line 10
        phase="Primary",
        trust_code="5002",
        trust_name="Another Trust",
    ),
]


@pytest.fixture
def url(sqlite_url) -> str:
    return sqlite_url


@pytest.fixture
def database(db):
    return db


@pytest.fixture
def norfolk():
    return load_policy("norfolk")


async def schools_by_urn(db) -> dict[int, School]:
    async with db.reader() as s:
        return {sc.urn: sc for sc in (await s.exec(select(School))).all()}


def text_values(url: str):
    """Every text value of every column of every table (JSON included)."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str):
                        yield table, value
    finally:
        conn.close()


async def test_imports_only_the_la_skips_closed_and_creates_the_la(database, tmp_path, norfolk):
    path = write_gias(tmp_path / "edubasealldata20261120.csv", SAMPLE)
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)

    assert report.errors == []
    assert (report.ok, report.created, report.updated) == (7, 7, 0)
    assert report.closed == 1 and report.other_la == 1
    assert "1 closed (GIAS status Closed): 900004 Delta Closed Primary" in report.summary()
    schools = await schools_by_urn(database)
    assert set(schools) == {900001, 900002, 900003, 900005, 900006, 900007, 900008}
    async with database.reader() as s:
        la = (await s.exec(select(LA).where(LA.code == NORFOLK))).one()
        trusts = {t.code: t.name for t in (await s.exec(select(Trust))).all()}
        audit = (await s.exec(select(AuditLog))).all()
    assert (la.name, la.policy, la.timezone) == ("Norfolk", "norfolk", "Europe/London")
    assert trusts == {"5001": "Made Up Trust", "5002": "Another Trust"}
    alpha = schools[900001]
    assert (alpha.la_id, alpha.name, alpha.town, alpha.postcode, alpha.pupils, alpha.open) == (
        la.id,
        "Alpha Community Primary School",
        "Notown",
        "ZZ9 9ZZ",
        210,
        True,
    )
    assert schools[900002].trust_code == "5001" and schools[900002].trust_name == "Made Up Trust"
    assert [a.action for a in audit] == ["import_gias"]
    assert audit[0].detail["file"] == "edubasealldata20261120.csv"


async def test_bad_rows_are_reported_by_line_and_good_rows_kept(database, tmp_path, norfolk):
    rows = [
        school(900001, "Good One"),  # line 2
        school("", "No URN"),  # line 3
        school("12A", "Letters In URN"),  # line 4
        school(900010, ""),  # line 5
        school(900011, "Bad Pupils", pupils="lots"),  # line 6
        school(900012, "Good Two"),  # line 7
        school(900001, "Good One Again"),  # line 8
        school(900013, "X" * 201),  # line 9
        school("", "", la="886"),  # line 10: another LA's row is not ours to judge
    ]
    path = write_gias(tmp_path / "g.csv", rows)
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)

    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 8, 9]
    messages = dict(report.errors)
    assert "URN is missing" in messages[3]
    assert "'12A' is not a whole number" in messages[4]
    assert "EstablishmentName is missing" in messages[5]
    assert "NumberOfPupils 'lots'" in messages[6]
    assert "more than once" in messages[8]
    assert "longer than 200" in messages[9]
    assert report.ok == 2
    schools = await schools_by_urn(database)
    assert set(schools) == {900001, 900012}
    assert schools[900001].name == "Good One"
    assert "line 3: URN is missing" in report.summary()


async def test_unreadable_records_and_control_characters(database, tmp_path, norfolk):
    path = tmp_path / "g.csv"
    path.write_text(
        "URN,LA (code),EstablishmentName,TypeOfEstablishment (name),EstablishmentStatus (name)\n"
        "900001,926,Good\x00One,Community school,Open\n"
        f"900002,926,{'x' * 200_000},Community school,Open\n"  # longer than the csv module allows in a field
        '900003,926,"Two\nLines",Community school,Open\n'
        "900004,926,Fine,Community school,Open\n",
        encoding="utf-8",
    )
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert [line for line, _ in report.errors] == [3]
    assert "unreadable CSV" in report.errors[0][1]
    names = {urn: s.name for urn, s in (await schools_by_urn(database)).items()}
    assert names == {900001: "Good One", 900003: "Two Lines", 900004: "Fine"}


async def test_not_a_gias_file_is_reported_on_line_one(database, tmp_path, norfolk):
    path = tmp_path / "other.csv"
    path.write_text("name,email\nx,y\n", encoding="utf-8")
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert report.ok == 0 and report.errors[0][0] == 1
    assert "URN" in report.errors[0][1]
    assert await schools_by_urn(database) == {}


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
async def test_head_teacher_names_never_reach_the_database(database, url, tmp_path, norfolk, encoding):
    rows = [*SAMPLE, school(900020, "St Mary\u2019s Primary School")]
    path = write_gias(tmp_path / "g.csv", rows, encoding=encoding)
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert report.ok == 8 and not report.errors
    # the file does hold them, and the import read it
    raw = path.read_bytes().decode(detect_encoding(path))
    assert all(v in raw for v in HEAD_VALUES)
    assert all(c in raw.splitlines()[0] for c in HEAD_COLUMNS)
    assert (await schools_by_urn(database))[900020].name == "St Mary\u2019s Primary School"

    values = list(text_values(url))
    assert values, "the scan found no text at all"
    leaks = [(table, v) for table, v in values for needle in HEAD_VALUES if needle.lower() in v.lower()]
    assert leaks == []


def test_encoding_detection(tmp_path):
    (tmp_path / "a.csv").write_bytes("Caf\u00e9 \u2019".encode("cp1252"))
    (tmp_path / "b.csv").write_bytes("Caf\u00e9 \u2019".encode("utf-8-sig"))
    (tmp_path / "c.csv").write_bytes(b"\x81\x8d")  # undefined in cp1252
    assert detect_encoding(tmp_path / "a.csv") == "cp1252"
    assert detect_encoding(tmp_path / "b.csv") == "utf-8-sig"
    assert detect_encoding(tmp_path / "c.csv") == "latin-1"


async def test_reimport_updates_and_never_duplicates(database, tmp_path, norfolk):
    path = write_gias(tmp_path / "g.csv", SAMPLE)
    first = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert first.created == 7

    changed = [dict(r) for r in SAMPLE]
    changed[0]["EstablishmentName"] = "Alpha Primary School (renamed)"
    changed[1]["Trusts (name)"] = changed[6]["Trusts (name)"] = "Made Up Trust (renamed)"
    changed[1]["NumberOfPupils"] = "999"
    write_gias(path, changed)
    second = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert (second.ok, second.created, second.updated, second.unchanged) == (7, 0, 3, 4)
    # 900001 renamed; 900002 and 900006 carry trust 5001's new name

    third = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert (third.ok, third.created, third.updated, third.unchanged) == (7, 0, 0, 7)

    schools = await schools_by_urn(database)
    assert len(schools) == 7
    assert schools[900001].name == "Alpha Primary School (renamed)"
    assert schools[900002].pupils == 999
    async with database.reader() as s:
        assert (await s.exec(select(func.count()).select_from(School))).one() == 7
        assert (await s.exec(select(func.count()).select_from(LA))).one() == 1
        trusts = {t.code: t.name for t in (await s.exec(select(Trust))).all()}
    assert trusts == {"5001": "Made Up Trust (renamed)", "5002": "Another Trust"}


async def test_a_school_that_closes_is_marked_not_open(database, tmp_path, norfolk):
    path = write_gias(tmp_path / "g.csv", SAMPLE)
    await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    rows = [dict(r) for r in SAMPLE]
    rows[0]["EstablishmentStatus (name)"] = "Closed"
    write_gias(path, rows)
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert report.closed == 2 and report.ok == 6
    schools = await schools_by_urn(database)
    assert schools[900001].open is False
    assert 900004 not in schools


async def test_phase_uses_the_type_before_the_group(database, tmp_path, norfolk):
    rows = [
        *SAMPLE,
        school(900030, "Middle Primaryish", phase="Middle deemed primary"),
        school(
            900031,
            "Sixth Form Centre",
            type_name="Academy 16-19 converter",
            group="Academies",
            phase="16 plus",
        ),  # not a school a TSM covers (issue 13): not imported
        school(900032, "All Through", type_name="Academy converter", group="Academies", phase="All-through"),
        school(
            900033, "Free Special", type_name="Free schools special", group="Free Schools", phase="Secondary"
        ),
        school(
            900034,
            "Community Special With Primary Phase",
            type_name="Community special school",
            group="Special schools",
            phase="Primary",
        ),
    ]
    path = write_gias(tmp_path / "g.csv", rows)
    await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    phase = {urn: s.phase for urn, s in (await schools_by_urn(database)).items()}
    assert phase == {
        900001: "primary",
        900002: "secondary",
        900003: "special",
        900005: "other",
        900006: "special",  # academy special: group "Academies", type decides
        900007: "special",  # independent special school: group "Special schools"
        900008: "primary",
        900030: "primary",
        900032: "secondary",
        900033: "special",
        900034: "special",
    }


async def test_norfolk_booking_routes(database, tmp_path, norfolk):
    path = write_gias(tmp_path / "g.csv", SAMPLE)
    await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    routes = {urn: s.booking_route for urn, s in (await schools_by_urn(database)).items()}
    assert routes == {
        900001: "self",
        900002: "self",  # in a trust, but the trust has no allocated officer yet
        900003: "contacted_directly",  # LA-maintained special school (GIAS group "Special schools")
        900005: "contacted_directly",  # independent
        900006: "self",  # academy special: not LA-maintained, trust without officer
        900007: "contacted_directly",  # independent special
        900008: "self",
    }

    # Trust 5001 gets an allocated officer: its schools are contacted directly from now on.
    officers = tmp_path / "officers.csv"
    officers.write_text("name,email\nMade Up Officer,Officer@Norfolk.example\n", encoding="utf-8")
    assert (await import_officers(database, officers, la_code=NORFOLK)).ok == 1
    trust_file = tmp_path / "trusts.csv"
    trust_file.write_text("trust_code,officer_email\n5001,officer@norfolk.example\n", encoding="utf-8")
    assert (await import_trust_officers(database, trust_file)).errors == []
    schools = await schools_by_urn(database)
    assert schools[900002].booking_route == "contacted_directly"
    assert schools[900006].booking_route == "contacted_directly"
    assert "allocated" in schools[900002].booking_route_reason
    assert schools[900008].booking_route == "self"

    # A GIAS re-import keeps the trust's allocation (and so the route).
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk)
    assert report.updated == 0
    assert (await schools_by_urn(database))[900002].booking_route == "contacted_directly"


async def test_progress_reports_every_row(database, tmp_path, norfolk):
    rows = [school(910000 + i, f"School {i}", la=NORFOLK if i % 3 else "886") for i in range(1234)]
    path = write_gias(tmp_path / "g.csv", rows)
    calls: list[int] = []
    report = await import_gias(database, path, la_code=NORFOLK, policy=norfolk, progress=calls.append)
    assert sum(calls) == 1234 and len(calls) >= 3
    assert report.ok + report.other_la == 1234


async def test_attendance_import_sets_figures_and_recomputes_the_route_reason(database, tmp_path, norfolk):
    await import_gias(database, write_gias(tmp_path / "g.csv", SAMPLE), la_code=NORFOLK, policy=norfolk)
    before = (await schools_by_urn(database))[900001]
    assert "no attendance figure" in before.booking_route_reason

    att = tmp_path / "attendance.csv"
    att.write_text(
        "urn,attendance_pct,period\n"
        "900001,92.5,2024-25 autumn and spring\n"  # line 2: below primary 94.84 (2024/25 autumn+spring)
        "900008,96.0%,2024-25 autumn and spring\n"  # line 3: above
        "900002,101,2025-26\n"  # line 4
        "900003,abc,2025-26\n"  # line 5
        "123456,90,2025-26\n"  # line 6: unknown school
        ",90,2025-26\n",  # line 7
        encoding="utf-8",
    )
    report = await import_attendance(database, att)
    assert [line for line, _ in report.errors] == [4, 5, 6, 7]
    assert report.ok == 2 and report.updated == 2
    schools = await schools_by_urn(database)
    assert (schools[900001].attendance_pct, schools[900001].attendance_period) == (
        92.5,
        "2024-25 autumn and spring",
    )
    assert "below the national average" in schools[900001].booking_route_reason
    assert schools[900001].booking_route == "self"
    assert schools[900008].attendance_pct == 96.0
    assert "not below the national average" in schools[900008].booking_route_reason
    assert schools[900002].attendance_pct is None

    again = await import_attendance(database, att)
    assert (again.ok, again.updated) == (2, 0)
