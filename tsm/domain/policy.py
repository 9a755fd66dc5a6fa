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

from .averages import MEASURES, NationalAverage, NationalAverages, academic_year
from .errors import PolicyError
from .model import Mode, Phase, TermName

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
                    a, b = (
                        time.fromisoformat(p.strip()) for p in str(span).split("-", 1)
                    )  # equivalent-mutant[constant=2]: a third part fails like a bad time
                except ValueError as exc:
                    raise PolicyError(f"{where}.{key}: '{span}' is not like 09:00-16:00") from exc
                if b <= a:
                    raise PolicyError(f"{where}.{key}: '{span}' ends before it starts")
                parsed.append((a, b))
            out[WEEKDAYS.index(day)] = tuple(sorted(parsed))
        return cls(out)

    def to_raw(self) -> dict[str, list[str]]:
        return {
            WEEKDAYS[d]: [f"{a:%H:%M}-{b:%H:%M}" for a, b in spans]
            for d, spans in sorted(self.by_weekday.items())
        }


# GIAS "TypeOfEstablishment (name)" values a TSM covers (establishments with pupils of compulsory school age):
# primary, middle, secondary and all-through schools of every kind, special schools (non-maintained and independent
# special included), PRUs and alternative provision, independent schools. Left out: LA nursery schools, further and
# higher education, 16-19 and sixth-form institutions, children's centres, online providers, secure units, schools
# overseas, Welsh establishments, "Miscellaneous". A profile changes it with [schools] establishment_types.
DEFAULT_ESTABLISHMENT_TYPES = (
    "Community school",
    "Voluntary aided school",
    "Voluntary controlled school",
    "Foundation school",
    "City technology college",
    "Academy converter",
    "Academy sponsor led",
    "Free schools",
    "University technical college",
    "Studio schools",
    "Community special school",
    "Foundation special school",
    "Academy special converter",
    "Academy special sponsor led",
    "Free schools special",
    "Non-maintained special school",
    "Other independent special school",
    "Other independent school",
    "Pupil referral unit",
    "Academy alternative provision converter",
    "Academy alternative provision sponsor led",
    "Free schools alternative provision",
)


@dataclass(frozen=True)
class EntitlementRule:
    """One row of the LA's entitlement table. The first rule whose conditions all hold applies.

    Conditions (all optional): ``phase`` (list), ``independent``, ``la_maintained``,
    ``trust_has_allocated_officer`` (booleans), ``attendance``: "below" or "at_or_above" the national average of
    the same year and measure (exactly equal is "at_or_above"), "no_figure" (no attendance on record),
    "no_average" (a figure, but no national average of its phase, year and measure to compare it with), or
    "unknown" (either of the last two).
    """

    name: str
    expectation: str  # termly | termly_encouraged | yearly | contacted_directly
    message: str
    when: dict[str, Any] = field(default_factory=dict)


