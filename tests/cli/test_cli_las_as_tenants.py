"""The must-show of issue 15 item 1 at the command line: two LAs in one database (the demo's Demoshire, 999, and
Norfolk, 926, imported beside it). ``tsm ... --as`` an LA admin of one LA on the other LA's school or meeting is
refused (exit 2) with a sentence that names nothing of it; the national admin right is an operator's grant."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsm.cli import cli

GIAS_HEADER = (
    "URN,LA (code),LA (name),EstablishmentName,TypeOfEstablishment (name),EstablishmentTypeGroup (name),"
    "EstablishmentStatus (name),PhaseOfEducation (name),TrustSchoolFlag (name),Trusts (code),Trusts (name),"
    "Street,Town,Postcode,NumberOfPupils,HeadFirstName,HeadLastName"
)
CLOCK_START = "2026-11-10T09:00:00+00:00"  # a Tuesday of the example autumn term 2026-27
TERMS = Path(__file__).resolve().parents[2] / "tsm" / "data" / "example-terms-2026-28.csv"
NORFOLK_SCHOOL = "Wherry Lane Primary"
DEMO_ADMIN = "alex.carter@demo.example"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSM_CLOCK_START", CLOCK_START)
    url = f"sqlite:///{tmp_path}/cli.db"

    def invoke(*args: str, code: int = 0):
        result = CliRunner().invoke(cli, ["--database-url", url, *args], obj={}, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


@pytest.fixture
def two_las(run, tmp_path):
    run("demo")
    gias = tmp_path / "gias.csv"
    gias.write_text(
        GIAS_HEADER
        + f"\n700001,926,Norfolk,{NORFOLK_SCHOOL},Community school,Local authority maintained schools,Open,Primary,"
        "Not applicable,,,1 Wherry Lane,Norwich,NR1 1AA,200,,\n",
        encoding="utf-8",
    )
    run("import", "gias", str(gias), "--la-code", "926", "--policy", "norfolk")
    officers = tmp_path / "officers.csv"
    officers.write_text(
        "name,email,is_admin\nNell Norfolk,nell@norfolk.example,yes\nOscar Officer,oscar@norfolk.example,no\n",
        encoding="utf-8",
    )
    run("import", "officers", str(officers), "--la-code", "926")
    links = tmp_path / "links.csv"
    links.write_text("urn,officer_email\n700001,oscar@norfolk.example\n", encoding="utf-8")
    run("import", "link-officers", str(links))
    run("import", "terms", str(TERMS), "--la-code", "926")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "urn,name,email,role\n700001,Wendy Lead,wendy@wherry.example,attendance_lead\n"
        "700001,Harry Head,harry@wherry.example,senior_leader\n",
        encoding="utf-8",
    )
    run("import", "contacts", str(contacts))
    slots = run("slots", "--urn", "700001", "--limit", "2", "--as", "oscar@norfolk.example")
    first = re.search(r"\w{3} (\d\d \w{3} \d{4} \d\d:\d\d)–", slots).group(1)
    at = datetime.strptime(first, "%d %b %Y %H:%M")
    booked = run("book", "--urn", "700001", "--at", f"{at:%Y-%m-%d %H:%M}", "--as", "oscar@norfolk.example")
    return int(re.search(r"Meeting id (\d+)", booked).group(1)), at


def refused_naming_nothing(out: str) -> None:
    assert "another LA" in out, out
    for word in (NORFOLK_SCHOOL, "Oscar", "Nell", "Norwich"):
        assert word not in out, (word, out)


def test_an_la_admin_cannot_see_or_act_on_another_las_school_or_meeting_from_the_cli(run, two_las):
    meeting_id, at = two_las
    as_demo_admin = ("--as", DEMO_ADMIN)
    refused_naming_nothing(run("slots", "--urn", "700001", *as_demo_admin, code=2))
    later = f"{at:%Y-%m-%d} 15:00"
    refused_naming_nothing(run("book", "--urn", "700001", "--at", later, *as_demo_admin, code=2))
    refused_naming_nothing(run("move", str(meeting_id), "--to", later, *as_demo_admin, code=2))
    refused_naming_nothing(run("cancel", str(meeting_id), "--reason", "mine now", *as_demo_admin, code=2))
    refused_naming_nothing(run("invite", "--urn", "700001", *as_demo_admin, code=2))
    assert NORFOLK_SCHOOL not in run("meetings", *as_demo_admin)
    # ...and the other way round: Norfolk's admin on a demo school.
    refused_naming_nothing(run("slots", "--urn", "990001", "--as", "nell@norfolk.example", code=2))
    # The meeting is as it was; Norfolk's own admin sees and acts on it.
    listing = run("meetings", "--as", "nell@norfolk.example")
    assert f"{meeting_id:>5}" in listing and "booked" in listing and NORFOLK_SCHOOL in listing
    assert "another LA" not in run("slots", "--urn", "700001", "--limit", "1", "--as", "nell@norfolk.example")


def test_the_national_admin_right_is_granted_and_taken_back_by_the_operator(run, two_las):
    assert "national admin" not in run("admins", "list")
    granted = run("admins", "grant-national", "NELL@norfolk.example")
    assert "926" in granted and "national admin" in granted and "LA admin" in granted
    listing = run("admins", "list")
    assert re.search(r"926 .*nell@norfolk.example>: LA admin, national admin", listing)
    assert re.search(r"999 .*alex.carter@demo.example>: LA admin$", listing, re.M)
    # A national admin still acts only in their own LA.
    refused_naming_nothing(run("slots", "--urn", "990001", "--as", "nell@norfolk.example", code=2))
    assert "national admin" not in run("admins", "revoke-national", "nell@norfolk.example")
    assert "No officer with email nobody@x.example" in run(
        "admins", "grant-national", "nobody@x.example", code=2
    )


def test_reports_per_la_and_across_las_for_a_national_admin_only(run, two_las, tmp_path):
    assert "say which (--la-code), or --all-las" in run("report", "coverage", code=2)
    norfolk = run("report", "coverage", "--la-code", "926")  # the operator: any LA
    assert "Oscar Officer: 1 schools" in norfolk
    assert "Demoshire" not in run("report", "coverage", "--as", "nell@norfolk.example")  # their own LA
    refused = run("report", "coverage", "--la-code", "999", "--as", "nell@norfolk.example", code=2)
    assert "your own LA's reports only" in refused and "Alex" not in refused
    assert "national admins" in run("report", "coverage", "--all-las", "--as", "nell@norfolk.example", code=2)

    run("admins", "grant-national", "nell@norfolk.example")
    every = run(
        "report",
        "coverage",
        "--all-las",
        "--as",
        "nell@norfolk.example",
        "--csv",
        str(tmp_path / "all.csv"),
        "--summary-csv",
        str(tmp_path / "summary.csv"),
    )
    assert "Coverage across 2 LAs" in every
    assert re.search(r"^Norfolk \(926\): Coverage, Autumn term 2026-27", every, re.M)
    assert re.search(r"^Demoshire \(999\): Coverage", every, re.M)
    assert re.search(r"^All LAs: 31 schools: .*booked 1", every, re.M)  # the demo's 30 and Norfolk's 1
    rows = (tmp_path / "all.csv").read_text().splitlines()
    assert rows[0].startswith("la_code,term,urn,school")
    assert {r.split(",")[0] for r in rows[1:]} == {"926", "999"}
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in summary[1:]] == ["Norfolk (926)", "Demoshire (999)", "All LAs"]
    assert "--la-code or --officer" in run("report", "actions", "--all-las", "--la-code", "926", code=2)
    assert "open actions" in run(
        "report", "actions", "--all-las", "--all-terms", "--as", "nell@norfolk.example"
    )
    assert "evaluations" in run("report", "evaluations", "--all-las", "--as", "nell@norfolk.example")
