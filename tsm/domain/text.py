"""Dates and times as a school reads them: "Tuesday 3 February", "10:30"."""

from __future__ import annotations

from datetime import date, datetime, tzinfo


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