EXPECTATIONS = ("termly", "termly_encouraged", "yearly", "contacted_directly")
ATTENDANCE_CONDITIONS = ("below", "at_or_above", "no_figure", "no_average", "unknown")
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
    # A senior leader of the school attends every TSM (both seeds; DfE's expectation): a booking with none is refused
    # unless an officer waives it with a reason they record. booking.senior_leader_required.
    senior_leader_required: bool = (
        True  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    # Schools one officer can hold TSMs with in a term (Kent: an officer covers 20-30 schools): above it the link
    # officers import, "my schools" and the coverage report warn. booking.officer_capacity.
    officer_capacity: int = (
        30  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    # A contact may book one TSM for several schools of their trust (Kent's FAQ: a trust may hold one TSM for several
    # of its schools with one officer); off by default: the officer arranges a joint TSM.
    # booking.trust_contacts_book_joint.
    trust_contacts_book_joint: bool = (
        False  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    # People invited to one TSM (booked attendees and colleagues added): a meeting of a few school leaders and an
    # officer, so a cap keeps a runaway card or script from inviting a mailing list. booking.max_invitees.
    max_invitees: int = (
        12  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    # An evaluation's school is shown to officers only when the school gave at least this many answers in what is
    # shown (else the answer is "a school": with two people attending, the school names its author).
    # evaluation.min_answers_to_name_school.
    min_answers_to_name_school: int = (
        3  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    # GIAS establishment types imported as schools (schools.establishment_types), compared lower-case.
    establishment_types: tuple[str, ...] = DEFAULT_ESTABLISHMENT_TYPES
    # A school that may book one TSM a year and has had none this academic year is chased from this term on
    # (entitlement.yearly_chase_term).
    yearly_chase_term: str = TermName.SUMMER.value
    # Years the audit log (who changed what, when) is kept, after which the daily retention sweep deletes its rows;
    # [retention] audit_years. With several LAs on one database, the longest of their profiles' periods applies.
    audit_retention_years: int = (
        7  # equivalent-mutant[constant]: parse_policy, the only maker of a Policy, always sets it
    )
    la_code: str = ""  # [la] code: the LA's GIAS code
    made_up_la: bool = False  # [la] made_up = true: a made-up LA (the demo) whose code is not an English LA's  # equivalent-mutant[constant]: ditto

    def covers_type(self, type_name: str) -> bool:
        return (type_name or "").strip().lower() in {t.lower() for t in self.establishment_types}

    def meeting_type(self, key: str | None = None) -> MeetingType:
        if key is None:
            return self.meeting_types[0]
        for mt in self.meeting_types:
            if mt.key == key:
                return mt
        raise PolicyError(
            f"unknown meeting type '{key}' (known: {', '.join(m.key for m in self.meeting_types)})"
        )

    def buffer_for(self, mode: Mode) -> timedelta:
        return self.travel_buffer if mode is Mode.ON_SITE else timedelta(0)


def _minutes(
    raw: dict[str, Any], key: str, *, where: str, default: int | None = None, lo: int = 0, hi: int = 10_000
) -> timedelta:  # equivalent-mutant[constant=-1,constant=10001,constant=9999]: every caller passes hi; -1 admits no multiple of 5 that 0 refuses
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
        types.append(
            MeetingType(
                mt["key"],
                mt.get("label", mt["key"]),
                _minutes(mt, "duration_minutes", where=where, lo=60, hi=90),
            )
        )
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
        rules.append(
            EntitlementRule(
                r.get("name", f"rule{i}"), r["expectation"], r.get("message", ""), dict(r.get("when", {}))
            )
        )
    if not rules or rules[-1].when:
        raise PolicyError(f"policy '{key}': the last entitlement rule must have no conditions (the default)")

    national_averages = _national_averages(nat)
    for i, r in enumerate(rules):
        want = r.when.get("attendance")
        if want is not None and want not in ATTENDANCE_CONDITIONS:
            raise PolicyError(
                f"entitlement.rules[{i}].when.attendance must be one of {ATTENDANCE_CONDITIONS}"
            )
    establishment_types = _establishment_types(raw.get("schools", {}))
    chase_term = ent.get("yearly_chase_term", TermName.SUMMER.value)
    if chase_term not in {t.value for t in TermName}:
        raise PolicyError("entitlement.yearly_chase_term must be autumn, spring or summer")

    max_per_day = booking.get("max_meetings_per_officer_per_day", 3)
    if not isinstance(max_per_day, int) or max_per_day < 1:
        raise PolicyError("booking.max_meetings_per_officer_per_day must be a positive whole number")
    per_term = ent.get("max_tsms_per_school_per_term", 1)
    if per_term != 1:
        # The database enforces one active TSM per school per term (both seed LAs); more needs a schema change.
        raise PolicyError("entitlement.max_tsms_per_school_per_term: only 1 is supported")
    granularity = _minutes(
        booking, "slot_granularity_minutes", where="booking", default=30, lo=5, hi=120
    )  # equivalent-mutant[constant=4,constant=121]: 4 and 121 are not multiples of 5
    max_invitees = booking.get("max_invitees", 12)
    if not isinstance(max_invitees, int) or isinstance(max_invitees, bool) or not 2 <= max_invitees <= 100:
        raise PolicyError("booking.max_invitees must be a whole number from 2 to 100")
    min_named = raw.get("evaluation", {}).get("min_answers_to_name_school", 3)
    if not isinstance(min_named, int) or isinstance(min_named, bool) or not 1 <= min_named <= 50:
        raise PolicyError("evaluation.min_answers_to_name_school must be a whole number from 1 to 50")
    audit_years = raw.get("retention", {}).get("audit_years", 7)
    if not isinstance(audit_years, int) or isinstance(audit_years, bool) or not 1 <= audit_years <= 100:
        raise PolicyError("retention.audit_years must be a whole number of years from 1 to 100")
    if granularity <= timedelta(
        0
    ):  # equivalent-mutant[delete,compare,constant=-1]: _minutes already refused < 5
        raise PolicyError(
            "booking.slot_granularity_minutes must be positive"
        )  # equivalent-mutant[delete]: ditto

    return Policy(
        key=key,
        la_name=la.get("name", key),
        timezone=la.get("timezone", "Europe/London"),
        meeting_types=tuple(types),
        modes_allowed=modes,
        default_mode=default_mode,
        slot_granularity=granularity,
        minimum_notice=timedelta(hours=int(booking.get("minimum_notice_hours", 48))),
        travel_buffer=_minutes(
            booking, "travel_buffer_minutes", where="booking", default=30, hi=180
        ),  # equivalent-mutant[constant=181]: not a multiple of 5
        max_meetings_per_officer_per_day=max_per_day,
        working_hours=WorkingHours.parse(
            booking.get("officer_working_hours"), where="booking.officer_working_hours"
        ),
        max_tsms_per_school_per_term=per_term,
        schools_book_themselves=bool(booking.get("schools_book_themselves", True)),
        senior_leader_required=_flag(booking, "senior_leader_required", True),
        officer_capacity=_whole(booking, "officer_capacity", 30, lo=1, hi=1000),
        trust_contacts_book_joint=_flag(booking, "trust_contacts_book_joint", False),
        next_tsm_at_meeting_end=booking.get("next_tsm_at_meeting_end", "offer_both"),
        national_averages=national_averages,
        entitlement_rules=tuple(rules),
        notes=str(la.get("notes", "")),
        max_invitees=max_invitees,
        min_answers_to_name_school=min_named,
        establishment_types=establishment_types,
        yearly_chase_term=chase_term,
        la_code=str(la.get("code", "")).strip(),
        made_up_la=bool(la.get("made_up", False)),
        audit_retention_years=audit_years,
    )


def _phase_averages(raw: dict[str, Any], where: str) -> dict[Phase, float]:
    out = {}
    for phase_name, value in raw.items():
        try:
            phase = Phase(phase_name)
        except ValueError as exc:
            raise PolicyError(f"{where}: unknown phase '{phase_name}'") from exc
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            raise PolicyError(f"{where}.{phase_name} must be a percentage above 0 and at most 100")
        out[phase] = float(value)
    return out


def _national_averages(nat: dict[str, Any]) -> NationalAverages:
    """``[[national_averages.figures]]`` (year, measure, source, attendance by phase), one per year and measure;
    an older profile's single ``year`` + ``attendance`` is read as that year's full-year figures."""
    source = str(nat.get("source", ""))
    items = list(nat.get("figures", []))
    if "attendance" in nat:
        items.append(
            {
                "year": nat.get("year", ""),
                "measure": nat.get("measure", "full_year"),
                "source": source,
                "attendance": nat["attendance"],
            }
        )
    figures = []
    seen = set()
    for i, f in enumerate(items):
        where = f"national_averages.figures[{i}]"
        year = academic_year(str(f.get("year", "")))
        if year is None:
            raise PolicyError(
                f"{where}.year must be an academic year like 2024/25 (got '{f.get('year', '')}')"
            )
        measure = f.get("measure", "full_year")
        if measure not in MEASURES:
            raise PolicyError(f"{where}.measure must be one of {MEASURES}")
        if (year, measure) in seen:
            raise PolicyError(f"{where}: {year} {measure} is given twice")
        seen.add((year, measure))
        figures.append(
            NationalAverage(
                year,
                measure,
                _phase_averages(f.get("attendance", {}), f"{where}.attendance"),
                str(f.get("source", source)),
            )
        )
    return NationalAverages(tuple(figures), source)


def _establishment_types(schools: dict[str, Any]) -> tuple[str, ...]:
    types = schools.get("establishment_types", DEFAULT_ESTABLISHMENT_TYPES)
    if isinstance(types, str) or not all(isinstance(t, str) and t.strip() for t in types) or not types:
        raise PolicyError("schools.establishment_types must be a list of GIAS establishment type names")
    return tuple(t.strip() for t in types)


def load_policy(name_or_path: str) -> Policy:
    """A bundled profile by name (``norfolk``, ``kent``, ``demo``) or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, key = path.read_text(encoding="utf-8"), path.stem
    else:
        res = resources.files("tsm.policies").joinpath(f"{name_or_path}.toml")
        if not res.is_file():
            raise PolicyError(
                f"no policy profile '{name_or_path}' (bundled: {', '.join(bundled_policies())})"
            )
        text, key = res.read_text(encoding="utf-8"), name_or_path
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy '{key}' is not valid TOML: {exc}") from exc
    return parse_policy(key, raw)


def bundled_policies() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("tsm.policies").iterdir() if p.name.endswith(".toml"))


def _flag(section: dict[str, Any], key: str, default: bool) -> bool:
    """A true/false key of the profile; anything else is refused (a typo must not turn a rule off)."""
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise PolicyError(f"booking.{key} must be true or false")
    return value


def _whole(section: dict[str, Any], key: str, default: int, *, lo: int, hi: int) -> int:
    """A whole number of the profile within [lo, hi]; anything else is refused with the key's name."""
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise PolicyError(f"booking.{key} must be a whole number from {lo} to {hi}")
    return value
