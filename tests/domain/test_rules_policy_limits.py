"""The policy profile's newer keys, each at both edges of what it accepts (``tsm/domain/policy.py``), on Kent's
file changed one key at a time: the invitee cap, the answers needed to name a school, the senior leader rule, the
officer's capacity, the yearly chaser's term, the establishment types and the national averages' figures."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources

import pytest

from tsm.domain.errors import PolicyError
from tsm.domain.model import Phase, TermName
from tsm.domain.policy import DEFAULT_ESTABLISHMENT_TYPES, parse_policy

KENT_RAW = tomllib.loads(resources.files("tsm.policies").joinpath("kent.toml").read_text())


def kent(change=None):
    raw = copy.deepcopy(KENT_RAW)
    if change:
        change(raw)
    return parse_policy("kent", raw)


def refused(change, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        kent(change)


def booking(**kw):
    return lambda r: r["booking"].update(kw)


def test_the_defaults_of_the_newer_keys():
    def strip(r):
        for k in ("max_invitees", "senior_leader_required", "officer_capacity"):
            r["booking"].pop(k, None)
        r.pop("evaluation", None)
        r.pop("schools", None)
        r["entitlement"].pop("yearly_chase_term", None)
        r["la"].pop("code", None)
        r["la"].pop("made_up", None)

    p = kent(strip)
    assert (p.max_invitees, p.min_answers_to_name_school, p.senior_leader_required, p.officer_capacity) == (
        12,
        3,
        True,
        30,
    )
    assert p.yearly_chase_term == TermName.SUMMER.value
    assert p.establishment_types == DEFAULT_ESTABLISHMENT_TYPES
    assert (p.la_code, p.made_up_la) == ("", False)


def test_the_la_code_and_made_up_flag_are_read():
    p = kent(lambda r: r["la"].update(code=" 886 ", made_up=True))
    assert (p.la_code, p.made_up_la) == ("886", True)


@pytest.mark.parametrize("value", [2, 100])
def test_invitees_from_2_to_100(value):
    assert kent(booking(max_invitees=value)).max_invitees == value


@pytest.mark.parametrize("value", [1, 101, True, "12"])
def test_invitees_outside_2_to_100_are_refused(value):
    refused(booking(max_invitees=value), "booking.max_invitees must be a whole number from 2 to 100")


@pytest.mark.parametrize("value", [1, 50])
def test_answers_to_name_a_school_from_1_to_50(value):
    assert (
        kent(lambda r: r.update(evaluation={"min_answers_to_name_school": value})).min_answers_to_name_school
        == value
    )


@pytest.mark.parametrize("value", [0, 51, True, "3"])
def test_answers_to_name_a_school_outside_1_to_50_are_refused(value):
    refused(
        lambda r: r.update(evaluation={"min_answers_to_name_school": value}),
        "evaluation.min_answers_to_name_school must be a whole number from 1 to 50",
    )


def test_senior_leader_required_is_true_or_false_only():
    assert kent(booking(senior_leader_required=False)).senior_leader_required is False
    assert kent(booking(senior_leader_required=True)).senior_leader_required is True
    refused(booking(senior_leader_required="no"), "booking.senior_leader_required must be true or false")
    refused(booking(senior_leader_required=0), "booking.senior_leader_required must be true or false")


@pytest.mark.parametrize("value", [1, 1000])
def test_officer_capacity_from_1_to_1000(value):
    assert kent(booking(officer_capacity=value)).officer_capacity == value


@pytest.mark.parametrize("value", [0, 1001, True, 2.5])
def test_officer_capacity_outside_1_to_1000_is_refused(value):
    refused(booking(officer_capacity=value), "booking.officer_capacity must be a whole number from 1 to 1000")


def test_the_yearly_chaser_term():
    assert kent(lambda r: r["entitlement"].update(yearly_chase_term="autumn")).yearly_chase_term == "autumn"
    refused(
        lambda r: r["entitlement"].update(yearly_chase_term="winter"),
        "entitlement.yearly_chase_term must be autumn, spring or summer",
    )


def test_establishment_types_are_a_list_of_names_stripped():
    assert kent(
        lambda r: r.update(schools={"establishment_types": [" Academy converter ", "Free schools"]})
    ).establishment_types == ("Academy converter", "Free schools")
    for bad in ("Academy converter", [], ["Academy converter", " "], ["Academy converter", 3]):
        refused(
            lambda r, b=bad: r.update(schools={"establishment_types": b}),
            "schools.establishment_types must be a list of GIAS establishment type names",
        )


def test_an_attendance_condition_must_be_a_known_comparison():
    refused(
        lambda r: r["entitlement"]["rules"].insert(
            0, {"name": "x", "expectation": "termly", "when": {"attendance": "lower"}}
        ),
        "entitlement.rules\\[0\\].when.attendance must be one of",
    )


# ------------------------------------------------------------------------------------------ national averages


def figures(*items, **extra):
    return lambda r: r.update(national_averages={"source": "DfE", "figures": list(items), **extra})


def test_the_national_averages_of_each_year_and_measure():
    p = kent()
    assert [(f.year, f.measure) for f in p.national_averages.figures] == [
        ("2022/23", "full_year"),
        ("2023/24", "full_year"),
        ("2024/25", "autumn_spring"),
    ]
    assert p.national_averages.figures[2].attendance_by_phase == {
        Phase.PRIMARY: 94.84,
        Phase.SECONDARY: 91.91,
        Phase.SPECIAL: 87.23,
    }
    assert p.national_averages.source == "DfE Pupil absence in schools in England"


def test_a_figure_takes_the_sections_source_and_full_year_unless_given():
    p = kent(figures({"year": "2024-25", "attendance": {"primary": 100}}))
    [f] = p.national_averages.figures
    assert (f.year, f.measure, f.source, f.attendance_by_phase) == (
        "2024/25",
        "full_year",
        "DfE",
        {Phase.PRIMARY: 100.0},
    )


def test_an_older_profiles_single_year_is_read_as_that_years_full_year():
    p = kent(
        lambda r: r.update(
            national_averages={"year": "2023/24", "source": "old", "attendance": {"primary": 94.5}}
        )
    )
    [f] = p.national_averages.figures
    assert (f.year, f.measure, f.source, f.attendance_by_phase) == (
        "2023/24",
        "full_year",
        "old",
        {Phase.PRIMARY: 94.5},
    )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [{"year": "last year", "attendance": {}}],
            "figures\\[0\\].year must be an academic year like 2024/25 \\(got 'last year'\\)",
        ),
        (
            [{"year": "2024/25", "measure": "winter", "attendance": {}}],
            "figures\\[0\\].measure must be one of",
        ),
        (
            [{"year": "2024/25", "attendance": {}}, {"year": "2024-25", "attendance": {}}],
            "figures\\[1\\]: 2024/25 full_year is given twice",
        ),
        ([{"year": "2024/25", "attendance": {"infant": 90}}], "attendance: unknown phase 'infant'"),
        (
            [{"year": "2024/25", "attendance": {"primary": 0}}],
            "attendance.primary must be a percentage above 0 and at most 100",
        ),
        (
            [{"year": "2024/25", "attendance": {"primary": 100.1}}],
            "must be a percentage above 0 and at most 100",
        ),
        (
            [{"year": "2024/25", "attendance": {"primary": True}}],
            "must be a percentage above 0 and at most 100",
        ),
        (
            [{"year": "2024/25", "attendance": {"primary": "94"}}],
            "must be a percentage above 0 and at most 100",
        ),
    ],
)
def test_bad_national_average_figures_are_refused(items, message):
    refused(figures(*items), message)


def test_the_same_year_with_another_measure_is_not_a_duplicate():
    p = kent(
        figures(
            {"year": "2024/25", "attendance": {}}, {"year": "2024/25", "measure": "autumn", "attendance": {}}
        )
    )
    assert [(f.year, f.measure) for f in p.national_averages.figures] == [
        ("2024/25", "full_year"),
        ("2024/25", "autumn"),
    ]


def test_trust_contacts_book_joint_is_off_unless_the_file_says_so():
    assert (
        kent(lambda r: r["booking"].pop("trust_contacts_book_joint", None)).trust_contacts_book_joint is False
    )
    assert kent(booking(trust_contacts_book_joint=True)).trust_contacts_book_joint is True


def test_a_phase_average_may_be_any_percentage_above_zero():
    [f] = kent(figures({"year": "2024/25", "attendance": {"primary": 0.5}})).national_averages.figures
    assert f.attendance_by_phase == {Phase.PRIMARY: 0.5}


def test_which_establishment_types_the_la_covers():
    p = kent(lambda r: r.update(schools={"establishment_types": ["Academy converter", "Community school"]}))
    assert p.covers_type(" academy CONVERTER ") and p.covers_type("Community school")
    assert not p.covers_type("Other independent school") and not p.covers_type(None)


def test_the_audit_log_is_kept_seven_years_unless_the_profile_says_otherwise():
    assert kent(lambda r: r.pop("retention", None)).audit_retention_years == 7
    assert kent(lambda r: r.update(retention={"audit_years": 1})).audit_retention_years == 1
    assert kent(lambda r: r.update(retention={"audit_years": 100})).audit_retention_years == 100


@pytest.mark.parametrize("years", [0, 101, 6.5, "7", True])
def test_an_audit_period_that_is_not_a_whole_number_of_years_from_1_to_100_is_refused(years):
    refused(lambda r: r.update(retention={"audit_years": years}), "retention.audit_years")
