"""The command-line interface end to end on a fresh SQLite file: migrate, demo, import, slots, book, cancel."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from click.testing import CliRunner

from tsm.cli import cli

GIAS_HEADER = (
    "URN,LA (code),LA (name),EstablishmentName,TypeOfEstablishment (name),EstablishmentTypeGroup (name),"
    "EstablishmentStatus (name),PhaseOfEducation (name),TrustSchoolFlag (name),Trusts (code),Trusts (name),"
    "Street,Town,Postcode,NumberOfPupils,HeadFirstName,HeadLastName"
)


# The CLI's clock is pinned through its settings (TSM_CLOCK_START), so these tests do not depend on the day they
# run: a Tuesday in the middle of the demo's example autumn term (the demo's terms follow the clock too).
CLOCK_START = "2026-11-10T09:00:00+00:00"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # invitations and the default database stay in the test's folder
    monkeypatch.setenv("TSM_CLOCK_START", CLOCK_START)
    url = f"sqlite:///{tmp_path}/cli.db"

    def invoke(*args: str, code: int = 0):
        result = CliRunner().invoke(cli, ["--database-url", url, *args], obj={}, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_demo_then_list_book_move_and_cancel(run):
    out = run("demo")
    assert "30 schools" in out and "3 officers" in out
    assert "already loaded" in run("demo")  # idempotent

    slots = run("slots", "--urn", "990001", "--limit", "3")
    assert "with Alex Carter" in slots
    starts = re.findall(r"(\w{3} \d\d \w{3} \d{4} \d\d:\d\d)–", slots)
    assert len(starts) == 3
    first = datetime.strptime(starts[0], "%a %d %b %Y %H:%M")
    second = datetime.strptime(starts[2], "%a %d %b %Y %H:%M")

    booked = run(
        "book", "--urn", "990001", "--at", f"{first:%Y-%m-%d %H:%M}", "--as", "mohammed.iqbal@demo.example"
    )
    meeting_id = int(re.search(r"Meeting id (\d+)", booked).group(1))
    assert "TSM booked: Ashcombe Primary School with Alex Carter" in booked

    again = run(
        "book",
        "--urn",
        "990001",
        "--at",
        f"{second:%Y-%m-%d %H:%M}",
        "--as",
        "mohammed.iqbal@demo.example",
        code=2,
    )
    assert "already booked" in again

    moved = run(
        "move", str(meeting_id), "--to", f"{second:%Y-%m-%d %H:%M}", "--as", "mohammed.iqbal@demo.example"
    )
    assert "TSM moved" in moved

    listing = run("meetings", "--urn", "990001")
    assert f"{meeting_id:>5}" in listing and "moved" in listing

    cancelled = run(
        "cancel", str(meeting_id), "--reason", "Ofsted visit", "--as", "mohammed.iqbal@demo.example"
    )
    assert "TSM cancelled" in cancelled
    assert run("meetings", "--urn", "990001").strip() == "no meetings"
    assert "cancelled" in run("meetings", "--urn", "990001", "--all")


def test_a_contact_cannot_act_for_another_school(run):
    run("demo")
    out = run("slots", "--urn", "990002", "--as", "mohammed.iqbal@demo.example", code=2)
    assert "another school" in out


def test_as_resolves_people_like_teams_so_an_inactive_officer_or_contact_cannot_act(run, tmp_path):
    """``--as`` goes through the one identity resolver (Directory.identify), as a Teams sender does."""
    import sqlite3

    run("demo")
    assert "Error" not in run("meetings", "--as", "priya.shah@demo.example")  # an active officer acts
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE officer SET active = 0 WHERE email = 'priya.shah@demo.example'")
        db.execute("UPDATE school_contact SET active = 0 WHERE email = 'mohammed.iqbal@demo.example'")
    out = run("meetings", "--as", "priya.shah@demo.example", code=2)
    assert "priya.shah@demo.example is marked inactive, so they cannot act" in out
    out = run("slots", "--urn", "990001", "--as", "Mohammed.Iqbal@demo.example", code=2)
    assert "marked inactive" in out and "no free slots" not in out and "with Alex Carter" not in out
    out = run("meetings", "--as", "nobody@demo.example", code=2)
    assert "No officer or school contact with email nobody@demo.example" in out
    # Listing an inactive officer's meetings is a filter, not someone acting: still allowed.
    assert "Error" not in run("meetings", "--officer", "priya.shah@demo.example")


def test_import_gias_keeps_good_rows_and_reports_bad_ones_by_line(run, tmp_path):
    run("db", "upgrade")
    csv = tmp_path / "gias.csv"
    csv.write_text(
        "\n".join(
            [
                GIAS_HEADER,
                "500001,926,Norfolk,Good Primary,Community school,Local authority maintained schools,Open,Primary,,,,"
                "1 Road,Norwich,NR1 1AA,200,Secret,Head",
                "notanumber,926,Norfolk,Bad Row School,Community school,Local authority maintained schools,Open,Primary,,,,"
                "1 Road,Norwich,NR1 1AA,200,Secret,Head",
                "500003,886,Kent,Other LA School,Community school,Local authority maintained schools,Open,Primary,,,,"
                "1 Road,Dover,CT1 1AA,200,Secret,Head",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = run("import", "gias", str(csv), "--la-code", "926", "--policy", "norfolk", code=1)
    assert "1 schools imported" in out or "1 school imported" in out
    assert "line 3" in out
    assert "Secret" not in (tmp_path / "cli.db").read_bytes().decode("latin-1")


def test_a_date_without_a_time_is_a_clear_error(run):
    run("demo")
    result = CliRunner().invoke(cli, ["book", "--urn", "990001", "--at", "next tuesday"], obj={})
    assert result.exit_code == 2 and "is not a date and time" in result.output


def test_manifest_command_builds_the_teams_package(run, tmp_path):
    out = run(
        "manifest", "--bot-id", "6f1c2a9e-1111-4c3b-9a55-0123456789ab", "--out", str(tmp_path / "pkg.zip")
    )
    assert "Teams app package written" in out and (tmp_path / "pkg.zip").stat().st_size > 1000
    bad = CliRunner().invoke(
        cli, ["manifest", "--bot-id", "not-a-guid", "--out", str(tmp_path / "x.zip")], obj={}
    )
    assert bad.exit_code == 2


def test_a_booking_made_from_the_cli_tells_the_school_and_the_officer(run, tmp_path):
    """The CLI records the same domain event as the chat: the scheduler's event sweep tells the school's staff
    (a proposal to accept) and the officer (an admin booked in their calendar)."""
    import asyncio
    from datetime import datetime as dt

    from fakes.messenger import ScriptedMessenger

    from scheduler.service import build_jobs
    from tsm.bootstrap import build_app
    from tsm.clock import FixedClock
    from tsm.settings import Settings

    run("demo")
    slots = run("slots", "--urn", "990001", "--limit", "1")
    [start] = re.findall(r"(\w{3} \d\d \w{3} \d{4} \d\d:\d\d)–", slots)
    run("book", "--urn", "990001", "--at", f"{datetime.strptime(start, '%a %d %b %Y %H:%M'):%Y-%m-%d %H:%M}")

    async def sweep():
        app = build_app(
            Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/cli.db"),
            clock=FixedClock(dt.fromisoformat(CLOCK_START)),
        )
        try:
            messenger = ScriptedMessenger()
            result = await build_jobs(app, messenger, worker_id="w1").events()
            return result, messenger.sent
        finally:
            await app.close()

    result, sent = asyncio.run(sweep())
    assert result.by_kind["ev.booked_for_officer"] == 1 and result.by_kind["ev.proposal"] >= 1
    kinds = {r.kind for r, _ in sent}
    assert kinds == {
        "contact",
        "officer",
        "attendee",
    }  # attendee: the invitation by email (the local calendar)
    assert any("Alex Carter booked your TSM" in m.text for r, m in sent if r.kind == "contact")


def test_undelivered_lists_who_missed_what_and_why(run, tmp_path):
    """Messages the bot could not deliver are listed for an LA admin, never only in a log line."""
    import asyncio
    from datetime import datetime as dt

    from fakes.messenger import ScriptedMessenger

    from scheduler.service import build_jobs
    from tsm.bootstrap import build_app
    from tsm.clock import FixedClock
    from tsm.settings import Settings

    run("demo")
    assert "0 messages not delivered in the last 14 days" in run("undelivered")
    slots = run("slots", "--urn", "990001", "--limit", "1")
    [start] = re.findall(r"(\w{3} \d\d \w{3} \d{4} \d\d:\d\d)–", slots)
    run("book", "--urn", "990001", "--at", f"{datetime.strptime(start, '%a %d %b %Y %H:%M'):%Y-%m-%d %H:%M}")

    async def sweep():  # nobody has the app: every message is undeliverable
        app = build_app(
            Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/cli.db"),
            clock=FixedClock(dt.fromisoformat(CLOCK_START)),
        )
        try:
            return await build_jobs(app, ScriptedMessenger(installs=app.db), worker_id="w1").events()
        finally:
            await app.close()

    result = asyncio.run(sweep())
    out = run("undelivered")
    assert (
        f"{result.undeliverable} messages not delivered in the last 14 days" in out
        and result.undeliverable >= 2
    )
    assert "proposal" in out and "(Ashcombe Primary School): has not installed the TSM app yet" in out
    assert "booked for officer" in out and "Alex Carter (officer): has not installed the TSM app yet" in out
    mine = run("undelivered", "--officer", "priya.shah@demo.example")
    assert "0 messages not delivered" in mine  # Ashcombe is Alex Carter's school, not Priya Shah's


def test_report_coverage_shows_each_school_of_a_joint_tsm_as_booked_joint_naming_the_others(run, tmp_path):
    run("demo")
    slots = run("slots", "--urn", "990013", "--limit", "1")  # Larkspur, of Priya Shah's Wexbridge trust
    start = datetime.strptime(
        re.search(r"\w{3} (\d\d \w{3} \d{4} \d\d:\d\d)–", slots).group(1), "%d %b %Y %H:%M"
    )
    booked = run("book", "--urn", "990013", "--urn", "990017", "--at", f"{start:%Y-%m-%d %H:%M}")
    assert "Larkspur Primary School & Queensway Academy" in booked

    out = run("report", "coverage", "--as", "priya.shah@demo.example", "--csv", str(tmp_path / "c.csv"))
    assert "booked 2," in out  # each school's TSM of the term, counted once each
    assert "    Larkspur Primary School (990013), Priya Shah: booked (joint) with Queensway Academy" in out
    assert "    Queensway Academy (990017), Priya Shah: booked (joint) with Larkspur Primary School" in out
    rows = {r.split(",")[1]: r for r in (tmp_path / "c.csv").read_text(encoding="utf-8").splitlines()}
    assert rows["990013"].endswith(f",booked,{start:%Y-%m-%d},,,,Queensway Academy")
    assert rows["990017"].endswith(",Larkspur Primary School")
    assert rows["990025"].endswith(",not_booked,,,,,")  # Zephyr, of the same trust, not in it
