"""Issue 13: the rules as a real LA applies them, each test named after the rule, on the Norfolk and Kent profiles.

Items 2 (nursery schools, PRUs and AP), 3 (national averages belong to a year), 4 (expected beats encouraged).
The GIAS import (items 1, 12) is in tests/importers/test_gias_rules.py, the yearly schools (item 5) in
tests/services/test_yearly_schools.py.
"""

from __future__ import annotations

import pytest
from factories import local, make_world
from sqlmodel import update

from tsm.adapters.db.directory import School
from tsm.clock import FixedClock
from tsm.domain.averages import parse_period
from tsm.domain.entitlement import SchoolFacts, classify_phase, entitlement_for, figures_words
from tsm.domain.model import Phase
from tsm.domain.policy import load_policy
from tsm.services.actors import Actor
from tsm.services.booking import BookingService
from tsm.services.conversation import ConversationService
from tsm.services.reference import ReferenceData

NORFOLK, KENT = load_policy("norfolk"), load_policy("kent")
FULL_2324 = "2023/24"  # DfE full year: primary 94.5, secondary 91.1, special 87.0
AS_2425 = "2024/25 autumn and spring terms"  # DfE: primary 94.84, secondary 91.91, special 87.23


def facts(phase=Phase.PRIMARY, pct=None, period=None, **kw) -> SchoolFacts:
    return SchoolFacts(phase, attendance_pct=pct, attendance_period=period, **kw)


# ------------------------------------------------------------------ item 4: expected beats encouraged


def test_expected_beats_encouraged_a_secondary_below_average_is_expected_to_book_each_term():
    below = facts(Phase.SECONDARY, 90.0, FULL_2324)
    ent = entitlement_for(below, NORFOLK)
    assert ent.rule == "below_average_books_each_term" and ent.expectation == "termly"
    assert "expected to book a TSM for each term" in ent.message and "encourage" not in ent.message
    # a secondary not below the average is still encouraged, not told it may book once a year
    assert (
        entitlement_for(facts(Phase.SECONDARY, 95.0, FULL_2324), NORFOLK).expectation == "termly_encouraged"
    )
    assert entitlement_for(facts(Phase.SECONDARY), NORFOLK).expectation == "termly_encouraged"
    # Kent: every school termly, whatever its figures
    assert entitlement_for(below, KENT).expectation == "termly"


def test_expected_beats_encouraged_rule_order_in_the_norfolk_profile():
    names = [r.name for r in NORFOLK.entitlement_rules]
    assert names.index("below_average_books_each_term") < names.index("secondary_encouraged_termly")


# ------------------------------------------------------------------ item 3: national averages belong to a year


def test_a_period_is_read_as_an_academic_year_and_a_measure():
    assert parse_period("2024/25 autumn and spring terms").label == "2024/25 autumn and spring terms"
    assert parse_period("autumn+spring 2024-25").measure == "autumn_spring"
    assert parse_period("2023-2024").label == "2023/24 full year"
    assert parse_period("full year 2023/24") == parse_period("2023/24 autumn, spring and summer")
    assert parse_period("2025-26 autumn term").label == "2025/26 autumn term"
    assert parse_period("last year") is None and parse_period("") is None and parse_period(None) is None
    assert parse_period("2023/25") is None  # not one academic year


@pytest.mark.parametrize("policy", [NORFOLK, KENT], ids=["norfolk", "kent"])
def test_national_averages_belong_to_a_year_a_figure_is_compared_with_its_own_years_average(policy):
    # 94.6% is above 2023/24's primary average (94.5) and below 2024/25 autumn+spring's (94.84)
    old, new = facts(pct=94.6, period=FULL_2324), facts(pct=94.6, period=AS_2425)
    assert entitlement_for(old, policy).attendance_vs_average == "at_or_above"
    assert entitlement_for(old, policy).national_average == 94.5
    assert entitlement_for(new, policy).attendance_vs_average == "below"
    assert entitlement_for(new, policy).national_average == 94.84
    assert "2024/25 autumn and spring terms: 94.84%" in figures_words(new, policy)
    assert "below the national average for primary schools" in figures_words(new, policy)
    assert "2023/24 full year: 94.5%" in figures_words(old, policy) and "above" in figures_words(old, policy)


def test_national_averages_belong_to_a_year_norfolk_expects_or_allows_by_the_same_years_average():
    assert entitlement_for(facts(pct=94.6, period=FULL_2324), NORFOLK).expectation == "yearly"
    assert entitlement_for(facts(pct=94.6, period=AS_2425), NORFOLK).expectation == "termly"
    # secondary 91.5: above 2023/24 (91.1), below 2024/25 autumn+spring (91.91)
    assert (
        entitlement_for(facts(Phase.SECONDARY, 91.5, AS_2425), NORFOLK).rule
        == "below_average_books_each_term"
    )


