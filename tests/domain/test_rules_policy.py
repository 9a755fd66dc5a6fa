"""The policy profile's rules (``tsm/domain/policy.py``): what a profile may say, what it means when it says nothing
(the parser's defaults), and the sentence an LA administrator gets for each mistake. Built on Kent's and Norfolk's
shipped files, changed one key at a time."""

from __future__ import annotations

import copy
import tomllib
from datetime import time, timedelta
from importlib import resources

import pytest

from tsm.domain.errors import PolicyError
from tsm.domain.model import Mode, Phase
from tsm.domain.policy import (
    DEFAULT_ESTABLISHMENT_TYPES,
    WorkingHours,
    bundled_policies,
    load_policy,
    parse_policy,
)

KENT_RAW = tomllib.loads(resources.files("tsm.policies").joinpath("kent.toml").read_text())
NORFOLK_RAW = tomllib.loads(resources.files("tsm.policies").joinpath("norfolk.toml").read_text())


def kent(change=None):
    raw = copy.deepcopy(KENT_RAW)
    if change:
        change(raw)
    return parse_policy("kent", raw)


def refused(change, match: str):
    with pytest.raises(PolicyError, match=match):
        kent(change)


# ------------------------------------------------------------------------------------------ values read from the file


def test_kent_values_are_read_from_the_file_where_they_differ_from_the_defaults():
    p = load_policy("kent")
    assert p.minimum_notice == timedelta(hours=72)  # default 48
    assert p.travel_buffer == timedelta(minutes=45)  # default 30
    assert p.max_meetings_per_officer_per_day == 2  # default 3
    assert p.default_mode is Mode.ON_SITE and p.modes_allowed == (Mode.ON_SITE, Mode.TEAMS)
    assert p.next_tsm_at_meeting_end == "officer_proposes"  # default offer_both
    assert [(m.key, m.duration) for m in p.meeting_types] == [
        ("tsm", timedelta(minutes=90)),
        ("tsm_short", timedelta(minutes=60)),
    ]
    assert p.working_hours.by_weekday[4] == ((time(8, 30), time(16)),)
    assert p.la_name == "Kent" and p.timezone == "Europe/London" and "old term" in p.notes


def test_norfolk_values_are_read_from_the_file():
    p = load_policy("norfolk")
    assert p.default_mode is Mode.TEAMS and p.modes_allowed == (Mode.TEAMS, Mode.ON_SITE)
    assert p.meeting_type("secondary").duration == timedelta(minutes=90)
    assert p.working_hours.by_weekday[4] == ((time(9), time(15, 30)),)
    assert [r.name for r in p.entitlement_rules][0] == "independent_school_contacted_directly"


def test_schools_book_themselves_false_is_read():
    assert kent().schools_book_themselves is True
    assert kent(lambda r: r["booking"].update(schools_book_themselves=False)).schools_book_themselves is False


def test_what_a_profile_leaves_out_takes_the_documented_default():
    def strip(r):
        b = r["booking"]
        for k in (
            "slot_granularity_minutes",
            "minimum_notice_hours",
            "travel_buffer_minutes",
            "max_meetings_per_officer_per_day",
            "schools_book_themselves",
            "next_tsm_at_meeting_end",
            "modes_allowed",
            "default_mode",
        ):
            b.pop(k)
        del b["meeting_types"][0]["label"]
        r["la"].pop("name")
        r["la"].pop("timezone")
        r["la"].pop("notes")
        r["entitlement"].pop("max_tsms_per_school_per_term")
        r["entitlement"]["rules"][0].pop("name")
        r["national_averages"].pop("source")

    p = kent(strip)
    assert p.slot_granularity == timedelta(minutes=30)
    assert p.minimum_notice == timedelta(hours=48)
    assert p.travel_buffer == timedelta(minutes=30)
    assert p.max_meetings_per_officer_per_day == 3
    assert p.schools_book_themselves is True
    assert p.next_tsm_at_meeting_end == "offer_both"
    assert p.modes_allowed == (Mode.ON_SITE, Mode.TEAMS) and p.default_mode is Mode.ON_SITE
    assert p.meeting_types[0].label == "tsm"
    assert (p.la_name, p.timezone, p.notes) == ("kent", "Europe/London", "")
    assert p.max_tsms_per_school_per_term == 1
    assert p.entitlement_rules[0].name == "rule0"
    assert p.national_averages.source == ""
    assert p.establishment_types == DEFAULT_ESTABLISHMENT_TYPES and p.yearly_chase_term == "summer"


