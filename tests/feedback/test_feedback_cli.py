"""``tsm report ...`` end to end on a migrated SQLite file: text output, CSV and PNG files, scope, bad input."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from factories import local, make_world
from feedback_world import NOW, Env

from tsm.adapters.db.engine import Database
from tsm.adapters.db.migrate import upgrade
from tsm.cli import cli
from tsm.clock import FixedClock
from tsm.services.evaluations import Evaluations
from tsm.services.records import Records
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports


async def _seed(url: str) -> None:
    db = Database(url)
    world = await make_world(db)
    clock = FixedClock(NOW)
    env = Env(
        db,
        world,
        clock,
        Evaluations(db, clock=clock),
        Records(db, clock=clock),
        Reports(db, ReferenceData(db), clock=clock),
        ReferenceData(db),
    )
    low = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    await env.meeting(["allocated"], local(2026, 3, 11, 10), status="cancelled")
    await env.evaluations.submit(
        world.contact("low_primary.lead"),
        low,
        {
            "usefulness": "5",
            "working_together": "4",
            "clarity": "4",
            "overall": "5",
            "comments": "Short and useful",
        },
    )
    await env.records.save(
        world.officer("ann"),
        low,
        {
            "attendance_pct": "94",
            "pa": "17",
            "sa": "1",
            "action1_text": "Send letters",
            "action1_owner": "school",
            "action1_due": "2026-03-27",
        },
    )
    await db.dispose()


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The CLI's clock, pinned (tsm.clock): the retention purge below counts from "now", not from the day CI runs.
    monkeypatch.setenv("TSM_CLOCK_START", "2026-04-20T09:00:00+00:00")
    url = f"sqlite:///{tmp_path}/cli.db"
    upgrade(url)
    asyncio.run(_seed(url))

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--database-url", url, *args], obj={}, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_coverage_evaluations_and_actions_from_the_command_line(run, tmp_path):
    out = run(
        "report", "coverage", "--term", "spring 2025-26", "--csv", "out/cov.csv", "--summary-csv", "sum.csv"
    )
    assert "Coverage, Spring term 2025-26 (the whole LA)" in out
    assert (
        "Ann Officer: 7 schools: held 1, held this year 0, booked 0, no show 0, cancelled 0, offered 0, not booked 6; held 14.3%"
        in out
    )
    assert (
        "Bob Officer: 2 schools: held 0, held this year 0, booked 0, no show 0, cancelled 1, offered 0, not booked 1; held 0.0%"
        in out
    )
    rows = (tmp_path / "out" / "cov.csv").read_text().splitlines()
    assert (
        rows[1] == "Spring term 2025-26,100001,Low Primary School,Ann Officer,held,2026-03-10,94.0,17,<5,"
    )  # joint_with: none
    assert len(rows) == 10
    assert (tmp_path / "sum.csv").read_text().splitlines()[
        -1
    ] == "Spring term 2025-26,All officers (LA),9,1,0,0,0,1,0,7,11.1,11.1"  # held_this_year after held

    out = run(
        "report",
        "evaluations",
        "--term",
        "spring 2025-26",
        "--csv",
        "ev.csv",
        "--chart",
        "ev.png",
        "--comments-csv",
        "comments.csv",
    )
    assert (tmp_path / "comments.csv").read_text().splitlines() == [
        "term,officer,school,author,comment",
        "Spring term 2025-26,Ann Officer,Low Primary School,Lead of Low Primary School,Short and useful",
    ]
    assert "Ann Officer: 1 answer from 1 meeting held; usefulness 5.00" in out
    assert (tmp_path / "ev.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "ev.csv").read_text().splitlines()[
        1
    ] == "Spring term 2025-26,Ann Officer,1,1,5.00,4.00,4.00,5.00"

    out = run("report", "actions", "--term", "spring 2025-26", "--csv", "act.csv")
    assert "Open actions, Spring term 2025-26 (the whole LA): 1" in out and "Send letters" in out
    assert (tmp_path / "act.csv").read_text().splitlines()[1].startswith("2026-03-27,")


def test_an_officer_sees_their_own_schools_and_a_contact_none(run):
    out = run("report", "coverage", "--term", "spring 2025-26", "--as", "bob@la.example")
    assert "Bob Officer: 2 schools" in out and "Ann Officer" not in out
    out = run("report", "coverage", "--term", "spring 2025-26", "--officer", "ann@la.example")
    assert "Ann Officer: 7 schools" in out and "Bob" not in out
    err = run(
        "report",
        "coverage",
        "--term",
        "spring 2025-26",
        "--as",
        "bob@la.example",
        "--officer",
        "ann@la.example",
        code=2,
    )
    assert "your own schools" in err
    err = run("report", "coverage", "--as", "lead@100001.sch.example", code=2)
    assert "for link officers" in err
    err = run("report", "coverage", "--term", "winter 1999", code=2)
    assert "Which term?" in err
    assert "Retention 730 days: 0 evaluations" in run("report", "purge")