@pytest.mark.parametrize("policy", [NORFOLK, KENT], ids=["norfolk", "kent"])
@pytest.mark.parametrize("period", ["2025-26 autumn term", "2024/25", None])
def test_no_matching_national_average_is_told_so_and_treated_as_termly(policy, period):
    f = facts(pct=96.0, period=period)
    ent = entitlement_for(f, policy)
    assert ent.attendance_vs_average == "no_average" and ent.national_average is None
    assert ent.expectation == "termly" and ent.should_book_each_term
    words = figures_words(f, policy)
    assert "96.0%" in words and ("no national average" in words or "No academic year is recorded" in words)
    assert "2023/24 full year, 2024/25 autumn and spring terms" in words  # what we do hold
    if policy is NORFOLK:
        assert ent.rule == "no_matching_national_average_books_each_term"
        assert "no attendance figure" not in ent.message and "same period" in ent.message


@pytest.mark.parametrize("policy", [NORFOLK, KENT], ids=["norfolk", "kent"])
@pytest.mark.parametrize(
    ("phase", "pct", "period"),
    [
        (Phase.PRIMARY, 94.84, AS_2425),
        (Phase.PRIMARY, 94.5, FULL_2324),
        (Phase.SPECIAL, 87.23, AS_2425),
    ],
)
def test_exactly_equal_to_the_average_is_not_below_and_never_called_above(policy, phase, pct, period):
    f = facts(phase, pct, period)
    ent = entitlement_for(f, policy)
    assert ent.attendance_vs_average == "at_or_above"
    words = figures_words(f, policy)
    assert "equal to the national average" in words
    assert "above" not in words and "above" not in ent.message
    if policy is NORFOLK:
        assert ent.expectation == "yearly" and "not below the national average" in ent.message


def test_a_hundredth_below_is_below():
    assert entitlement_for(facts(pct=94.83, period=AS_2425), NORFOLK).attendance_vs_average == "below"


# ------------------------------------------------------------------ item 2: nursery schools, PRUs and AP


def test_nursery_schools_prus_and_alternative_provision_have_their_own_phase():
    assert classify_phase("LA nursery school", "Nursery") is Phase.NURSERY
    assert classify_phase("Pupil referral unit", "Not applicable") is Phase.ALTERNATIVE_PROVISION
    assert (
        classify_phase("Academy alternative provision converter", "Secondary") is Phase.ALTERNATIVE_PROVISION
    )
    assert (
        classify_phase("Free schools alternative provision", "Not applicable") is Phase.ALTERNATIVE_PROVISION
    )
    assert classify_phase("Community school", "Primary") is Phase.PRIMARY  # unchanged


@pytest.mark.parametrize("pct", [55.0, 82.3])
def test_a_pru_with_a_figure_is_told_there_is_no_national_average_for_prus_not_that_it_has_no_figure(pct):
    f = facts(Phase.ALTERNATIVE_PROVISION, pct, AS_2425)
    for policy in (NORFOLK, KENT):
        ent = entitlement_for(f, policy)
        words = figures_words(f, policy)
        assert ent.expectation == "termly"
        assert "no attendance figure" not in ent.message
        assert f"{pct}%" in words
        assert "no national attendance average for pupil referral units and alternative provision" in words
    assert entitlement_for(f, NORFOLK).rule == "pru_or_alternative_provision_no_national_average"
    assert "no national attendance average for pupil referral units" in entitlement_for(f, NORFOLK).message


def test_a_nursery_school_is_not_compared_with_the_primary_average():
    f = facts(Phase.NURSERY, 99.0, AS_2425)  # above the primary average: still not "one a year"
    ent = entitlement_for(f, NORFOLK)
    assert ent.rule == "nursery_school_no_national_average" and ent.expectation == "termly"
    assert ent.national_average is None and "primary" not in figures_words(f, NORFOLK)
    assert "no national attendance average for nursery schools" in figures_words(f, KENT)
    assert entitlement_for(facts(Phase.NURSERY), NORFOLK).expectation == "termly"  # no figure at all


# ------------------------------------------------------------------ the card says which year


