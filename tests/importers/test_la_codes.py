"""The list of English LA codes (tsm/data/english-la-codes.csv) and the typo check the GIAS import makes with it
(issue 13 item 12). The import itself: tests/importers/test_gias_rules.py."""

from __future__ import annotations

import pytest

from tsm.domain.la_codes import _one_edit_apart, english_la_codes, la_code_problem


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("926", "927", True),  # one substituted
        ("926", "9266", True),  # one added
        ("9266", "926", True),
        ("926", "26", True),  # one dropped
        ("926", "926", False),  # the same is no typo
        ("926", "962", False),  # two substituted
        ("926", "92666", False),  # two added
        ("926", "8266", False),  # one added, but another changed
        ("886", "8680", False),
    ],
)
def test_one_keystroke_apart(a, b, near):
    assert _one_edit_apart(a, b) is near


def test_a_typo_is_refused_with_the_codes_one_keystroke_away():
    assert la_code_problem("9266").endswith("Did you mean 926 (Norfolk)? Nothing was imported.")
    assert "Did you mean" not in la_code_problem("12345")
    assert la_code_problem("") is not None


def test_current_codes_have_no_successor_and_former_ones_name_theirs():
    codes = english_la_codes()
    assert codes["926"].replaced_by == () and codes["926"].current
    assert codes["928"].replaced_by == ("940", "941") and not codes["928"].current
    assert la_code_problem("835") == (
        "LA code 835 (Dorset (before 2019)) is no longer an English local authority: "
        "its schools are now under 838 (Dorset)."
    )
