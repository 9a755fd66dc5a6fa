"""LA policy profiles: the booking rules of one local authority, loaded from a TOML data file.

Nothing about Norfolk or Kent is written in code: their differences are in ``tsm/policies/*.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import PolicyError
from .model import Mode, Phase

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BLOCK_MINUTES = 5  # the database reserves officers' time in blocks of this size; see adapters.db.OfficerBlock


@dataclass(frozen=True)
class MeetingType:
    key: str
    label: str
    duration: timedelta


@dataclass(frozen=True)
class WorkingHours:
    """Per weekday (0 = Monday) a list of (start, end) local times when meetings may happen."""

    by_weekday: dict[int, tuple[tuple[time, time], ...]]

    @classmethod
    def parse(cls, raw: dict[str, Any] | None, *, where: str = "working_hours") -> WorkingHours:
        """``{"mon": "09:00-16:00", "tue": ["09:00-12:00", "13:00-16:00"], ...}``; days left out are not worked."""
        out: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, value in (raw or {}).items():
            day = key.strip().lower()[:3]
            if day not in WEEKDAYS:
                raise PolicyError(f"{where}: '{key}' is not a weekday (use mon, tue, ... sun)")
            spans = [value] if isinstance(value, str) else list(value)
            parsed = []
            for span in spans:
                try:
                    a, b = (time.fromisoformat(p.strip()) for p in str(span).split("-", 1))
                except ValueError as exc:
                    raise PolicyError(f"{where}.{key}: '{span}' is not like 09:00-16:00") from exc
                if b <= a:
                    raise PolicyError(f"{where}.{key}: '{span}' ends before it starts")
                parsed.append((a, b))
            out[WEEKDAYS.index(day)] = tuple(sorted(parsed))
        return cls(out)

    def to_raw(self) -> dict[str, list[str]]:
        return {
            WEEKDAYS[d]: [f"{a:%H:%M}-{b:%H:%M}" for a, b in spans] for d, spans in sorted(self.by_weekday.items())
        }


@dataclass(frozen=True)
class NationalAverages:
    year: str
    source: str
    attendance_by_phase: dict[Phase, float]

    def for_phase(self, phase: Phase) -> float | None:
        return self.attendance_by_phase.get(phase)


@dataclass(frozen=True)
class EntitlementRule:
    """One row of the LA's entitlement table. The first rule whose conditions all hold applies.

    Conditions (all optional): ``phase`` (list), ``independent``, ``la_maintained``,
    ``trust_has_allocated_officer`` (booleans), ``attendance`` ("below", "at_or_above", "unknown").
    """

    name: str
    expectation: str  # termly | termly_encouraged | yearly | contacted_directly
    message: str
    when: dict[str, Any] = field(default_factory=dict)


EXPECTATIONS = ("termly", "termly_encouraged", "yearly", "contacted_directly")
CONDITIONS = {"phase", "independent", "la_maintained", "trust_has_allocated_officer", "attendance"}


@dataclass(frozen=True)
class Policy:
    key: str
    la_name: str
    timezone: str
    meeting_types: tuple[MeetingType, ...]
    modes_allowed: tuple[Mode, ...]
    default_mode: Mode
    slot_granularity: timedelta
    minimum_notice: timedelta
    travel_buffer: timedelta  # before and after each on-site meeting
    max_meetings_per_officer_per_day: int
    working_hours: WorkingHours
    max_tsms_per_school_per_term: int
    schools_book_themselves: bool
    next_tsm_at_meeting_end: str  # "offer_both" | "officer_proposes"
    national_averages: NationalAverages
    entitlement_rules: tuple[EntitlementRule, ...]
    notes: str = ""
    # People invited to one TSM (booked attendees and colleagues added): a meeting of a few school leaders and an
    # officer, so a cap keeps a runaway card or script from inviting a mailing list. booking.max_invitees.
    max_invitees: int = 12
    # An evaluation's school is shown to officers only when the school gave at least this many answers in what is
    # shown (else the answer is "a school": with two people attending, the school names its author).
    # evaluation.min_answers_to_name_school.
    min_answers_to_name_school: int = 3

    def meeting_type(self, key: str | None = None) -> MeetingType:
        if key is None:
            return self.meeting_types[0]
        for mt in self.meeting_types:
            if mt.key == key:
                return mt
        raise PolicyError(f"unknown meeting type '{key}' (known: {', '.join(m.key for m in self.meeting_types)})")

    def buffer_for(self, mode: Mode) -> timedelta:
        return self.travel_buffer if mode is Mode.ON_SITE else timedelta(0)


def _minutes(raw: dict[str, Any], key: str, *, where: str, default: int | None = None, lo: int = 0, hi: int = 10_000) -> timedelta:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError(f"{where}.{key} must be a whole number of minutes")
    if not lo <= value <= hi:
        raise PolicyError(f"{where}.{key} = {value} is outside {lo}..{hi}")
    if value % BLOCK_MINUTES:
        raise PolicyError(f"{where}.{key} = {value} must be a multiple of {BLOCK_MINUTES} minutes")
    return timedelta(minutes=value)


def parse_policy(key: str, raw: dict[str, Any]) -> Policy:
    try:
        la = raw["la"]
        booking = raw["booking"]
        ent = raw["entitlement"]
        nat = raw["national_averages"]
    except KeyError as exc:
        raise PolicyError(f"policy '{key}': missing section [{exc.args[0]}]") from exc

    types = []
    for i, mt in enumerate(booking.get("meeting_types", [])):
        where = f"booking.meeting_types[{i}]"
        types.append(MeetingType(mt["key"], mt.get("label", mt["key"]), _minutes(mt, "duration_minutes", where=where, lo=60, hi=90)))
    if not types:
        raise PolicyError(f"policy '{key}': booking.meeting_types is empty")

    try:
        modes = tuple(Mode(m) for m in booking.get("modes_allowed", ["on_site", "teams"]))
        default_mode = Mode(booking.get("default_mode", modes[0].value))
    except ValueError as exc:
        raise PolicyError(f"policy '{key}': {exc}") from exc
    if default_mode not in modes:
        raise PolicyError(f"policy '{key}': default_mode {default_mode} is not among modes_allowed")

    rules = []
    for i, r in enumerate(ent.get("rules", [])):
        if r.get("expectation") not in EXPECTATIONS:
            raise PolicyError(f"entitlement.rules[{i}].expectation must be one of {EXPECTATIONS}")
        unknown = set(r.get("when", {})) - CONDITIONS
        if unknown:
            raise PolicyError(f"entitlement.rules[{i}].when has unknown conditions {sorted(unknown)}")
        rules.append(EntitlementRule(r.get("name", f"rule{i}"), r["expectation"], r.get("message", ""), dict(r.get("when", {}))))
    if not rules or rules[-1].when:
        raise PolicyError(f"policy '{key}': the last entitlement rule must have no conditions (the default)")

    averages = {}
    for phase_name, value in nat.get("attendance", {}).items():
        try:
            averages[Phase(phase_name)] = float(value)
        except ValueError as exc:
            raise PolicyError(f"national_averages.attendance: unknown phase '{phase_name}'") from exc

    max_per_day = booking.get("max_meetings_per_officer_per_day", 3)
    if not isinstance(max_per_day, int) or max_per_day < 1:
        raise PolicyError("booking.max_meetings_per_officer_per_day must be a positive whole number")
    per_term = ent.get("max_tsms_per_school_per_term", 1)
    if per_term != 1:
        # The database enforces one active TSM per school per term (both seed LAs); more needs a schema change.
        raise PolicyError("entitlement.max_tsms_per_school_per_term: only 1 is supported")
    granularity = _minutes(booking, "slot_granularity_minutes", where="booking", default=30, lo=5, hi=120)
    max_invitees = booking.get("max_invitees", 12)
    if not isinstance(max_invitees, int) or isinstance(max_invitees, bool) or not 2 <= max_invitees <= 100:
        raise PolicyError("booking.max_invitees must be a whole number from 2 to 100")
    min_named = raw.get("evaluation", {}).get("min_answers_to_name_school", 3)
    if not isinstance(min_named, int) or isinstance(min_named, bool) or not 1 <= min_named <= 50:
        raise PolicyError("evaluation.min_answers_to_name_school must be a whole number from 1 to 50")
    if granularity <= timedelta(0):
        raise PolicyError("booking.slot_granularity_minutes must be positive")

    return Policy(
        key=key,
        la_name=la.get("name", key),
        timezone=la.get("timezone", "Europe/London"),
        meeting_types=tuple(types),
        modes_allowed=modes,
        default_mode=default_mode,
        slot_granularity=granularity,
        minimum_notice=timedelta(hours=int(booking.get("minimum_notice_hours", 48))),
        travel_buffer=_minutes(booking, "travel_buffer_minutes", where="booking", default=30, hi=180),
        max_meetings_per_officer_per_day=max_per_day,
        working_hours=WorkingHours.parse(booking.get("officer_working_hours"), where="booking.officer_working_hours"),
        max_tsms_per_school_per_term=per_term,
        schools_book_themselves=bool(booking.get("schools_book_themselves", True)),
        next_tsm_at_meeting_end=booking.get("next_tsm_at_meeting_end", "offer_both"),
        national_averages=NationalAverages(str(nat.get("year", "")), str(nat.get("source", "")), averages),
        entitlement_rules=tuple(rules),
        notes=str(la.get("notes", "")),
        max_invitees=max_invitees,
        min_answers_to_name_school=min_named,
    )


def load_policy(name_or_path: str) -> Policy:
    """A bundled profile by name (``norfolk``, ``kent``, ``demo``) or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, key = path.read_text(encoding="utf-8"), path.stem
    else:
        res = resources.files("tsm.policies").joinpath(f"{name_or_path}.toml")
        if not res.is_file():
            raise PolicyError(f"no policy profile '{name_or_path}' (bundled: {', '.join(bundled_policies())})")
        text, key = res.read_text(encoding="utf-8"), name_or_path
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy '{key}' is not valid TOML: {exc}") from exc
    return parse_policy(key, raw)


def bundled_policies() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("tsm.policies").iterdir() if p.name.endswith(".toml"))