async def test_the_booking_card_names_the_year_and_measure_of_both_figures(db):
    world = await make_world(db)
    clock = FixedClock(local(2026, 1, 5, 8))
    ref = ReferenceData(db)
    conv = ConversationService(db, BookingService(db, None, ref, clock=clock), ref, clock=clock)
    async with db.transaction() as s:
        await s.exec(
            update(School)
            .where(School.id == world.schools["high_primary"])
            .values(attendance_pct=94.6, attendance_period="2023/24")
        )
        await s.exec(
            update(School)
            .where(School.id == world.schools["low_primary"])
            .values(attendance_pct=94.6, attendance_period="2024-25 autumn and spring")
        )
    high = await conv.school_info(Actor.system(), world.schools["high_primary"])
    low = await conv.school_info(Actor.system(), world.schools["low_primary"])
    assert high.entitlement.expectation == "yearly" and high.national_average_year == "2023/24 full year"
    assert "2023/24 full year: 94.5%" in high.figures and high.figures.startswith("Your attendance: 94.6%")
    assert high.figures_for_officer.startswith("The school's attendance: 94.6%")
    assert low.entitlement.expectation == "termly"
    assert "2024/25 autumn and spring terms: 94.84%" in low.figures and "below" in low.figures


async def test_an_attendance_figure_whose_period_names_no_year_is_kept_and_the_import_says_so(db, tmp_path):
    from tsm.importers.gias import import_attendance

    world = await make_world(db)
    path = tmp_path / "attendance.csv"
    path.write_text(
        "urn,attendance_pct,period\n100001,93.0,2024/25 autumn and spring\n100002,96.0,last year\n"
        "100003,92.0,\n",
        encoding="utf-8",
    )
    report = await import_attendance(db, path)
    assert report.errors == [] and report.ok == 3
    assert len(report.notes) == 2
    assert report.notes[0].startswith("line 3: the period 'last year' names no academic year")
    assert report.notes[1].startswith("line 4: the period '' names no academic year")
    assert "line 3: the period 'last year'" in report.summary()
    ref = ReferenceData(db)
    svc = BookingService(db, None, ref, clock=FixedClock(local(2026, 1, 5, 8)))
    high = await svc.entitlement(world.schools["high_primary"])
    assert high.attendance_vs_average == "no_average" and high.expectation == "termly"  # 96% of no known year
    assert (
        await svc.entitlement(world.schools["low_primary"])
    ).attendance_vs_average == "below"  # 93 < 94.84


def test_a_pru_or_nursery_school_stored_before_their_phases_existed_gets_its_own_phase():
    from types import SimpleNamespace

    from tsm.domain.schools import school_facts

    def stored(type_name, poe, phase):
        return SimpleNamespace(
            type_name=type_name,
            type_group="Local authority maintained schools",
            phase_of_education=poe,
            phase=phase,
            attendance_pct=55.0,
            attendance_period=AS_2425,
        )

    pru = school_facts(
        stored("Pupil referral unit", "Not applicable", "other"), trust_has_allocated_officer=False
    )
    nursery = school_facts(
        stored("LA nursery school", "Nursery", "primary"), trust_has_allocated_officer=False
    )
    assert pru.phase is Phase.ALTERNATIVE_PROVISION and nursery.phase is Phase.NURSERY
    assert entitlement_for(nursery, NORFOLK).national_average is None  # not the primary average
    primary = school_facts(
        stored("Community school", "Primary", "primary"), trust_has_allocated_officer=False
    )
    assert primary.phase is Phase.PRIMARY


def test_the_officer_is_told_truthfully_why_a_pru_has_no_comparison():
    from tsm.domain.entitlement import officer_words

    pru = entitlement_for(facts(Phase.ALTERNATIVE_PROVISION, 55.0, AS_2425), NORFOLK)
    words = officer_words(pru, "Short Stay School")
    assert words.startswith("Short Stay School is expected to have a TSM each term")
    assert "no national average matches its figure (none for its phase" in words


@pytest.mark.parametrize("policy", [NORFOLK, KENT], ids=["norfolk", "kent"])
def test_the_figures_line_shows_only_what_is_on_record(policy):
    assert (
        figures_words(facts(pct=None, period=AS_2425), policy) == ""
    )  # no figure: the rule's message says so
    assert figures_words(facts(pct=94.0), policy).startswith("Your attendance: 94.0%. No academic year")
    assert figures_words(facts(pct=94.6, period="2023/24"), policy).startswith(
        "Your attendance: 94.6% (2023/24). "
    )
    assert figures_words(facts(pct=94.6, period="2023/24"), policy).endswith(
        "2023/24 full year: 94.5%, DfE Pupil absence in schools in England, 2023/24."
    )


def test_an_average_without_a_source_is_credited_to_the_dfe():
    import tomllib
    from importlib import resources

    from tsm.domain.policy import parse_policy

    raw = tomllib.loads(resources.files("tsm.policies").joinpath("kent.toml").read_text())
    raw["national_averages"] = {"figures": [{"year": "2023/24", "attendance": {"primary": 94.5}}]}
    words = figures_words(facts(pct=94.6, period=FULL_2324), parse_policy("kent", raw))
    assert words.endswith("2023/24 full year: 94.5%, DfE.")
