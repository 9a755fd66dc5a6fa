"""Who sent a turn, by AAD object id, for every turn in flight at once (one query per batch, not per turn).

This is the AAD-id half of ``tsm.services.directory.Directory.identify`` (same rules: an active officer first,
admin when ``is_admin``, else an active school contact; with a tenant, only a person remembered in that tenant),
resolved for all the turns that arrive together in one read. Nothing is cached: every turn is resolved against the
database as it is now. A miss falls back to ``Directory.identify(aad, email, tenant)`` with the email from the Teams
roster (which, under the tenant rules, also remembers the AAD id and its tenant).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from tsm.adapters.db.directory import Officer, School, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.services.actors import Actor, contact_actor, officer_actor


class AadResolver:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[tuple[str, str | None], list[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None
        self.queries = 0  # batches read so far (tests check batching)

    async def resolve(self, aad: str, tenant: str | None = None) -> Actor | None:
        """The actor remembered with this AAD id (and, given a tenant, seen in that tenant), or None."""
        fut = asyncio.get_running_loop().create_future()
        self._pending.setdefault((aad, tenant), []).append(fut)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return await fut

    async def _loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                found = await self._read(list({aad for aad, _tenant in batch}))
            except Exception as exc:
                for futs in batch.values():
                    for f in futs:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for (aad, tenant), futs in batch.items():
                hit = found.get(aad)
                actor = hit[0] if hit is not None and (tenant is None or hit[1] == tenant) else None
                for f in futs:
                    if not f.done():
                        f.set_result(actor)

    async def _read(self, aads: list[str]) -> dict[str, tuple[Actor, str | None]]:
        self.queries += 1
        o, c, sc = Officer.__table__.c, SchoolContact.__table__.c, School.__table__.c
        async with self.db.engine.connect() as conn:
            officers = (
                await conn.execute(
                    select(
                        o.id, o.name, o.la_id, o.is_admin, o.national_admin, o.teams_aad_id, o.teams_tenant_id
                    ).where(
                        o.teams_aad_id.in_(aads),
                        o.active == True,  # noqa: E712
                    )
                )
            ).all()  # noqa: E712
            found = {r.teams_aad_id: (officer_actor(r), r.teams_tenant_id) for r in officers}
            rest = [a for a in aads if a not in found]
            if rest:
                contacts = (
                    await conn.execute(
                        select(c.id, c.school_id, c.name, sc.la_id, c.teams_aad_id, c.teams_tenant_id)
                        .select_from(SchoolContact.__table__.join(School.__table__, sc.id == c.school_id))
                        .where(
                            c.teams_aad_id.in_(rest),
                            c.active == True,  # noqa: E712
                        )
                    )
                ).all()  # noqa: E712
                for r in contacts:
                    found[r.teams_aad_id] = (
                        contact_actor(r.id, r.school_id, r.name, r.la_id),
                        r.teams_tenant_id,
                    )
        return found