def test_the_default_mode_is_the_first_allowed_when_not_given():
    p = kent(
        lambda r: (r["booking"].pop("default_mode"), r["booking"].update(modes_allowed=["teams", "on_site"]))
    )
    assert p.default_mode is Mode.TEAMS


def test_no_working_hours_means_no_working_days():
    assert kent(lambda r: r["booking"].pop("officer_working_hours")).working_hours.by_weekday == {}


def test_national_averages_by_phase_and_none_for_a_phase_without_one():
    nat = kent().national_averages
    assert nat.for_phase(Phase.SECONDARY, "2023/24") == 91.1
    assert nat.for_phase(Phase.SECONDARY, "2024/25", "autumn_spring") == 91.91
    assert (
        nat.for_phase(Phase.SECONDARY, "2024/25") is None
    )  # no full-year 2024/25 figures: never another year's
    assert nat.for_phase(Phase.OTHER, "2023/24") is None
    assert nat.source.startswith("DfE")


def test_meeting_type_first_by_default_by_key_and_unknown_refused():
    p = load_policy("kent")
    assert p.meeting_type().key == "tsm"
    assert p.meeting_type("tsm_short").duration == timedelta(minutes=60)
    with pytest.raises(PolicyError, match="unknown meeting type 'long' \\(known: tsm, tsm_short\\)"):
        p.meeting_type("long")


def test_policy_travel_buffer_on_site_only():
    p = load_policy("kent")
    assert p.buffer_for(Mode.ON_SITE) == timedelta(minutes=45) and p.buffer_for(Mode.TEAMS) == timedelta(0)


# ------------------------------------------------------------------------------------------ limits


@pytest.mark.parametrize("minutes", [60, 90])
def test_a_meeting_lasts_60_to_90_minutes_inclusive(minutes):
    assert kent(lambda r: r["booking"]["meeting_types"][0].update(duration_minutes=minutes)).meeting_types[
        0
    ].duration == timedelta(minutes=minutes)


@pytest.mark.parametrize("minutes", [55, 95])
def test_a_meeting_outside_60_to_90_minutes_is_refused(minutes):
    refused(
        lambda r: r["booking"]["meeting_types"][0].update(duration_minutes=minutes),
        f"= {minutes} is outside 60..90",
    )


@pytest.mark.parametrize("value", ["60", True, 60.0])
def test_minutes_must_be_a_whole_number(value):
    refused(
        lambda r: r["booking"]["meeting_types"][0].update(duration_minutes=value),
        "must be a whole number of minutes",
    )


def test_minutes_must_be_a_multiple_of_the_5_minute_block():
    refused(
        lambda r: r["booking"].update(travel_buffer_minutes=46),
        "travel_buffer_minutes = 46 must be a multiple of 5",
    )


@pytest.mark.parametrize(
    ("key", "ok", "bad"),
    [
        ("travel_buffer_minutes", [0, 180], [-5, 185]),
        ("slot_granularity_minutes", [5, 120], [0, 125]),
    ],
)
def test_buffer_and_granularity_bounds(key, ok, bad):
    field = {"travel_buffer_minutes": "travel_buffer", "slot_granularity_minutes": "slot_granularity"}[key]
    for value in ok:
        assert getattr(kent(lambda r, v=value: r["booking"].update({key: v})), field) == timedelta(
            minutes=value
        )
    for value in bad:
        refused(lambda r, v=value: r["booking"].update({key: v}), f"booking.{key} = {value} is outside")


def test_a_missing_section_is_named():
    for section in ("la", "booking", "entitlement", "national_averages"):
        refused(lambda r, s=section: r.pop(s), f"missing section \\[{section}\\]")


def test_no_meeting_types_is_refused():
    refused(lambda r: r["booking"].update(meeting_types=[]), "booking.meeting_types is empty")


def test_an_unknown_mode_or_a_default_mode_not_allowed_is_refused():
    refused(lambda r: r["booking"].update(modes_allowed=["on_site", "zoom"]), "zoom")
    refused(
        lambda r: r["booking"].update(modes_allowed=["teams"]),
        "default_mode on_site is not among modes_allowed",
    )


