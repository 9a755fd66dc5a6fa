"""Which schools must, should or may book a TSM, and who books for them: the LA's rules applied to a school."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .averages import NationalAverage, parse_period
from .model import BookingRoute, Phase, TermName
from .policy import EntitlementRule, Policy
from .terms import TERM_ORDER

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
# Pupil referral units and alternative provision: their own phase (no national average in the figures we hold).
ALTERNATIVE_PROVISION_TYPES = {
    "pupil referral unit",
    "academy alternative provision converter",
    "academy alternative provision sponsor led",
    "free schools alternative provision",
}
NURSERY_TYPES = {"la nursery school"}
INDEPENDENT_TYPES = {"other independent school", "other independent special school", "independent school"}
LA_MAINTAINED_GROUP = "local authority maintained schools"
PRIMARY_PHASES = {"primary", "middle deemed primary"}
SECONDARY_PHASES = {"secondary", "middle deemed secondary", "16 plus", "all-through"}


def classify_phase(type_name: str, phase_name: str) -> Phase:
    """Phase for the national comparison: PRU/AP and special types first, nursery schools, then the GIAS phase of
    education (a nursery school is not compared with primary schools)."""
    t = (type_name or "").strip().lower()
    if t in ALTERNATIVE_PROVISION_TYPES or "alternative provision" in t:
        return Phase.ALTERNATIVE_PROVISION
    if t in SPECIAL_TYPES or "special" in t:
        return Phase.SPECIAL
    p = (phase_name or "").strip().lower()
    if t in NURSERY_TYPES or p == "nursery":
        return Phase.NURSERY
    if p in PRIMARY_PHASES:
        return Phase.PRIMARY
    if p in SECONDARY_PHASES:
        return Phase.SECONDARY
    return Phase.OTHER


def is_independent(type_name: str, type_group: str = "") -> bool:
    return (type_name or "").strip().lower() in INDEPENDENT_TYPES or (
        type_group or ""
    ).strip().lower() == "independent schools"


LA_MAINTAINED_SPECIAL_TYPES = {"community special school", "foundation special school"}


def is_la_maintained(type_group: str, type_name: str = "") -> bool:
    """GIAS puts community and foundation special schools in the group "Special schools", so the type counts too."""
    return (type_group or "").strip().lower() == LA_MAINTAINED_GROUP or (
        type_name or ""
    ).strip().lower() in LA_MAINTAINED_SPECIAL_TYPES


@dataclass(frozen=True)
class SchoolFacts:
    """What the rules look at. Built from the School row; no database needed to evaluate."""

    phase: Phase
    independent: bool = False
    la_maintained: bool = False
    trust_has_allocated_officer: bool = False
    attendance_pct: float | None = None
    attendance_period: str | None = None  # free text naming the academic year and terms the figure is from


ARRANGED_BY_OFFICER = "Your link officer arranges your TSMs."


@dataclass(frozen=True)
class Entitlement:
    rule: str
    expectation: str  # termly | termly_encouraged | yearly | contacted_directly
    message: str
    attendance_vs_average: str  # below | at_or_above | no_figure | no_average
    national_average: float | None
    average: NationalAverage | None = None  # the year and measure compared with (None: no comparison)
    none_this_year_yet: bool = (
        False  # a one-a-year school listed because it has had no TSM this academic year
    )
    schools_book: bool = (
        True  # the LA's profile lets schools book themselves (booking.schools_book_themselves)
    )

    @property
    def route(self) -> BookingRoute:
        return (
            BookingRoute.CONTACTED_DIRECTLY if self.expectation == "contacted_directly" else BookingRoute.SELF
        )

    @property
    def may_book(self) -> bool:
        """May the school book through the bot itself? Not when the LA contacts it directly, nor when the LA's
        profile says its officers arrange every school's TSMs (``schools_book_themselves = false``)."""
        return self.route is BookingRoute.SELF and self.schools_book

    @property
    def refusal(self) -> str:
        """Why the school may not book itself, in the words it is told (only meaningful when not ``may_book``)."""
        return self.message if self.route is BookingRoute.CONTACTED_DIRECTLY else ARRANGED_BY_OFFICER

    @property
    def should_book_each_term(self) -> bool:
        """Does the LA want a TSM this term (used by nudges and chasers)? Yearly schools only need one a year."""
        return self.expectation in ("termly", "termly_encouraged", "contacted_directly")

    @property
    def yearly(self) -> bool:
        return self.expectation == "yearly"

    def wanted_this_term(
        self, term: TermName | str, *, had_tsm_this_year: bool, chase_from: TermName | str
    ) -> bool:
        """Does the LA want this school to have a TSM in ``term``? Every term for termly schools; a school that may
        book one a year only when it has had (or booked) none this academic year, from ``chase_from`` (the
        profile's ``entitlement.yearly_chase_term``, default summer: the last chance in the year)."""
        if self.should_book_each_term:
            return True
        if not self.yearly or had_tsm_this_year:
            return False
        return TERM_ORDER[TermName(term)] >= TERM_ORDER[TermName(chase_from)]

    def none_this_year(self) -> Entitlement:
        """This entitlement as listed for an officer when the school, asked for one TSM a year, has had none ("one a
        year is enough" would not say why it is listed)."""
        return replace(self, none_this_year_yet=True)


