"""A school as the LA's rules see it: its phase for the national comparison, independent or LA-maintained, its
attendance, and whether its trust has an allocated officer. Those facts decide, through the policy's
entitlement rules (``entitlement.py``), whether the school must, should or may book and who books for it.

Works on any record with the school's GIAS columns (the ``School`` table row, a turn's narrow school row):
no database is read here.
"""

from __future__ import annotations

from typing import Protocol

from .entitlement import SchoolFacts, classify_phase, is_independent, is_la_maintained
from .model import Phase


class SchoolRecord(Protocol):
    """The columns of a stored school the rules read."""

    @property
    def phase(self) -> str: ...
    @property
    def type_name(self) -> str: ...
    @property
    def type_group(self) -> str: ...
    @property
    def phase_of_education(self) -> str: ...
    @property
    def attendance_pct(self) -> float | None: ...
    @property
    def attendance_period(self) -> str | None: ...


def school_facts(school: SchoolRecord, *, trust_has_allocated_officer: bool) -> SchoolFacts:
    """What the LA's entitlement rules look at, from a stored school: its stored phase, else the phase the GIAS
    type and phase of education give (always for nursery schools, PRUs and AP, whatever was stored before)."""
    derived = classify_phase(school.type_name, school.phase_of_education)
    try:
        phase = Phase(school.phase)
    except ValueError:
        phase = derived
    if derived in (Phase.NURSERY, Phase.ALTERNATIVE_PROVISION):
        phase = derived  # their own phases (issue 13): a school stored before them is not compared as primary/other
    return SchoolFacts(
        phase=phase,
        independent=is_independent(school.type_name, school.type_group),
        la_maintained=is_la_maintained(school.type_group, school.type_name),
        trust_has_allocated_officer=trust_has_allocated_officer,
        attendance_pct=school.attendance_pct,
        attendance_period=school.attendance_period,
    )
