"""Who must, should or may book, and who books for them (``tsm/domain/entitlement.py``, ``tsm/domain/schools.py``),
on Norfolk's and Kent's shipped tables."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from tsm.domain.entitlement import (
    Entitlement,
    SchoolFacts,
    classify_phase,
    entitlement_for,
    is_independent,
    is_la_maintained,
)
from tsm.domain.model import BookingRoute, Phase
from tsm.domain.policy import EntitlementRule, load_policy
from tsm.domain.schools import school_facts

NORFOLK = load_policy("norfolk")
KENT = load_policy("kent")


# ------------------------------------------------------------------------------------------ phase from GIAS


@pytest.mark.parametrize(
    ("type_name", "phase_name", "phase"),
    [
        ("Community special school", "Not applicable", Phase.SPECIAL),
        ("Academy special converter", "Secondary", Phase.SPECIAL),  # the type decides, not the phase
        ("Other independent special school", "Primary", Phase.SPECIAL),
        ("Some new special provision", "Primary", Phase.SPECIAL),  # any type naming 'special'
        ("  FOUNDATION SPECIAL SCHOOL ", "", Phase.SPECIAL),
        ("Community school", "Primary", Phase.PRIMARY),
        ("Academy converter", "Middle deemed primary", Phase.PRIMARY),
        ("Academy converter", " secondary ", Phase.SECONDARY),
        ("Academy converter", "Middle deemed secondary", Phase.SECONDARY),
        ("Academy converter", "16 plus", Phase.SECONDARY),
        ("Free schools", "All-through", Phase.SECONDARY),
        ("Community school", "Not applicable", Phase.OTHER),
        (None, None, Phase.OTHER),
    ],
)
def test_phase_comes_from_the_special_type_first_then_the_phase_of_education(type_name, phase_name, phase):
    assert classify_phase(type_name, phase_name) is phase


def test_independent_by_type_or_by_group():
    assert is_independent("Other independent school")
    assert is_independent(" Other Independent Special School ")
    assert is_independent("Something else", "Independent schools")
    assert not is_independent("Academy converter", "Academies")
    assert not is_independent(None, None)


def test_la_maintained_by_group_or_as_a_community_or_foundation_special_school():
    assert is_la_maintained("Local authority maintained schools")
    assert is_la_maintained("Special schools", "Community special school")
    assert is_la_maintained("Special schools", "Foundation special school")
    assert not is_la_maintained("Special schools", "Academy special converter")
    assert not is_la_maintained("Academies", "Academy converter")
    assert not is_la_maintained(None, None)


# ------------------------------------------------------------------------------------------ who books


@pytest.mark.parametrize(
    ("facts", "rule"),
    [
        (
            SchoolFacts(Phase.PRIMARY, independent=True, attendance_pct=80.0),
            "independent_school_contacted_directly",
        ),
        (SchoolFacts(Phase.SPECIAL, la_maintained=True), "la_maintained_special_school_contacted_directly"),
        (
            SchoolFacts(Phase.SECONDARY, trust_has_allocated_officer=True),
            "trust_with_allocated_officer_contacted_directly",
        ),
    ],
)
def test_norfolk_contacts_these_schools_directly_and_they_do_not_book(facts, rule):
    ent = entitlement_for(facts, NORFOLK)
    assert (ent.rule, ent.expectation, ent.route) == (
        rule,
        "contacted_directly",
        BookingRoute.CONTACTED_DIRECTLY,
    )
    assert not ent.may_book and ent.should_book_each_term
    assert ent.message == next(r.message for r in NORFOLK.entitlement_rules if r.name == rule)


def test_an_la_maintained_school_that_is_not_special_books_itself_in_norfolk():
    ent = entitlement_for(SchoolFacts(Phase.SECONDARY, la_maintained=True, attendance_pct=99.0), NORFOLK)
    assert ent.route is BookingRoute.SELF and ent.may_book


def test_kent_every_school_books_termly_itself():
    for facts in (
        SchoolFacts(Phase.PRIMARY, independent=True),
        SchoolFacts(Phase.SPECIAL, la_maintained=True),
        SchoolFacts(Phase.PRIMARY, trust_has_allocated_officer=True, attendance_pct=99.0),
    ):
        ent = entitlement_for(facts, KENT)
        assert (ent.rule, ent.expectation, ent.route) == ("every_school_termly", "termly", BookingRoute.SELF)


def test_where_the_las_officers_arrange_every_tsm_no_school_books_itself_and_each_is_told_why():
    """``booking.schools_book_themselves = false``: the school's rule and expectation stand (what the LA expects of
    it), but it may not book itself; a school the LA contacts directly is told the rule's own words, any other that
    its link officer arranges its TSMs. With the profile's default (true) a self-booking school books."""
    officers_arrange = replace(KENT, schools_book_themselves=False)
    ent = entitlement_for(SchoolFacts(Phase.PRIMARY, attendance_pct=90.0), officers_arrange)
    assert (ent.route, ent.may_book, ent.schools_book) == (BookingRoute.SELF, False, False)
    assert ent.refusal == "Your link officer arranges your TSMs."
    assert ent == replace(
        entitlement_for(SchoolFacts(Phase.PRIMARY, attendance_pct=90.0), KENT), schools_book=False
    )
    contacted = entitlement_for(
        SchoolFacts(Phase.PRIMARY, independent=True), replace(NORFOLK, schools_book_themselves=False)
    )
    assert not contacted.may_book and contacted.refusal == contacted.message != ent.refusal
    assert entitlement_for(SchoolFacts(Phase.PRIMARY, independent=True), NORFOLK).refusal == contacted.message
    kent_school = entitlement_for(SchoolFacts(Phase.PRIMARY, attendance_pct=90.0), KENT)
    assert kent_school.may_book and kent_school.schools_book
    bare = Entitlement("r", "termly", "m", "below", None)  # as older code and tests build one: schools book
    assert bare.may_book


