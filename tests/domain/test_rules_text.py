"""What one person typed, shown to another (``tsm/domain/text.py``): saved only without control characters,
shown as the characters typed (never as markup), and given back as typed where a channel shows plain text."""

from __future__ import annotations

import pytest

from tsm.domain.errors import InvalidInput
from tsm.domain.text import clean_text, days_words, hold_escapes, plain, release_escapes, unescape

TYPED = [
    "[link](https://evil.example)",
    "**bold** _it_ `code`",
    "<b>x</b> &lt;",
    "# heading",
    "- item\n+ other",
    "1. first\n  2. second",
    "=== underline",
    "a|b~c!d{e}f",
    "back\\slash",
    "plain words",
]


@pytest.mark.parametrize("bad", ["a\x00b", "a\x08b", "a\x0bb", "a\x0cb", "a\x0eb", "a\x1fb", "a\x7fb"])
def test_control_characters_are_refused_in_a_field(bad):
    with pytest.raises(InvalidInput, match="The note contains characters that cannot be saved"):
        clean_text(bad, label="the note", max_len=50)


@pytest.mark.parametrize("ok", ["a\tb", "a\nb", "a\r\nb", "café – ok"])
def test_tabs_new_lines_and_ordinary_unicode_are_kept(ok):
    assert clean_text(ok, label="the note", max_len=50) == ok


def test_a_field_exactly_at_its_limit_is_kept():
    assert clean_text("x" * 8, label="the note", max_len=8) == "x" * 8


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("[link](https://e.example)", "\\[link\\]\\(https://e.example\\)"),
        ("**b** _i_ `c`", "\\*\\*b\\*\\* \\_i\\_ \\`c\\`"),
        ("<b>&lt;</b>", "\\<b\\>\\&lt;\\</b\\>"),
        ("# h", "\\# h"),
        ("- item\n  - sub", "\\- item\n  \\- sub"),
        ("=== x", "\\=== x"),
        ("12. item", "12\\. item"),
        ("a - b 3. c", "a - b 3. c"),  # only at a line's start
        ("line\r\nnext", "line\nnext"),
        ("back\\slash", "back\\\\slash"),
        ("", ""),
    ],
)
def test_typed_text_is_shown_as_typed_never_as_markup(typed, shown):
    assert plain(typed) == shown


@pytest.mark.parametrize("typed", TYPED)
def test_unescape_gives_back_what_was_typed(typed):
    assert unescape(plain(typed)) == typed
    assert release_escapes(hold_escapes(plain(typed))) == typed


def test_held_escapes_cannot_be_read_as_markup_and_come_back_html_escaped():
    held = hold_escapes(plain("**not bold** <i>"))
    assert "*" not in held and "<" not in held
    assert release_escapes(held, html=True) == "**not bold** &lt;i&gt;"
    assert unescape("") == "" and unescape(None) == "" and hold_escapes(None) == ""


# ------------------------------------------------------------------------------------------ errors people read


def test_a_refusal_reads_as_its_message_and_starts_with_no_alternatives():
    from tsm.domain.errors import BookingRefused, TsmError

    r = BookingRefused("slot_taken", "Sorry, that time has just been taken.")
    assert str(r) == "Sorry, that time has just been taken." and r.args == (
        "Sorry, that time has just been taken.",
    )
    assert isinstance(r, TsmError) and r.alternatives == [] and r.context == {}
    assert BookingRefused("x", "y").alternatives is not BookingRefused("x", "y").alternatives


def test_service_busy_says_nothing_changed_and_when_to_retry():
    from tsm.domain.errors import ServiceBusy, TsmError

    busy = ServiceBusy()
    assert (
        str(busy) == "The service is busy just now: nothing was changed. Please try again in a few seconds."
    )
    assert busy.retry_after == 5 and not isinstance(busy, TsmError)
    assert ServiceBusy("locked", retry_after=9).retry_after == 9


def test_nothing_typed_shows_as_nothing():
    assert plain(None) == "" and plain("") == ""


def test_an_escaped_character_is_held_as_the_private_use_character_at_its_own_code_plus_e000():
    assert hold_escapes("\\*\\[") == "\ue02a\ue05b"
    assert release_escapes("\ue02a\ue05b") == "*["


def test_a_number_of_days_is_said_in_the_singular_only_for_one():
    assert [days_words(n) for n in (0, 1, 2, 7)] == ["0 days", "1 day", "2 days", "7 days"]
