"""Who and what an LA's data describes: the LA, its officers, schools, their contacts, trusts, and term dates.

Loaded by the importers (GIAS, officers, contacts, link officers, trusts, terms) and the demo; read by every
service. Head teachers' names are never stored; no pupil-level field exists.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


class LA(SQLModel, table=True):
    __tablename__ = "la"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=8)
    name: str = Field(max_length=120)
    timezone: str = Field(default="Europe/London", max_length=64)
    policy: str = Field(max_length=64, description="policy profile name or path")


class Officer(SQLModel, table=True):
    __tablename__ = "officer"
    id: int | None = Field(default=None, primary_key=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    name: str = Field(max_length=120)
    email: str = Field(unique=True, max_length=254)
    mailbox: str = Field(max_length=254, description="calendar mailbox (UPN) used with Graph")
    area: str = Field(default="", max_length=120)
    working_hours: dict | None = Field(
        default=None, sa_column=Column(JSON), description="overrides the policy's"
    )
    max_meetings_per_day: int | None = None
    is_admin: bool = False
    # may see every LA's reports (granted by an operator: tsm admins national); acts only in their own LA
    national_admin: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    teams_aad_id: str | None = Field(default=None, unique=True, max_length=64)
    teams_tenant_id: str | None = Field(default=None, max_length=36)  # the tenant the AAD id was seen in
    active: bool = True


class Trust(SQLModel, table=True):
    __tablename__ = "trust"
    code: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=200)
    # Its allocated officer is per LA: TrustOfficer (a GIAS trust's schools may sit in several LAs).


class TrustOfficer(SQLModel, table=True):
    """A trust's allocated officer in one LA (issue 15): the trust's schools in that LA are that officer's, and are
    contacted directly where the LA's rules say so. A trust's schools in another LA are that LA's business."""

    __tablename__ = "trust_officer"
    trust_code: str = Field(foreign_key="trust.code", primary_key=True, max_length=16)
    la_id: int = Field(foreign_key="la.id", primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)


class School(SQLModel, table=True):
    __tablename__ = "school"
    id: int | None = Field(default=None, primary_key=True)
    urn: int = Field(unique=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    name: str = Field(max_length=200)
    type_name: str = Field(default="", max_length=100)
    type_group: str = Field(default="", max_length=100)
    phase_of_education: str = Field(default="", max_length=60)
    phase: str = Field(
        default="other",
        max_length=16,
        description="primary/secondary/special/other for the national comparison",
    )
    trust_code: str | None = Field(default=None, max_length=16, index=True)
    trust_name: str | None = Field(default=None, max_length=200)
    street: str = Field(default="", max_length=200)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=16)
    pupils: int | None = None
    attendance_pct: float | None = None
    attendance_period: str | None = Field(default=None, max_length=60)
    booking_route: str = Field(default="self", max_length=24)
    booking_route_reason: str = Field(default="", max_length=300)
    link_officer_id: int | None = Field(default=None, foreign_key="officer.id", index=True)
    open: bool = True

    @property
    def address(self) -> str:
        return ", ".join(p for p in (self.street, self.town, self.postcode) if p)


class SchoolContact(SQLModel, table=True):
    __tablename__ = "school_contact"
    __table_args__ = (sa.UniqueConstraint("school_id", "email", name="uq_contact_school_email"),)
    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    name: str = Field(max_length=120)
    email: str = Field(max_length=254, index=True)
    role: str = Field(default="other", max_length=24)
    teams_aad_id: str | None = Field(default=None, unique=True, max_length=64)
    teams_tenant_id: str | None = Field(default=None, max_length=36)  # the tenant the AAD id was seen in
    active: bool = True


class Term(SQLModel, table=True):
    __tablename__ = "term"
    __table_args__ = (sa.UniqueConstraint("la_id", "academic_year", "name", name="uq_term_la_year_name"),)
    id: int | None = Field(default=None, primary_key=True)
    la_id: int = Field(foreign_key="la.id", index=True)
    academic_year: str = Field(max_length=7)
    name: str = Field(max_length=8)
    start_date: date
    end_date: date
    source: str = Field(
        default="", max_length=200, description="where the dates came from; 'example' if made up"
    )


class TermBreak(SQLModel, table=True):
    __tablename__ = "term_break"
    id: int | None = Field(default=None, primary_key=True)
    term_id: int = Field(foreign_key="term.id", index=True)
    kind: str = Field(max_length=16)  # half_term | closure
    start_date: date
    end_date: date
    label: str = Field(default="", max_length=120)
