"""Which term the LA wants a school's TSM in, and what its officer is told about it (``tsm/domain/entitlement.py``:
``wanted_this_term``, ``officer_words``, ``officer_short_words``, ``figures_words``), on Norfolk's profile."""

from __future__ import annotations

import pytest

from tsm.domain.entitlement import (
    Entitlement,
    SchoolFacts,
    compare,
    entitlement_for,
    figures_words,
    officer_short_words,
    officer_words,
)
from tsm.domain.model import Phase, TermName
from tsm.domain.policy import load_policy

NORFOLK = load_policy("norfolk")


def ent(expectation: str, vs: str = "below", **kw) -> Entitlement:
    return Entitlement("a_rule", expectation, "message", vs, None, **kw)


@pytest.mark.parametrize("expectation", ["termly", "termly_encouraged", "contacted_directly"])
def test_a_termly_school_is_wanted_every_term_whatever_it_had(expectation):
    for term in TermName:
        assert ent(expectation).wanted_this_term(term, had_tsm_this_year=True, chase_from="summer")


def test_a_yearly_school_is_wanted_only_without_a_tsm_this_year_and_from_the_chase_term():
    yearly = ent("yearly", "at_or_above")
    assert yearly.yearly and not ent("termly").yearly
    assert not yearly.wanted_this_term("autumn", had_tsm_this_year=False, chase_from="spring")
    assert yearly.wanted_this_term("spring", had_tsm_this_year=False, chase_from="spring")
    assert yearly.wanted_this_term(TermName.SUMMER, had_tsm_this_year=False, chase_from=TermName.SPRING)
    assert yearly.wanted_this_term("summer", had_tsm_this_year=True, chase_from="spring") is False
    assert not ent("weekly").wanted_this_term("summer", had_tsm_this_year=False, chase_from="autumn")


def test_officer_words_say_what_is_expected_and_why():
    assert officer_words(ent("termly", "below"), "Low Primary") == (
        "Low Primary is expected to have a TSM each term: its attendance is below the national average."
    )
    assert officer_words(ent("yearly", "at_or_above"), "High Primary") == (
        "High Primary needs one TSM this academic year (termly is welcome): its attendance is not below the "
        "national average."
    )
    assert officer_words(ent("contacted_directly", "below"), "Oak") == (
        "Oak does not book itself: you arrange its TSMs."
    )
    assert officer_words(ent("termly", "something else"), "X") == "X is expected to have a TSM each term."
    assert officer_words(ent("weekly", "no_figure"), "X") == (
        "X is on the rule 'a_rule': no attendance figure is on record."
    )


def test_officer_short_words():
    assert [
        officer_short_words(ent(e)) for e in ("termly", "termly_encouraged", "yearly", "contacted_directly")
    ] == ["Expected each term", "Encouraged each term", "One a year is enough", "You arrange it"]
    assert officer_short_words(ent("weekly")) == "a_rule"
    listed = ent("yearly").none_this_year()
    assert listed.none_this_year_yet and not ent("yearly").none_this_year_yet
    assert officer_short_words(listed) == "One a year, and none held yet this academic year"


def test_compare_to_the_hundredth_without_float_noise():
    assert compare(94.84, 94.84) == "equal"
    assert compare(0.1 + 0.2, 0.3) == "equal"
    assert compare(94.83, 94.84) == "below" and compare(94.85, 94.84) == "above"


def facts(pct, period="2024/25 autumn and spring terms", phase=Phase.PRIMARY) -> SchoolFacts:
    return SchoolFacts(phase, attendance_pct=pct, attendance_period=period)


def test_figures_words_name_both_figures_and_their_period():
    assert figures_words(facts(None), NORFOLK) == ""
    words = figures_words(facts(94.5), NORFOLK)
    assert words.startswith(
        "Your attendance: 94.5% (2024/25 autumn and spring terms). That is below the national "
        "average for primary schools for the same period"
    )
    assert "94.84%" in words
    assert figures_words(facts(94.84), NORFOLK, officer_view=True).startswith(
        "The school's attendance: 94.84%"
    )
    assert "equal to the national average" in figures_words(facts(94.84), NORFOLK)
    assert "above the national average" in figures_words(facts(96.0), NORFOLK)


def test_figures_words_say_why_there_is_nothing_to_compare_with():
    assert "No academic year is recorded for this figure" in figures_words(facts(93.0, period=None), NORFOLK)
    assert "We hold no national average for primary schools for" in figures_words(
        facts(93.0, period="2019/20"), NORFOLK
    )
    assert "publishes no national attendance average for nursery schools" in figures_words(
        facts(93.0, phase=Phase.NURSERY), NORFOLK
    )


def test_a_figure_with_no_period_or_no_matching_average_is_not_compared():
    assert entitlement_for(facts(80.0, period=None), NORFOLK).attendance_vs_average == "no_average"
    assert entitlement_for(facts(None), NORFOLK).attendance_vs_average == "no_figure"
    below = entitlement_for(facts(94.83), NORFOLK)
    assert (below.attendance_vs_average, below.national_average) == ("below", 94.84)
    assert entitlement_for(facts(94.84), NORFOLK).attendance_vs_average == "at_or_above"


def test_a_nursery_school_by_its_type_or_its_phase_of_education():
    from tsm.domain.entitlement import classify_phase

    assert classify_phase("LA nursery school", "Not applicable") is Phase.NURSERY
    assert classify_phase("Community school", "Nursery") is Phase.NURSERY
    assert classify_phase("Community school", "Primary") is Phase.PRIMARY


def test_figures_words_show_the_period_only_when_there_is_one_and_the_averages_source():
    assert figures_words(facts(93.0, period=None), NORFOLK).startswith(
        "Your attendance: 93.0%. No academic year"
    )
    assert figures_words(facts(94.5), NORFOLK).endswith(
        "2024/25 autumn and spring terms: 94.84%, DfE Pupil absence in schools in England, autumn and spring terms "
        "2024/25."
    )


def test_an_attendance_condition_of_unknown_means_no_figure_or_no_average():
    from tsm.domain.policy import EntitlementRule

    rule = EntitlementRule("unknown", "termly", "", {"attendance": "unknown"})
    p = NORFOLK.__class__(**{**NORFOLK.__dict__, "entitlement_rules": (rule, NORFOLK.entitlement_rules[-1])})
    assert entitlement_for(facts(None), p).rule == "unknown"
    assert entitlement_for(facts(93.0, period="2019/20"), p).rule == "unknown"
    assert entitlement_for(facts(93.0), p).rule != "unknown"
