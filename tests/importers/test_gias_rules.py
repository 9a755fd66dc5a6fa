"""Issue 13 items 1 and 12: only schools are schools, and imports refuse what they cannot place, on the Norfolk and
Kent profiles, with tests/importers/data/gias-every-type.csv: GIAS's real header, every establishment type and status
(made-up establishments; ``tests/importers/data/make_gias_every_type.py`` writes it)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from factories import local, make_world, told
from sqlmodel import select
from test_gias_import import school, write_gias

from tsm.adapters.db.directory import LA, School
from tsm.adapters.db.meetings import Meeting
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.demo import GIAS_HEADER
from tsm.domain.errors import BookingRefused
from tsm.domain.la_codes import english_la_codes, la_code_problem
from tsm.domain.policy import DEFAULT_ESTABLISHMENT_TYPES, load_policy, parse_policy
from tsm.importers.gias import import_gias
from tsm.settings import Settings

EVERY_TYPE = Path(__file__).parent / "data" / "gias-every-type.csv"
PROFILES = [("norfolk", "926", 960000), ("kent", "886", 860000)]

# What a TSM covers: (URN offset in the fixture, type). Offsets 1-41 are the types in GIAS's order, 100+ the extras.
COVERED = {
    1: "Community school",
    2: "Voluntary aided school",
    3: "Voluntary controlled school",
    4: "Foundation school",
    5: "City technology college",
    6: "Community special school",
    7: "Non-maintained special school",
    8: "Other independent special school",
    9: "Other independent school",
    10: "Foundation special school",
    11: "Pupil referral unit",
    18: "Academy sponsor led",
    23: "Academy special sponsor led",
    24: "Academy converter",
    25: "Free schools",
    26: "Free schools special",
    28: "Free schools alternative provision",
    30: "University technical college",
    31: "Studio schools",
    32: "Academy alternative provision converter",
    33: "Academy alternative provision sponsor led",
    34: "Academy special converter",
    100: "Community school (middle deemed primary)",
    101: "Academy converter (middle deemed secondary)",
    103: "Community school (open, but proposed to close)",
}
NOT_SCHOOLS = [
    "LA nursery school",
    "Further education",
    "Secure units",
    "Offshore schools",
    "Service children's education",
    "Miscellaneous",
    "Higher education institutions",
    "Welsh establishment",
    "Sixth form centres",
    "Special post 16 institution",
    "British schools overseas",
    "Free schools 16 to 19",
    "Academy 16-19 converter",
    "Academy 16 to 19 sponsor led",
    "Children's centre",
    "Children's centre linked site",
    "Online provider",
    "Institution funded by other government department",
    "Academy secure 16 to 19",
]


async def stored(db) -> dict[int, School]:
    async with db.reader() as s:
        return {sc.urn: sc for sc in await s.exec(select(School))}


def test_the_fixture_has_gias_header_every_type_and_every_status():
    with open(EVERY_TYPE, encoding="cp1252", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(EVERY_TYPE, encoding="cp1252", newline="") as f:
        assert tuple(next(csv.reader(f))) == GIAS_HEADER
    types = {r["TypeOfEstablishment (name)"] for r in rows}
    assert types == set(DEFAULT_ESTABLISHMENT_TYPES) | set(NOT_SCHOOLS) and len(types) == 41
    assert {r["EstablishmentStatus (name)"] for r in rows} == {
        "Open",
        "Closed",
        "Open, but proposed to close",
        "Proposed to open",
    }


# ------------------------------------------------------------------ item 1: only schools are schools


@pytest.mark.parametrize(("profile", "la_code", "base"), PROFILES)
async def test_only_schools_are_schools_the_rest_is_skipped_with_the_reason(db, profile, la_code, base):
    report = await import_gias(db, EVERY_TYPE, la_code=la_code, policy=load_policy(profile))
    assert report.errors == []
    schools = await stored(db)
    assert set(schools) == {base + k for k in COVERED}  # no college, nursery, children's centre, overseas...
    assert report.ok == len(COVERED) == 25 and report.other_la == 46
    skipped = {why: [urn for urn, _ in rows] for why, rows in report.skipped.items()}
    for type_name in NOT_SCHOOLS:
        assert len(skipped[f"{type_name}: not a school a TSM covers"]) == 1
    assert skipped["proposed to open (not open yet)"] == [base + 104]
    assert skipped["closed (GIAS status Closed)"] == [base + 102]
    text = report.summary()
    assert "21 establishments of the LA skipped, 46 rows for other LAs ignored" in text
    assert (
        f"1 Further education: not a school a TSM covers: {base + 13} Made Up College of Further Education"
        in text
    )
    assert f"1 proposed to open (not open yet): {base + 104} Proposed New Academy" in text
    assert "25 schools imported" in text
    # the phases of what is kept: PRUs and AP their own, special by type, middle schools by their deemed phase
    phase = {urn - base: sc.phase for urn, sc in schools.items()}
    assert {phase[k] for k in (11, 28, 32, 33)} == {"pru_ap"}
    assert {phase[k] for k in (6, 7, 8, 10, 23, 26, 34)} == {"special"}
    assert (phase[100], phase[101], phase[25], phase[1]) == ("primary", "secondary", "secondary", "primary")


@pytest.mark.parametrize(("profile", "la_code", "base"), PROFILES)
async def test_the_establishment_types_are_a_list_in_the_profile(db, profile, la_code, base):
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("tsm.policies").joinpath(f"{profile}.toml").read_text())
    raw["schools"] = {"establishment_types": [*DEFAULT_ESTABLISHMENT_TYPES, "LA nursery school"]}
    policy = parse_policy(profile, raw)
    await import_gias(db, EVERY_TYPE, la_code=la_code, policy=policy)
    nursery = (await stored(db))[base + 12]
    assert nursery.phase == "nursery"  # its own phase, not compared with primary schools
    assert (
        load_policy(profile).establishment_types == DEFAULT_ESTABLISHMENT_TYPES
    )  # the default when not given
    assert not load_policy(profile).covers_type("Further education")


@pytest.mark.parametrize("profile", ["norfolk", "kent"])
async def test_a_school_gias_lists_as_closed_keeps_no_future_bookings_and_cannot_book(
    sqlite_url, tmp_path, profile
):
    clock = FixedClock(local(2026, 1, 5, 8))
    app = build_app(
        Settings(database_url=sqlite_url, invitations_dir=tmp_path / "inv", calendar_backend="local"),
        clock=clock,
    )
    try:
        w = await make_world(app.db, policy=profile)
        booked = await app.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 1, 14, 10))
        past_term = await app.booking.book(w.officer("ann"), w.schools["trust_a"], local(2026, 1, 9, 10))
        await told(app, clock)
        rows = [
            school(100001, "Low Primary School", status="Closed"),
            school(
                100006,
                "Trust A Primary",
                type_name="Academy sponsor led",
                group="Academies",
                trust_code="T1",
                trust_name="Shared Learning Trust",
            ),
        ]
        path = write_gias(tmp_path / "g.csv", rows)
        report = await import_gias(
            app.db, path, la_code="926", policy=load_policy(profile), booking=app.booking
        )
        assert report.no_longer_open == [w.schools["low_primary"]] and report.cancelled == 1
        assert "1 school is no longer open; 1 future TSM cancelled, their officers told" in report.summary()
        async with app.db.reader() as s:
            meeting = await s.get(Meeting, booked.meeting.id)
            other = await s.get(Meeting, past_term.meeting.id)
        assert meeting.status == "cancelled" and other.status == "booked"  # an open school's TSM stands
        messages = await told(app, clock)
        to_officer = [m for r, m in messages if r.kind == "officer" and r.id == w.officers["ann"]]
        text = to_officer[0].text.replace("\\", "")  # the message escapes Markdown
        assert "was cancelled by the TSM service" in text
        assert "Low Primary School has closed (GIAS lists it as closed)" in text
        assert any(r.kind == "contact" for r, _ in messages)  # the school's staff are told too

        for actor in (w.contact("low_primary.lead"), w.officer("ann")):
            with pytest.raises(BookingRefused) as err:
                await app.booking.book(actor, w.schools["low_primary"], local(2026, 1, 21, 10))
            assert err.value.code == "school_closed" and "is not open" in err.value.message
        with pytest.raises(BookingRefused):
            await app.booking.free_slots(w.officer("ann"), w.schools["low_primary"])
        again = await import_gias(
            app.db, path, la_code="926", policy=load_policy(profile), booking=app.booking
        )
        assert again.no_longer_open == [] and again.cancelled is None  # nothing twice
    finally:
        await app.close()


# ------------------------------------------------------------------ item 12: imports


@pytest.mark.parametrize(
    ("profile", "typo", "meant"), [("norfolk", "9266", "926 (Norfolk)"), ("kent", "8860", "886 (Kent)")]
)
async def test_an_la_code_not_in_the_list_of_english_la_codes_is_refused(db, profile, typo, meant):
    report = await import_gias(db, EVERY_TYPE, la_code=typo, policy=load_policy(profile))
    [(line, message)] = report.errors
    assert line == 0 and f"LA code '{typo}' is not an English local authority code" in message
    assert "Did you mean " in message and meant in message.split("Did you mean ")[1]
    assert "Nothing was imported" in message
    assert report.ok == 0
    async with db.reader() as s:
        assert list(await s.exec(select(LA))) == [] and list(await s.exec(select(School))) == []


def test_the_list_of_english_la_codes():
    codes = english_la_codes()
    assert sum(c.current for c in codes.values()) == 153
    assert codes["926"].name == "Norfolk" and codes["886"].name == "Kent"
    assert la_code_problem("926") is None and la_code_problem(" 886 ") is None
    assert "no longer an English local authority" in la_code_problem("909")
    assert "942 (Cumberland), 943 (Westmorland and Furness)" in la_code_problem("909")
    assert la_code_problem("999") is not None and la_code_problem("999", also_allowed=("999",)) is None


async def test_a_made_up_la_code_is_allowed_only_for_the_profile_that_declares_it(db):
    assert load_policy("demo").made_up_la and not load_policy("norfolk").made_up_la
    refused = await import_gias(db, EVERY_TYPE, la_code="999", policy=load_policy("norfolk"))
    assert refused.errors and "999" in refused.errors[0][1]
    allowed = await import_gias(db, EVERY_TYPE, la_code="999", policy=load_policy("demo"))
    assert allowed.errors == [] and allowed.other_la == 92


@pytest.mark.parametrize(("profile", "la_code"), [("norfolk", "926"), ("kent", "886")])
async def test_a_multi_line_bad_gias_row_is_reported_at_the_line_it_starts_on(db, tmp_path, profile, la_code):
    rows = [
        school(900001, "Good School", la=la_code),  # line 2
        school(900002, "A Name\nOver Three\nLines", la=la_code, NumberOfPupils="many"),  # lines 3-5
        school(900003, "Street\nOn Two Lines", la=la_code, Street="1 Road\nNotown"),  # lines 6-8
        school(900004, "Another Good School", la=la_code, URN="x9"),  # line 9
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GIAS_HEADER, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "g.csv"
    path.write_bytes(buf.getvalue().encode("cp1252"))
    report = await import_gias(db, path, la_code=la_code, policy=load_policy(profile))
    assert report.errors == [
        (3, "NumberOfPupils 'many' is not a whole number"),
        (9, "URN 'x9' is not a whole number"),
    ]
    assert set(await stored(db)) == {900001, 900003}  # the good rows are kept


def test_the_cli_says_what_was_skipped_and_why_and_refuses_a_typo_la_code(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tsm.cli import cli

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/cli.db"
    assert CliRunner().invoke(cli, ["--database-url", url, "db", "upgrade"], obj={}).exit_code == 0
    ok = CliRunner().invoke(
        cli,
        ["--database-url", url, "import", "gias", str(EVERY_TYPE), "--la-code", "886", "--policy", "kent"],
        obj={},
    )
    assert ok.exit_code == 0, ok.output
    assert "21 establishments of the LA skipped, 46 rows for other LAs ignored" in ok.output
    assert "1 Online provider: not a school a TSM covers: 860039 Made Up Online School" in ok.output
    assert "1 closed (GIAS status Closed): 860102 Closing Community Primary School" in ok.output
    assert "25 schools imported" in ok.output
    typo = CliRunner().invoke(
        cli,
        [
            "--database-url",
            url,
            "import",
            "gias",
            str(EVERY_TYPE),
            "--la-code",
            "9266",
            "--policy",
            "norfolk",
        ],
        obj={},
    )
    assert typo.exit_code == 1 and "Did you mean 926 (Norfolk)?" in typo.output


@pytest.mark.parametrize(("profile", "la_code", "base"), PROFILES)
async def test_establishments_imported_before_as_schools_are_no_longer_open_after_the_next_import(
    db, profile, la_code, base
):
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("tsm.policies").joinpath(f"{profile}.toml").read_text())
    raw["schools"] = {
        "establishment_types": [*DEFAULT_ESTABLISHMENT_TYPES, *NOT_SCHOOLS]
    }  # yesterday's import
    await import_gias(db, EVERY_TYPE, la_code=la_code, policy=parse_policy(profile, raw))
    assert sum(sc.open for sc in (await stored(db)).values()) == 25 + len(NOT_SCHOOLS)
    report = await import_gias(db, EVERY_TYPE, la_code=la_code, policy=load_policy(profile))
    schools = await stored(db)
    assert {urn for urn, sc in schools.items() if sc.open} == {base + k for k in COVERED}
    assert len(report.no_longer_open) == len(NOT_SCHOOLS)
    assert "19 schools are no longer open; their future TSMs are left as they are" in report.summary()
