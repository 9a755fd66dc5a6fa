"""Graph's date-time shapes: ``{"dateTime": "...", "timeZone": "..."}``, ISO strings, Windows zone names."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The Windows zone names Graph uses most often, mapped to IANA. Graph accepts both kinds.
WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "gtb standard time": "Europe/Bucharest",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "pacific standard time": "America/Los_Angeles",
    "india standard time": "Asia/Kolkata",
    "tokyo standard time": "Asia/Tokyo",
    "aus eastern standard time": "Australia/Sydney",
}

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


class BadTimeZone(ValueError):
    pass


def zone(name: str | None) -> tzinfo:
    """A zone from a Graph time zone name (IANA or Windows); empty means UTC."""
    if not name:
        return UTC
    key = name.strip()
    mapped = WINDOWS_ZONES.get(key.lower())
    if mapped:
        key = mapped
    if key.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTimeZone(name) from exc


def parse_iso(value: str, default_zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 string (Graph's 7-digit fractions allowed) as an aware UTC datetime."""
    text = value.strip().replace(" ", "T")
    text = _FRACTION.sub(lambda m: m.group(1), text, count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed.astimezone(UTC)


def parse_dttz(value: object) -> tuple[datetime, str]:
    """A Graph dateTimeTimeZone (or ISO string, or datetime) as (aware UTC datetime, zone name given)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC), "UTC"
    if isinstance(value, str):
        return parse_iso(value), "UTC"
    if isinstance(value, dict):
        lowered = {str(k).lower(): v for k, v in value.items()}
        text = lowered.get("datetime")
        tz_name = lowered.get("timezone") or "UTC"
        if not isinstance(text, str) or not text:
            raise ValueError("dateTime is missing")
        return parse_iso(text, zone(tz_name)), str(tz_name)
    raise ValueError(f"not a date-time: {value!r}")


def fmt_dttz(value: datetime, tz_name: str = "UTC") -> dict[str, str]:
    """Graph's rendering: local wall time with seven fraction digits, and the zone's name."""
    local = value.astimezone(zone(tz_name))
    return {
        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0",
        "timeZone": tz_name,
    }


def fmt_instant(value: datetime) -> str:
    """Graph's UTC timestamp: ``2026-11-02T09:00:00.1234567Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"