@pytest.mark.parametrize("value", [0, -1, "2", 1.5])
def test_the_daily_cap_must_be_a_positive_whole_number(value):
    refused(
        lambda r: r["booking"].update(max_meetings_per_officer_per_day=value),
        "max_meetings_per_officer_per_day must be a positive whole number",
    )


def test_a_daily_cap_of_one_is_allowed():
    assert (
        kent(
            lambda r: r["booking"].update(max_meetings_per_officer_per_day=1)
        ).max_meetings_per_officer_per_day
        == 1
    )


@pytest.mark.parametrize("value", [0, 2])
def test_only_one_tsm_per_school_per_term_is_supported(value):
    refused(lambda r: r["entitlement"].update(max_tsms_per_school_per_term=value), "only 1 is supported")


def test_entitlement_rules_are_checked():
    refused(
        lambda r: r["entitlement"]["rules"][0].update(expectation="weekly"),
        "rules\\[0\\].expectation must be one of",
    )
    refused(
        lambda r: r["entitlement"]["rules"][0].update(when={"colour": "red", "size": 1}),
        "rules\\[0\\].when has unknown conditions \\['colour', 'size'\\]",
    )
    refused(lambda r: r["entitlement"].update(rules=[]), "the last entitlement rule must have no conditions")
    refused(
        lambda r: r["entitlement"]["rules"][0].update(when={"independent": True}), "must have no conditions"
    )


def test_a_rule_keeps_its_conditions_and_message():
    rules = parse_policy("norfolk", copy.deepcopy(NORFOLK_RAW)).entitlement_rules
    assert rules[1].when == {"la_maintained": True, "phase": ["special"]}
    assert rules[1].expectation == "contacted_directly" and rules[1].message.startswith("As an LA-maintained")
    assert rules[-1].when == {}


def test_an_unknown_phase_in_the_national_averages_is_refused():
    refused(
        lambda r: r["national_averages"]["figures"][0]["attendance"].update(infant=90),
        "unknown phase 'infant'",
    )


# ------------------------------------------------------------------------------------------ working hours


def test_working_hours_by_weekday_name_string_or_list_sorted():
    wh = WorkingHours.parse(
        {"Monday": "09:00-12:00", "tue": ["13:00-16:00", "09:00-12:00"], " WED ": "10:00-11:00"}
    )
    assert wh.by_weekday == {
        0: ((time(9), time(12)),),
        1: ((time(9), time(12)), (time(13), time(16))),
        2: ((time(10), time(11)),),
    }
    assert wh.to_raw() == {
        "mon": ["09:00-12:00"],
        "tue": ["09:00-12:00", "13:00-16:00"],
        "wed": ["10:00-11:00"],
    }
    assert WorkingHours.parse(None).by_weekday == {}
    assert WorkingHours.parse({"sun": "10:00-11:00"}).by_weekday == {6: ((time(10), time(11)),)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"funday": "09:00-10:00"}, "hours: 'funday' is not a weekday"),
        ({"mon": "nine to five"}, "hours.mon: 'nine to five' is not like 09:00-16:00"),
        ({"mon": "10:00-09:00"}, "hours.mon: '10:00-09:00' ends before it starts"),
        ({"mon": "10:00-10:00"}, "ends before it starts"),
    ],
)
def test_bad_working_hours_are_refused(raw, message):
    with pytest.raises(PolicyError, match=message):
        WorkingHours.parse(raw, where="hours")


# ------------------------------------------------------------------------------------------ loading


def test_a_profile_by_path_takes_its_key_from_the_file_name(tmp_path):
    path = tmp_path / "surrey.toml"
    path.write_text(resources.files("tsm.policies").joinpath("kent.toml").read_text())
    assert load_policy(str(path)).key == "surrey"
    assert load_policy("kent").key == "kent"


def test_a_bad_profile_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[la\n")
    with pytest.raises(PolicyError, match="policy 'broken' is not valid TOML"):
        load_policy(str(path))
    with pytest.raises(PolicyError, match="no policy profile 'atlantis' \\(bundled: demo, kent, norfolk\\)"):
        load_policy("atlantis")
    with pytest.raises(PolicyError, match="no policy profile"):
        load_policy(str(tmp_path / "missing.toml"))


def test_the_bundled_profiles():
    assert bundled_policies() == ["demo", "kent", "norfolk"]
