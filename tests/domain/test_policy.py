"""LA policy profiles are data: both seeds load, and a malformed profile is refused with a clear reason."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from importlib import resources

import pytest

from tsm.domain.entitlement import SchoolFacts, entitlement_for
from tsm.domain.errors import PolicyError
from tsm.domain.model import Mode, Phase
from tsm.domain.policy import load_policy, parse_policy


def raw(name: str) -> dict:
    return tomllib.loads(resources.files("tsm.policies").joinpath(f"{name}.toml").read_text())


def test_norfolk_and_kent_load_with_their_differences():
    norfolk, kent = load_policy("norfolk"), load_policy("kent")
    assert norfolk.default_mode is Mode.TEAMS and kent.default_mode is Mode.ON_SITE
    assert all(
        timedelta(minutes=60) <= mt.duration <= timedelta(minutes=90)
        for p in (norfolk, kent)
        for mt in p.meeting_types
    )
    assert norfolk.max_tsms_per_school_per_term == kent.max_tsms_per_school_per_term == 1
    assert norfolk.national_averages.for_phase(Phase.PRIMARY, "2023/24") == 94.5
    assert kent.national_averages.for_phase(Phase.PRIMARY, "2024/25", "autumn_spring") == 94.84
    assert kent.next_tsm_at_meeting_end == "officer_proposes"


Y = "2023/24"  # the figures' academic year: compared with that year's averages (94.5 / 91.1 / 87.0)


@pytest.mark.parametrize(
    "facts, rule",
    [
        (
            SchoolFacts(Phase.PRIMARY, attendance_pct=93.0, attendance_period=Y),
            "below_average_books_each_term",
        ),
        (
            SchoolFacts(Phase.PRIMARY, attendance_pct=94.5, attendance_period=Y),
            "above_average_may_book_once_a_year",
        ),  # at the average
        (
            SchoolFacts(Phase.PRIMARY, attendance_pct=94.5),
            "no_matching_national_average_books_each_term",
        ),  # no year
        (
            SchoolFacts(Phase.SECONDARY, attendance_pct=95.0, attendance_period=Y),
            "secondary_encouraged_termly",
        ),
        (
            SchoolFacts(Phase.SECONDARY, attendance_pct=90.0, attendance_period=Y),
            "below_average_books_each_term",
        ),
        (
            SchoolFacts(Phase.SPECIAL, la_maintained=True, attendance_pct=80.0),
            "la_maintained_special_school_contacted_directly",
        ),
        (
            SchoolFacts(Phase.SPECIAL, la_maintained=False, attendance_pct=80.0, attendance_period=Y),
            "below_average_books_each_term",
        ),  # special academy
        (SchoolFacts(Phase.PRIMARY, independent=True), "independent_school_contacted_directly"),
        (
            SchoolFacts(Phase.PRIMARY, trust_has_allocated_officer=True, attendance_pct=90.0),
            "trust_with_allocated_officer_contacted_directly",
        ),
        (SchoolFacts(Phase.PRIMARY), "attendance_unknown_books_each_term"),
    ],
)
def test_norfolk_entitlement_table(facts, rule):
    assert entitlement_for(facts, load_policy("norfolk")).rule == rule


def test_kent_every_school_including_independent_is_termly():
    kent = load_policy("kent")
    for facts in (
        SchoolFacts(Phase.PRIMARY, independent=True),
        SchoolFacts(Phase.SPECIAL, la_maintained=True),
        SchoolFacts(Phase.SECONDARY, attendance_pct=99.0),
    ):
        ent = entitlement_for(facts, kent)
        assert ent.expectation == "termly" and ent.may_book and ent.should_book_each_term


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r["booking"]["meeting_types"][0].update(duration_minutes=45), "outside 60..90"),
        (lambda r: r["booking"].update(travel_buffer_minutes=7), "multiple of 5"),
        (lambda r: r["booking"].update(default_mode="carrier_pigeon"), "carrier_pigeon"),
        (lambda r: r["entitlement"]["rules"].pop(), "no conditions"),
        (lambda r: r["entitlement"]["rules"][0]["when"].update(colour="blue"), "unknown conditions"),
        (
            lambda r: r["entitlement"]["rules"][0].update(expectation="sometimes"),
            "expectation must be one of",
        ),
        (lambda r: r["entitlement"].update(max_tsms_per_school_per_term=2), "only 1 is supported"),
        (
            lambda r: r["booking"].update(officer_working_hours={"mon": "16:00-09:00"}),
            "ends before it starts",
        ),
        (lambda r: r.pop("booking"), "missing section [booking]"),
    ],
)
def test_a_malformed_policy_is_refused_with_the_reason(mutate, message):
    r = raw("norfolk")
    mutate(r)
    with pytest.raises(PolicyError) as err:
        parse_policy("broken", r)
    assert message in str(err.value)


def test_an_unknown_policy_name_lists_the_bundled_ones(tmp_path):
    with pytest.raises(PolicyError) as err:
        load_policy("atlantis")
    assert "kent" in str(err.value) and "norfolk" in str(err.value)
    bad = tmp_path / "bad.toml"
    bad.write_text("[la\nname=")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(str(bad))