def test_a_rule_applies_only_when_all_its_conditions_hold():
    rule = EntitlementRule(
        "x", "termly", "", {"phase": ["Secondary"], "independent": False, "la_maintained": True}
    )
    p = NORFOLK.__class__(**{**NORFOLK.__dict__, "entitlement_rules": (rule, NORFOLK.entitlement_rules[-1])})
    assert (
        entitlement_for(SchoolFacts(Phase.SECONDARY, la_maintained=True), p).rule == "x"
    )  # phase case-insensitive
    assert entitlement_for(SchoolFacts(Phase.PRIMARY, la_maintained=True), p).rule != "x"
    assert entitlement_for(SchoolFacts(Phase.SECONDARY, la_maintained=True, independent=True), p).rule != "x"
    assert entitlement_for(SchoolFacts(Phase.SECONDARY), p).rule != "x"


def test_a_policy_without_a_default_rule_is_a_programming_error():
    p = NORFOLK.__class__(**{**NORFOLK.__dict__, "entitlement_rules": NORFOLK.entitlement_rules[:1]})
    with pytest.raises(AssertionError, match="no default rule"):
        entitlement_for(SchoolFacts(Phase.PRIMARY), p)


# ------------------------------------------------------------------------------------------ a stored school


@dataclass
class Row:
    phase: str
    type_name: str
    type_group: str
    phase_of_education: str
    attendance_pct: float | None
    attendance_period: str | None = None


def test_school_facts_use_the_stored_phase_else_the_gias_columns():
    def seen(f: SchoolFacts):
        return (f.phase, f.independent, f.la_maintained, f.trust_has_allocated_officer, f.attendance_pct)

    stored = school_facts(
        Row("secondary", "Community special school", "Special schools", "Primary", 88.0),
        trust_has_allocated_officer=True,
    )
    assert seen(stored) == (Phase.SECONDARY, False, True, True, 88.0)
    derived = school_facts(
        Row("", "Other independent school", "Independent schools", "Primary", None),
        trust_has_allocated_officer=False,
    )
    assert seen(derived) == (Phase.PRIMARY, True, False, False, None)
