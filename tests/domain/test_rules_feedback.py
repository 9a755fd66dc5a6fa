"""The feedback rules' boundaries (``tsm/domain/feedback.py``): ratings 1-5, counts under 5 suppressed, figures and
actions checked with the edge of each limit on both sides, the action reminder's window, coverage's precedence
and the evaluation summary's arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tsm.domain.errors import InvalidInput
from tsm.domain.feedback import (
    LA_TOTAL,
    ActionOwner,
    Answer,
    Coverage,
    CoverageRow,
    Figures,
    Finding,
    Ratings,
    TermMeeting,
    action_reminder_due,
    allowed_from_names,
    coverage_of,
    parse_actions,
    parse_count,
    parse_due,
    parse_figures,
    parse_flag,
    parse_pct,
    parse_rating,
    parse_ratings,
    retention_cutoff,
    show_count,
    summarise_evaluations,
    tally_coverage,
    unacknowledged,
)

DAY = date(2027, 1, 12)


@pytest.mark.parametrize(("value", "rating"), [(1, 1), (5, 5), (" 3 ", 3), ("5", 5)])
def test_a_rating_is_a_whole_number_from_one_to_five(value, rating):
    assert parse_rating(value, "Usefulness") == rating


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "from 1 to 5"),
        (6, "from 1 to 5"),
        ("6", "from 1 to 5"),
        (True, "from 1 to 5"),
        (2.5, "from 1 to 5"),
        (None, "\\(1 to 5\\)"),
        ("", "\\(1 to 5\\)"),
    ],
)
def test_a_rating_outside_one_to_five_is_refused(value, message):
    with pytest.raises(InvalidInput, match=f"Please rate “Usefulness” {message}"):
        parse_rating(value, "Usefulness")


def test_all_four_ratings_are_read():
    r = parse_ratings({"usefulness": "4", "working_together": 5, "clarity": 3, "overall": "2"})
    assert r == Ratings(4, 5, 3, 2) and r.as_dict() == {
        "usefulness": 4,
        "working_together": 5,
        "clarity": 3,
        "overall": 2,
    }


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        (True, True),
        (False, False),
        ("true", True),
        (" Yes ", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("", False),
        (None, False),
        (1, False),
    ],
)
def test_a_card_toggle(value, flag):
    assert parse_flag(value) is flag


@pytest.mark.parametrize(("n", "shown"), [(None, ""), (0, "<5"), (4, "<5"), (5, "5"), (123, "123")])
def test_counts_under_five_are_never_shown(n, shown):
    assert show_count(n) == shown


@pytest.mark.parametrize(
    ("value", "pct"), [(None, None), ("  ", None), ("93.44%", 93.4), (0, 0.0), (100, 100.0), ("93.45", 93.5)]
)
def test_attendance_is_a_percentage_to_one_decimal(value, pct):
    assert parse_pct(value) == pct


@pytest.mark.parametrize("value", [True, "abc", 100.1, -0.1])
def test_attendance_outside_0_to_100_is_refused(value):
    with pytest.raises(InvalidInput, match="Overall attendance must be a percentage between 0 and 100"):
        parse_pct(value)


@pytest.mark.parametrize(
    ("value", "n"), [(None, None), ("", None), (0, 0), (3.0, 3), (" 12 ", 12), (100_000, 100_000)]
)
def test_a_count_is_a_whole_number(value, n):
    assert parse_count(value, "The PA count") == n


@pytest.mark.parametrize("value", [True, -1, 100_001, 2.5, "1234567", "12a"])
def test_a_count_out_of_range_is_refused(value):
    with pytest.raises(InvalidInput, match="The PA count must be a whole number"):
        parse_count(value, "The PA count")


def test_severe_absence_cannot_exceed_persistent_absence():
    with pytest.raises(InvalidInput, match="cannot be more than the persistent absence count"):
        parse_figures({"pa": "10", "sa": "11"})
    f = parse_figures({"pa": "10", "sa": "10", "attendance_pct": "91", "sen": "7", "grt": ""})
    assert (f.pa, f.sa, f.attendance_pct) == (10, 10, 91.0)
    assert f.cohort("sen") == 7 and f.cohort("grt") is None and f.cohort("unknown") is None
    assert parse_figures({"sa": "3"}) == Figures(
        None, None, 3, (("sen", None), ("fsm", None), ("eal", None), ("grt", None))
    )


def test_a_due_date():
    assert parse_due(DAY, "action 1") == DAY
    assert parse_due("2027-01-12T10:00", "action 1") == DAY
    with pytest.raises(InvalidInput, match="Please give a due date for action 1"):
        parse_due("  ", "action 1")
    with pytest.raises(InvalidInput, match="Please give a due date for action 1"):
        parse_due(datetime(2027, 1, 12, tzinfo=UTC), "action 1")
    with pytest.raises(InvalidInput, match="The due date for action 1 is not a date"):
        parse_due("12/01/2027", "action 1")


def row(i: int, text: str, owner: str, due, detail: str = "") -> dict:
    return {
        f"action{i}_text": text,
        f"action{i}_owner": owner,
        f"action{i}_due": due,
        f"action{i}_detail": detail,
    }


def test_actions_due_from_the_meeting_day_to_400_days_on():
    raw = {
        **row(1, "Call home", "School", DAY.isoformat(), "ignored"),
        **row(2, "", "la", ""),
        **row(3, "Refer", "other", (DAY + timedelta(days=400)).isoformat(), "Early Help"),
    }
    actions = parse_actions(raw, meeting_day=DAY)
    assert [(a.text, a.owner, a.due, a.owner_detail) for a in actions] == [
        ("Call home", ActionOwner.SCHOOL, DAY, ""),
        ("Refer", ActionOwner.OTHER, DAY + timedelta(days=400), "Early Help"),
    ]
    assert (
        parse_actions({**row(9, "Ninth", "la", DAY.isoformat())}, meeting_day=DAY) == []
    )  # 8 rows on a card
    assert len(parse_actions({**row(2, "Two", "la", DAY.isoformat())}, meeting_day=DAY, slots=2)) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (row(1, "x", "parents", DAY.isoformat()), "Please choose who owns action 1"),
        (row(1, "x", "", DAY.isoformat()), "Please choose who owns action 1"),
        (row(1, "x", "other", DAY.isoformat()), "Action 1 is owned by another service: please say which one"),
        (
            row(1, "x", "la", (DAY - timedelta(days=1)).isoformat()),
            "Action 1 is due before the meeting itself",
        ),
        (
            row(1, "x", "la", (DAY + timedelta(days=401)).isoformat()),
            "Action 1 is due more than a year ahead",
        ),
    ],
)
def test_an_action_without_an_owner_or_a_sensible_date_is_refused(raw, message):
    with pytest.raises(InvalidInput, match=message):
        parse_actions(raw, meeting_day=DAY)


def test_owners_in_words():
    assert [o.label for o in ActionOwner] == ["School", "LA", "Other service"]


def test_an_open_action_is_reminded_from_seven_days_before_it_is_due_until_the_next_tsm():
    due = date(2027, 2, 10)
    assert not action_reminder_due(due=due, today=due - timedelta(days=8), done=False, next_tsm=None)
    assert action_reminder_due(due=due, today=due - timedelta(days=7), done=False, next_tsm=None)
    assert action_reminder_due(due=due, today=due + timedelta(days=30), done=False, next_tsm=None)
    assert not action_reminder_due(due=due, today=due, done=True, next_tsm=None)
    assert not action_reminder_due(due=due, today=due, done=False, next_tsm=due)  # the next TSM's business
    assert action_reminder_due(due=due, today=due, done=False, next_tsm=due + timedelta(days=1))
    assert action_reminder_due(due=due, today=due - timedelta(days=3), done=False, next_tsm=None, lead_days=3)
    assert not action_reminder_due(
        due=due, today=due - timedelta(days=4), done=False, next_tsm=None, lead_days=3
    )


def test_what_looks_like_pupil_data_in_words_and_what_was_confirmed():
    assert [Finding(k, "x").label for k in ("upn", "dob", "name")] == [
        "looks like a UPN",
        "looks like a date of birth",
        "looks like a person's name",
    ]
    assert allowed_from_names(["St Mary-Anne's (C of E) School", "", "Dr. Jo O’Neil"]) >= {
        "st",
        "mary-anne's",
        "mary",
        "anne",
        "s",
        "c",
        "of",
        "e",
        "school",
        "dr",
        "jo",
        "o’neil",
        "o",
        "neil",
    }
    found = [Finding("name", "Jo Bloggs"), Finding("upn", "A123456789012")]
    assert unacknowledged(found, [" Jo Bloggs ", 7]) == [Finding("upn", "A123456789012")]
    assert unacknowledged(found, ["Jo"]) == found


def meeting(status: str, day: int, updated: int = 1) -> TermMeeting:
    return TermMeeting(status, datetime(2027, 1, day, 10, tzinfo=UTC), datetime(2027, 1, updated, tzinfo=UTC))


def test_coverage_held_beats_booked_beats_cancelled_and_the_latest_decides():
    held1, held2 = meeting("held", 5), meeting("held", 9)
    assert coverage_of([meeting("booked", 20), held1, held2], offered=False) == (Coverage.HELD, held2)
    moved, booked = meeting("moved", 21), meeting("booked", 20)
    assert coverage_of([booked, meeting("cancelled", 3), moved], offered=False) == (Coverage.BOOKED, moved)
    cancelled, no_show = meeting("cancelled", 9, updated=2), meeting("no_show", 5, updated=8)
    assert coverage_of([cancelled, no_show], offered=True) == (Coverage.NO_SHOW, no_show)
    late_cancel = meeting("cancelled", 4, updated=9)
    assert coverage_of([late_cancel, no_show], offered=True) == (Coverage.CANCELLED, late_cancel)
    assert coverage_of([], offered=True) == (Coverage.OFFERED, None)
    assert coverage_of([], offered=False) == (Coverage.NOT_BOOKED, None)


def test_coverage_tallies_and_percentages():
    rows = [
        CoverageRow(1, "A", "Zed", Coverage.HELD),
        CoverageRow(2, "B", "Zed", Coverage.BOOKED),
        CoverageRow(3, "C", "Zed", Coverage.NOT_BOOKED),
        CoverageRow(4, "D", "Amy", Coverage.CANCELLED),
    ]
    amy, zed, la = tally_coverage(rows)
    assert (amy.officer, zed.officer, la.officer) == ("Amy", "Zed", LA_TOTAL)
    assert (zed.schools, zed.held_pct, zed.covered_pct) == (3, 33.3, 66.7)
    assert (amy.held_pct, amy.covered_pct) == (0.0, 0.0)
    assert (la.schools, la.held_pct, la.covered_pct) == (4, 25.0, 50.0)
    assert tally_coverage([])[0].held_pct == 0.0 and tally_coverage([])[0].covered_pct == 0.0
    assert Coverage.OFFERED.label == "Offered, not booked" and Coverage.NO_SHOW.label == "No-show"


def test_evaluation_summary_per_officer_then_the_la():
    answers = [
        Answer("Zed", Ratings(5, 4, 3, 2)),
        Answer("Zed", Ratings(4, 4, 4, 4)),
        Answer("Amy", Ratings(1, 1, 1, 1)),
    ]
    amy, bob, zed, la = summarise_evaluations(answers, held_by_officer={"Zed": 3, "Bob": 2})
    assert [s.officer for s in (amy, bob, zed, la)] == ["Amy", "Bob", "Zed", LA_TOTAL]
    assert (zed.answers, zed.meetings_held, zed.means["usefulness"], zed.means["overall"]) == (2, 3, 4.5, 3.0)
    assert zed.distribution["usefulness"] == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert (bob.answers, bob.meetings_held, bob.means["clarity"]) == (0, 2, None)
    assert (amy.meetings_held, la.answers, la.meetings_held) == (0, 3, 5)
    assert la.means["usefulness"] == round(10 / 3, 2)


def test_records_are_kept_at_least_a_day():
    now = datetime(2027, 1, 12, tzinfo=UTC)
    assert retention_cutoff(now, 1) == now - timedelta(days=1)
    assert retention_cutoff(now, 730) == now - timedelta(days=730)
    with pytest.raises(ValueError, match="at least one day"):
        retention_cutoff(now, 0)


def test_the_rating_scale_and_the_limits_people_are_told():
    from tsm.domain import feedback

    assert feedback.SCALE == {1: "1 Poor", 2: "2 Fair", 3: "3 Good", 4: "4 Very good", 5: "5 Excellent"}
    # an evaluation's comments and a record's notes: 2000 characters; an action: 500; 8 actions on a record
    assert (feedback.MAX_COMMENT, feedback.MAX_NOTES, feedback.MAX_ACTION, feedback.MAX_ACTIONS) == (
        2000,
        2000,
        500,
        8,
    )
    assert clean_text_limit_ok("x" * 500)


def clean_text_limit_ok(text: str) -> bool:
    [a] = parse_actions(row(1, text, "la", DAY.isoformat()), meeting_day=DAY)
    with pytest.raises(InvalidInput, match="Please keep action 1 under 500 characters"):
        parse_actions(row(1, text + "x", "la", DAY.isoformat()), meeting_day=DAY)
    return a.text == text


def test_a_true_or_false_is_not_a_percentage():
    with pytest.raises(InvalidInput, match="^Overall attendance must be a percentage between 0 and 100\\.$"):
        parse_pct(True)


def test_action_rows_are_numbered_from_one_and_a_service_name_is_up_to_120_characters():
    assert parse_actions({**row(0, "zero", "la", DAY.isoformat())}, meeting_day=DAY) == []
    [a] = parse_actions(row(1, "Refer", "other", DAY.isoformat(), "S" * 120), meeting_day=DAY)
    assert a.owner_detail == "S" * 120
    with pytest.raises(InvalidInput, match="under 120 characters"):
        parse_actions(row(1, "Refer", "other", DAY.isoformat(), "S" * 121), meeting_day=DAY)


def test_the_reminder_answer_is_a_plain_false_when_not_due():
    due = date(2027, 2, 10)
    assert action_reminder_due(due=due, today=due, done=True, next_tsm=None) is False
    assert action_reminder_due(due=due, today=due, done=False, next_tsm=due) is False


def test_pupil_data_in_words_people_typed():
    from tsm.domain.feedback import find_pupil_data

    assert find_pupil_data("") == [] and find_pupil_data(None) == []
    assert find_pupil_data("Call Jane Smith, then Jane Smith again") == [Finding("name", "Jane Smith")]
    assert find_pupil_data("Contact Jane Smith Today") == [Finding("name", "Jane Smith")]
    assert find_pupil_data("Mr Kent visited") == []  # a title before an allowed word is not a name
    assert find_pupil_data("Mr Bloggs visited") == [Finding("name", "Mr Bloggs")]
    assert find_pupil_data("Term-Time Term-Time") == []  # allowed as a whole word
    assert find_pupil_data("Year-Group Trust-Academy") == []  # allowed by its parts


def test_a_yearly_schools_tsm_held_earlier_this_year_covers_it_unless_this_term_decides():
    earlier = meeting("held", 2)
    assert coverage_of([], offered=False, held_this_year=earlier) == (Coverage.HELD_THIS_YEAR, earlier)
    assert coverage_of([meeting("cancelled", 5)], offered=True, held_this_year=earlier) == (
        Coverage.HELD_THIS_YEAR,
        earlier,
    )
    booked = meeting("booked", 20)
    assert coverage_of([booked], offered=False, held_this_year=earlier) == (Coverage.BOOKED, booked)
