"""Dates and times as a school reads them: "Tuesday 3 February", "10:30"."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from .errors import InvalidInput


def day_text(d: date | datetime, tz: tzinfo | None = None, *, weekday: bool = True, year: bool = False) -> str:
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


def when_text(start: datetime, end: datetime, tz: tzinfo) -> str:
    return f"{day_text(start, tz)} {time_text(start, tz)}–{time_text(end, tz)}"


def clean_text(value: Any, *, label: str, max_len: int, required: bool = False) -> str:
    """A free-text answer from a card or a message, stripped; refused with a sentence naming ``label``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"Please fill in {label}.")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is not in the expected form.")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"Please keep {label} under {max_len} characters.")
    return value
