"""The Microsoft 365 tenants allowed to talk to the bot, each tied to the LA, a trust or a school (table ``ms_tenant``).

Two things read them:

- the Teams transport's gate: an activity from a tenant that is not registered is refused (403), and a bot with an
  app id does not start while none is registered;
- :meth:`tsm.services.directory.Directory.identify`: a Teams user's roster email makes the first match with an
  officer only when the user's tenant is registered for the officer's LA, and with a school contact only when it is
  registered for the contact's school or the school's trust (:meth:`Tenants.covers`).

An LA whose maintained schools use the LA's own tenant registers that tenant for each of those schools too
(``tsm tenants add <LA tenant> school <URN>``): the LA's tenant alone vouches for officers, not for school staff.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.directory import LA, Officer, School, SchoolContact, Trust
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog
from ..adapters.db.tenants import MsTenant
from ..domain.errors import InvalidInput, NotFound
from .booking import now_utc

KINDS = ("la", "trust", "school")
CSV_COLUMNS = ("tenant_id", "kind", "ref")  # and an optional "name"


def normalise_tenant_id(text: str) -> str:
    """A Microsoft Entra tenant id (a GUID), in lower case; InvalidInput otherwise."""
    raw = (text or "").strip()
    try:
        if len(raw) != 36:
            raise ValueError
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidInput(
            f"'{text}' is not a Microsoft 365 tenant id (a GUID like "
            "72f988bf-86f1-41af-91ab-2d7cd011db47: Entra admin centre, Overview, Tenant ID)."
        ) from None


@dataclass(frozen=True)
class TenantRow:
    tenant_id: str
    kind: str
    ref: str  # the LA code, the trust code or the school's URN
    name: str
    added_at: datetime
    added_by: str


@dataclass
class ImportSummary:
    added: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] | None = None

    def summary(self) -> str:
        errors = self.errors or []
        head = f"{self.added} tenant registrations added, {self.unchanged} already there"
        if not errors:
            return f"{head}; no errors"
        return "\n".join(
            [
                f"{head}; {len(errors)} error{'' if len(errors) == 1 else 's'}:",
                *(f"  line {line}: {msg}" for line, msg in errors),
            ]
        )


def _row(t: MsTenant) -> TenantRow:
    return TenantRow(t.tenant_id, t.kind, t.scope.split(":", 1)[1], t.name, t.added_at, t.added_by)


class Tenants:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.db = db
        self.clock = clock

    async def add(
        self, tenant_id: str, kind: str, ref: str, *, name: str = "", actor: str = "cli"
    ) -> TenantRow:
        """Register ``tenant_id`` for the LA (``ref`` = its code), a trust (its GIAS group code) or a school (URN)."""
        async with self.db.transaction() as s:
            row, _created = await self._add_in(s, tenant_id, kind, ref, name=name, actor=actor)
            return row

    async def _add_in(
        self, s: AsyncSession, tenant_id: str, kind: str, ref: str, *, name: str, actor: str
    ) -> tuple[TenantRow, bool]:
        tid = normalise_tenant_id(tenant_id)
        kind = (kind or "").strip().lower()
        ref = (ref or "").strip()
        values: dict = {}
        if kind == "la":
            la = (await s.exec(select(LA).where(LA.code == ref))).first()
            if la is None:
                raise NotFound(
                    f"No LA with code '{ref}' (import its schools first: tsm import gias --la-code ...)."
                )
            values, label = {"la_id": la.id}, la.name
        elif kind == "trust":
            trust = await s.get(Trust, ref) if ref else None
            school = (await s.exec(select(School).where(School.trust_code == ref))).first() if ref else None
            if trust is None and school is None:
                raise NotFound(
                    f"No trust with code '{ref}': give the trust's GIAS group code, as in the schools' "
                    "Trusts (code) column."
                )
            values, label = {"trust_code": ref}, (trust.name if trust else school.trust_name) or ref
        elif kind == "school":
            if not ref.isdigit():
                raise InvalidInput(f"'{ref}' is not a URN: a school is named by its URN (6 digits).")
            school = (await s.exec(select(School).where(School.urn == int(ref)))).first()
            if school is None:
                raise NotFound(f"No school with URN {ref}.")
            values, label = {"school_id": school.id}, school.name
        else:
            raise InvalidInput(f"'{kind}' is not a kind of tenant: use la, trust or school.")
        scope = f"{kind}:{ref}"
        existing = (
            await s.exec(select(MsTenant).where(MsTenant.tenant_id == tid, MsTenant.scope == scope))
        ).first()
        if existing is not None:
            return _row(existing), False
        t = MsTenant(
            tenant_id=tid,
            kind=kind,
            scope=scope,
            name=(" ".join((name or label or "").split()))[:200],
            added_at=self.clock(),
            added_by=actor[:80],
            **values,
        )
        s.add(t)
        s.add(
            AuditLog(
                at=self.clock(),
                actor=actor[:80],
                action="tenant.add",
                entity="ms_tenant",
                entity_id=tid,
                detail={"scope": scope},
            )
        )
        await s.flush()
        return _row(t), True

    async def remove(
        self, tenant_id: str, kind: str | None = None, ref: str | None = None, *, actor: str = "cli"
    ) -> int:
        """Unregister a tenant (every registration of it, or only the one for ``kind``/``ref``). The Teams users
        remembered in it for what it no longer covers are forgotten (matched again, under the rules, next time)."""
        tid = normalise_tenant_id(tenant_id)
        async with self.db.transaction() as s:
            q = select(MsTenant).where(MsTenant.tenant_id == tid)
            if kind:
                q = q.where(MsTenant.scope == f"{kind.strip().lower()}:{(ref or '').strip()}")
            rows = list(await s.exec(q))
            if not rows:
                raise NotFound(
                    f"Tenant {tid} is not registered{' for ' + kind + ' ' + (ref or '') if kind else ''}."
                )
            for t in rows:
                await s.delete(t)
                s.add(
                    AuditLog(
                        at=self.clock(),
                        actor=actor[:80],
                        action="tenant.remove",
                        entity="ms_tenant",
                        entity_id=tid,
                        detail={"scope": t.scope},
                    )
                )
            await s.flush()
            await self._forget_uncovered(s, tid)
            return len(rows)

    async def _forget_uncovered(self, s: AsyncSession, tid: str) -> None:
        """Forget the AAD ids remembered in tenant ``tid`` of people the tenant no longer covers."""
        for table in (Officer, SchoolContact):
            people = list(await s.exec(select(table).where(table.teams_tenant_id == tid)))
            for p in people:
                covered = await (
                    self._covers_officer(s, tid, p) if table is Officer else self._covers_contact(s, tid, p)
                )
                if not covered:
                    await s.exec(
                        update(table).where(table.id == p.id).values(teams_aad_id=None, teams_tenant_id=None)
                    )

    async def list(self) -> list[TenantRow]:
        async with self.db.reader() as s:
            rows = await s.exec(select(MsTenant).order_by(MsTenant.kind, MsTenant.scope, MsTenant.tenant_id))
            return [_row(t) for t in rows]

    async def allowed_ids(self) -> frozenset[str]:
        async with self.db.reader() as s:
            return frozenset((await s.exec(select(MsTenant.tenant_id).distinct())).all())

    async def import_csv(self, text: str, *, actor: str = "cli") -> ImportSummary:
        """CSV text with rows ``tenant_id,kind,ref[,name]``: the good ones are registered, bad ones reported by line
        number."""
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in fields]
        out = ImportSummary(errors=[])
        if missing:
            out.errors.append(
                (1, f"missing column(s): {', '.join(missing)} (expected tenant_id,kind,ref[,name])")
            )
            return out
        for n, raw in enumerate(reader, start=2):
            v = {(k or "").strip().lower(): (x or "").strip() for k, x in raw.items() if isinstance(x, str)}
            try:
                async with self.db.transaction() as s:
                    _row_, created = await self._add_in(
                        s,
                        v.get("tenant_id", ""),
                        v.get("kind", ""),
                        v.get("ref", ""),
                        name=v.get("name", ""),
                        actor=actor,
                    )
            except (InvalidInput, NotFound) as exc:
                out.errors.append((n, str(exc)))
                continue
            if created:
                out.added += 1
            else:
                out.unchanged += 1
        return out

    # ------------------------------------------------------------------ what a tenant vouches for

    async def covers(self, s: AsyncSession, tenant_id: str, person: Officer | SchoolContact) -> bool:
        """Whether ``tenant_id`` is registered for this officer's LA, or this contact's school or its trust."""
        if isinstance(person, Officer):
            return await self._covers_officer(s, tenant_id, person)
        return await self._covers_contact(s, tenant_id, person)

    @staticmethod
    async def _covers_officer(s: AsyncSession, tid: str, o: Officer) -> bool:
        hit = await s.exec(
            select(MsTenant.id).where(
                MsTenant.tenant_id == tid, MsTenant.kind == "la", MsTenant.la_id == o.la_id
            )
        )
        return hit.first() is not None

    @staticmethod
    async def _covers_contact(s: AsyncSession, tid: str, c: SchoolContact) -> bool:
        school = await s.get(School, c.school_id)
        if school is None:
            return False
        mine = MsTenant.school_id == school.id
        if school.trust_code:
            mine = or_(mine, (MsTenant.kind == "trust") & (MsTenant.trust_code == school.trust_code))
        hit = await s.exec(select(MsTenant.id).where(MsTenant.tenant_id == tid, mine))
        return hit.first() is not None
