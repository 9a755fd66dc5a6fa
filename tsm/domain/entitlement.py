"""Which schools must, should or may book a TSM, and who books for them: the LA's rules applied to a school."""

from __future__ import annotations

from dataclasses import dataclass

from .model import BookingRoute, Phase
from .policy import EntitlementRule, Policy

# GIAS "TypeOfEstablishment (name)" values, grouped as domain.md describes: the type decides, not the group.
SPECIAL_TYPES = {
    "community special school",
    "foundation special school",
    "academy special converter",
    "academy special sponsor led",
    "free schools special",
    "non-maintained special school",
    "other independent special school",
}
INDEPENDENT_TYPES = {"other independent school", "other independent special school", "independent school"}
LA_MAINTAINED_GROUP = "local authority maintained schools"
PRIMARY_PHASES = {"primary", "middle deemed primary", "nursery"}
SECONDARY_PHASES = {"secondary", "middle deemed secondary", "16 plus", "all-through"}


def classify_phase(type_name: str, phase_name: str) -> Phase:
    """Phase for the national comparison: special types first, then the GIAS phase of education."""
    t = (type_name or "").strip().lower()
    if t in SPECIAL_TYPES or "special" in t:
        return Phase.SPECIAL
    p = (phase_name or "").strip().lower()
    if p in PRIMARY_PHASES:
        return Phase.PRIMARY
    if p in SECONDARY_PHASES:
        return Phase.SECONDARY
    return Phase.OTHER


def is_independent(type_name: str, type_group: str = "") -> bool:
    return (type_name or "").strip().lower() in INDEPENDENT_TYPES or (type_group or "").strip().lower() == "independent schools"


LA_MAINTAINED_SPECIAL_TYPES = {"community special school", "foundation special school"}


def is_la_maintained(type_group: str, type_name: str = "") -> bool:
    """GIAS puts community and foundation special schools in the group "Special schools", so the type counts too."""
    return ((type_group or "").strip().lower() == LA_MAINTAINED_GROUP
            or (type_name or "").strip().lower() in LA_MAINTAINED_SPECIAL_TYPES)


@dataclass(frozen=True)
class SchoolFacts:
    """What the rules look at. Built from the School row; no database needed to evaluate."""

    phase: Phase
    independent: bool = False
    la_maintained: bool = False
    trust_has_allocated_officer: bool = False
    attendance_pct: float | None = None


@dataclass(frozen=True)
class Entitlement:
    rule: str
    expectation: str  # termly | termly_encouraged | yearly | contacted_directly
    message: str
    attendance_vs_average: str  # below | at_or_above | unknown
    national_average: float | None

    @property
    def route(self) -> BookingRoute:
        return BookingRoute.CONTACTED_DIRECTLY if self.expectation == "contacted_directly" else BookingRoute.SELF

    @property
    def may_book(self) -> bool:
        """May the school book through the bot itself? (Contacted-directly schools are booked by their officer.)"""
        return self.route is BookingRoute.SELF

    @property
    def should_book_each_term(self) -> bool:
        """Does the LA want a TSM this term (used by nudges and chasers)? Yearly schools only need one a year."""
        return self.expectation in ("termly", "termly_encouraged", "contacted_directly")


def attendance_vs_average(facts: SchoolFacts, policy: Policy) -> tuple[str, float | None]:
    avg = policy.national_averages.for_phase(facts.phase)
    if facts.attendance_pct is None or avg is None:
        return "unknown", avg
    return ("below" if facts.attendance_pct < avg else "at_or_above"), avg


def _matches(rule: EntitlementRule, facts: SchoolFacts, vs_avg: str) -> bool:
    for key, want in rule.when.items():
        if key == "phase":
            if facts.phase.value not in [str(w).lower() for w in want]:
                return False
        elif key == "attendance":
            if vs_avg != want:
                return False
        elif bool(getattr(facts, key)) != bool(want):
            return False
    return True


def entitlement_for(facts: SchoolFacts, policy: Policy) -> Entitlement:
    vs_avg, avg = attendance_vs_average(facts, policy)
    for rule in policy.entitlement_rules:
        if _matches(rule, facts, vs_avg):
            return Entitlement(rule.name, rule.expectation, rule.message, vs_avg, avg)
    raise AssertionError("policy has no default rule")  # parse_policy guarantees a default