def compare(pct: float, average: float) -> str:
    """ "below", "equal" or "above", to the hundredth of a percent the DfE publishes (no float noise)."""
    diff = round(pct - average, 6)  # equivalent-mutant[constant]: 5 or 7 places, the same at the hundredth
    return "below" if diff < 0 else "equal" if diff == 0 else "above"


def matching_average(facts: SchoolFacts, policy: Policy) -> NationalAverage | None:
    """The national averages of the school's figure's own year and measure, if they have the school's phase."""
    found = policy.national_averages.matching(parse_period(facts.attendance_period))
    return found if found is not None and facts.phase in found.attendance_by_phase else None


def attendance_vs_average(facts: SchoolFacts, policy: Policy) -> tuple[str, float | None]:
    """("below" | "at_or_above" | "no_figure" | "no_average", the average compared with). Exactly equal is
    "at_or_above" (not below)."""
    if facts.attendance_pct is None:
        return "no_figure", None
    found = matching_average(facts, policy)
    if found is None:
        return "no_average", None
    avg = found.attendance_by_phase[facts.phase]
    return ("below" if compare(facts.attendance_pct, avg) == "below" else "at_or_above"), avg


def _matches(rule: EntitlementRule, facts: SchoolFacts, vs_avg: str) -> bool:
    for key, want in rule.when.items():
        if key == "phase":
            if facts.phase.value not in [str(w).lower() for w in want]:
                return False  # equivalent-mutant[return]: None is as false as False to the if that calls this
        elif key == "attendance":
            if vs_avg != want and not (want == "unknown" and vs_avg in ("no_figure", "no_average")):
                return False  # equivalent-mutant[return]: None is as false as False to the if that calls this
        elif bool(getattr(facts, key)) != bool(want):
            return False  # equivalent-mutant[return]: None is as false as False to the if that calls this
    return True


def entitlement_for(facts: SchoolFacts, policy: Policy) -> Entitlement:
    vs_avg, avg = attendance_vs_average(facts, policy)
    found = matching_average(facts, policy) if avg is not None else None
    for rule in policy.entitlement_rules:
        if _matches(rule, facts, vs_avg):
            return Entitlement(
                rule.name,
                rule.expectation,
                rule.message,
                vs_avg,
                avg,
                found,
                schools_book=policy.schools_book_themselves,
            )
    raise AssertionError("policy has no default rule")  # parse_policy guarantees a default


def _pct(value: float) -> str:
    """A percentage as published: one decimal at least, two when the figure has them (94.84, 94.5)."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def figures_words(facts: SchoolFacts, policy: Policy, *, officer_view: bool = False) -> str:
    """The figures behind the entitlement, truthfully: the school's figure and its period, and the national
    average of the same year and measure (saying which), or why there is none to compare with."""
    if facts.attendance_pct is None:
        return ""
    whose = "The school's attendance" if officer_view else "Your attendance"
    period = parse_period(facts.attendance_period)
    shown = f" ({facts.attendance_period})" if facts.attendance_period else ""
    head = f"{whose}: {_pct(facts.attendance_pct)}%{shown}."
    nat = policy.national_averages
    if not nat.has_phase(facts.phase):
        return (
            f"{head} The DfE publishes no national attendance average for {facts.phase.label} in the figures we "
            "hold, so it is not compared with one."
        )
    if period is None:
        return (
            f"{head} No academic year is recorded for this figure, so it cannot be compared with the national "
            f"average of its year (we hold {nat.labels})."
        )
    found = matching_average(facts, policy)
    if found is None:
        return (
            f"{head} We hold no national average for {facts.phase.label} for {period.label} (we hold "
            f"{nat.labels}), so it is not compared with one."
        )
    avg = found.attendance_by_phase[facts.phase]
    word = {"below": "below", "equal": "equal to", "above": "above"}[compare(facts.attendance_pct, avg)]
    source = f", {found.source}" if found.source else ", DfE"
    return (
        f"{head} That is {word} the national average for {facts.phase.label} for the same period, "
        f"{found.label}: {_pct(avg)}%{source}."
    )


_OFFICER_EXPECTATION = {
    "termly": "is expected to have a TSM each term",
    "termly_encouraged": "is encouraged to have a TSM each term",
    "yearly": "needs one TSM this academic year (termly is welcome)",
    "contacted_directly": "does not book itself: you arrange its TSMs",
}
_OFFICER_REASON = {
    "below": "its attendance is below the national average",
    "at_or_above": "its attendance is not below the national average",
    "no_figure": "no attendance figure is on record",
    "no_average": "no national average matches its figure (none for its phase, or none for the figure's period)",
}


def officer_words(ent: Entitlement, school: str) -> str:
    """What the LA expects of a school, in words for its officer (the entitlement's ``message`` speaks to the
    school itself: "Your attendance ..."). Every text has one audience (issue 13, item 13)."""
    what = _OFFICER_EXPECTATION.get(ent.expectation, f"is on the rule '{ent.rule}'")
    why = _OFFICER_REASON.get(ent.attendance_vs_average)
    return f"{school} {what}" + (f": {why}." if why and ent.expectation != "contacted_directly" else ".")


def officer_short_words(ent: Entitlement) -> str:
    """The expectation in a few words for an officer's list ("Expected each term")."""
    if ent.none_this_year_yet:
        return "One a year, and none held yet this academic year"
    return {
        "termly": "Expected each term",
        "termly_encouraged": "Encouraged each term",
        "yearly": "One a year is enough",
        "contacted_directly": "You arrange it",
    }.get(ent.expectation, ent.rule)
