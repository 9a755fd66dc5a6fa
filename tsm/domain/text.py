"""Dates and times as a school reads them: "Tuesday 3 February", "10:30", "Tuesday 3 February 10:30–11:30".

The one way a date or time is written to people, in every card, message and email: these functions, nowhere else
(issue 14, item 7d: "Wed 09 Dec 09:00" beside "Wednesday 9 December" read as two products)."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from .errors import InvalidInput


def day_text(
    d: date | datetime, tz: tzinfo | None = None, *, weekday: bool = True, year: bool = False
) -> str:
    if isinstance(d, datetime):
        d = d.astimezone(tz).date() if tz else d.date()
    out = f"{d.day} {d:%B}"
    if weekday:
        out = f"{d:%A} {out}"
    if year:
        out = f"{out} {d.year}"
    return out


def time_text(dt: datetime, tz: tzinfo) -> str:
    return dt.astimezone(tz).strftime("%H:%M")


def when_text(start: datetime, end: datetime, tz: tzinfo, *, year: bool = False) -> str:
    return f"{day_text(start, tz, year=year)} {time_text(start, tz)}–{time_text(end, tz)}"


@lru_cache(maxsize=4096)
def moment_text(at: datetime, tz: tzinfo) -> str:
    """A start with no end: "Tuesday 3 February 10:30". Kept for the times last written: every free-times card
    writes two dozen of them, mostly the same ones as the card before."""
    return f"{day_text(at, tz)} {time_text(at, tz)}"


def times_text(start: datetime, end: datetime, tz: tzinfo) -> str:
    """The hours of a day already named: "10:30–11:30"."""
    return f"{time_text(start, tz)}–{time_text(end, tz)}"


def clean_text(value: Any, *, label: str, max_len: int, required: bool = False) -> str:
    """A free-text answer from a card or a message, stripped; refused with a sentence naming ``label``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"Please fill in {label}.")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is not in the expected form.")
    text: str = value.strip()
    if len(text) > max_len:
        raise InvalidInput(f"Please keep {label} under {max_len} characters.")
    if _CONTROL.search(
        text
    ):  # NUL cannot be stored in PostgreSQL; CR/LF-style controls have no place in a field
        raise InvalidInput(
            f"{label[:1].upper()}{label[1:]} contains characters that cannot be saved: please retype it."
        )
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Characters that make markup in a Teams TextBlock, FactSet or message (its markdown: emphasis, links, code,
# headings, quotes, lists, tables) or in HTML (tags, entities). Backslash-escaped, each renders as itself.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")
_LINE_START = re.compile(r"^(\s*)(?:([-=])|(\d+)\.)", re.MULTILINE)  # "- item", "=== " underline, "1. item"


def plain(value: str) -> str:
    """Text one person typed, made safe to show another (a reason, a note, a comment, a name): every markdown and
    HTML construct is escaped, so a ``[link](https://...)`` shows as those characters, never as a link, and
    ``<b>``/``&lt;`` as written. For cards and chat messages (their text is markdown); plain-text channels
    (the ``.ics``, email bodies) use the text as typed."""
    if not value:
        return ""
    out = _MARKUP.sub(r"\\\1", value)
    out = _LINE_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\."), out
    )
    return out.replace("\r", "")


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()<>#+!|~&.=-])")


def unescape(value: str) -> str:
    """:func:`plain`'s escapes undone, for a channel that shows the words as plain text (an email's text part),
    after it has turned the message's own markdown into its form."""
    return _ESCAPED.sub(r"\1", value or "")


_HELD = (
    0xE000  # private-use characters stand for escaped ones while a channel turns markdown into its own form
)


def hold_escapes(value: str) -> str:
    """Each ``\\X`` of :func:`plain` as one private-use character, so a channel's own markdown patterns (bold,
    links) cannot match across them; :func:`release_escapes` gives the characters back."""
    return _ESCAPED.sub(lambda m: chr(_HELD + ord(m.group(1))), value or "")


def release_escapes(value: str, *, html: bool = False) -> str:
    """The characters :func:`hold_escapes` held, as themselves (HTML-escaped with ``html``)."""
    import html as _html

    return re.sub(
        "[\ue000-\ue07f]",
        lambda m: _html.escape(chr(ord(m.group(0)) - _HELD)) if html else chr(ord(m.group(0)) - _HELD),
        value,
    )


def days_words(days: int) -> str:
    """``1 day``, ``7 days``: a number of days as a sentence says it."""
    return f"{days} day" if days == 1 else f"{days} days"
