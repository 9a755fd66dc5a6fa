"""The one rule for pupil data in free text (``tsm/domain/pupil_data.py``): a UPN or a date of birth is refused
whatever the user confirms, a likely name is refused naming at most three of the words flagged, and only exact
phrases the user was shown confirm a name on the TSM record's form."""

from __future__ import annotations

import pytest

from tsm.domain.errors import InvalidInput
from tsm.domain.feedback import Finding
from tsm.domain.pupil_data import check_free_text, free_text, identifiers, pending

UPN = Finding("upn", "A123456789012")
DOB = Finding("dob", "born 03/04/2015")
NAME = Finding("name", "Jane Smith")


def test_an_identifier_still_stops_a_save_when_the_user_confirms_it():
    found = [NAME, UPN, DOB]
    assert pending(found, acknowledged=["A123456789012", "born 03/04/2015", "Jane Smith"]) == [UPN, DOB]


def test_a_name_stops_a_save_until_its_exact_phrase_is_confirmed():
    found = (f for f in [UPN, NAME])  # any iterable of findings, read once
    assert pending(found) == [UPN, NAME]
    assert pending([UPN, NAME], acknowledged=["Jane Smith"]) == [UPN]
    assert pending([NAME], acknowledged=["Jane"]) == [NAME]
    assert pending([]) == []


def test_only_upns_and_dates_of_birth_are_identifiers():
    assert identifiers([NAME, DOB, UPN]) == [DOB, UPN]


def test_empty_text_passes_as_it_came():
    assert check_free_text("", label="your reason") == ""
    assert free_text("", label="your reason", max_len=50) == ""
    assert free_text(None, label="your reason", max_len=50) == ""


def test_the_refusal_names_the_first_identifier_found_and_what_it_looks_like():
    with pytest.raises(InvalidInput) as upn:
        check_free_text("born 03/04/2015, UPN A123456789012", label="your reason")
    assert str(upn.value).startswith(
        "Please remove “A123456789012” from your reason: it looks like a pupil's UPN,"
    )
    with pytest.raises(InvalidInput) as dob:
        check_free_text("Absent since born 03/04/2015", label="the comments")
    assert "“born 03/04/2015” from the comments: it looks like a pupil's date of birth" in str(dob.value)
    assert "Nothing was saved." in str(dob.value)


def test_a_refused_name_list_shows_at_most_three_names():
    with pytest.raises(InvalidInput) as many:
        check_free_text("Jane Smith, Tom Brown, Amy Green and Bob White", label="your reason")
    assert str(many.value).startswith(
        "“Jane Smith”, “Tom Brown”, “Amy Green” in your reason may be a pupil's name"
    )
    assert "Bob White" not in str(many.value) and "edit them out" in str(many.value)
    with pytest.raises(InvalidInput) as one:
        check_free_text("Spoke to Jane Smith", label="your reason")
    assert str(one.value).startswith("“Jane Smith” in your reason may be a pupil's name: please edit it out")


def test_a_field_that_is_a_name_takes_names_but_never_identifiers():
    assert check_free_text("Jane Smith", label="the attendee", names=False) == "Jane Smith"
    assert free_text("Jane Smith", label="the attendee", max_len=80, names=False) == "Jane Smith"
    with pytest.raises(InvalidInput, match="UPN"):
        free_text("Jane A123456789012", label="the attendee", max_len=80, names=False)


def test_free_text_refuses_names_and_takes_blanks_unless_told_otherwise():
    with pytest.raises(InvalidInput, match="may be a pupil's name"):
        free_text("Spoke to Jane Smith", label="your reason", max_len=80)
    with pytest.raises(InvalidInput):
        free_text("  ", label="your reason", max_len=80, required=True)
    assert free_text("  Spoke to the head  ", label="your reason", max_len=80) == "Spoke to the head"
    assert (
        free_text("Spoke to Mrs Example", label="x", max_len=80, allowed=["Example"])
        == "Spoke to Mrs Example"
    )
