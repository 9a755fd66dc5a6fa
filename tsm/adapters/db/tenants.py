"""The Microsoft 365 tenants allowed to talk to the bot, each tied to the LA, a trust or a school.

A tenant id may appear more than once: a trust's tenant for the trust, the LA's tenant for the LA and for the
maintained schools whose staff have accounts in it. ``scope`` names what a row ties the tenant to (``la:926``,
``trust:TR01234``, ``school:990001``) and is unique with the tenant id.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .columns import utc_ts


class MsTenant(SQLModel, table=True):
    __tablename__ = "ms_tenant"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "scope", name="uq_ms_tenant_scope"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=36, index=True)  # the Entra tenant id, a GUID in lower case
    kind: str = Field(max_length=8)  # la | trust | school
    scope: str = Field(max_length=40)
    la_id: int | None = Field(default=None, foreign_key="la.id", index=True)
    trust_code: str | None = Field(default=None, max_length=16, index=True)
    school_id: int | None = Field(default=None, foreign_key="school.id", index=True)
    name: str = Field(default="", max_length=200)
    added_at: datetime = utc_ts(nullable=False)
    added_by: str = Field(default="", max_length=80)
