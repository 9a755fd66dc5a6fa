"""Who sent a turn, by AAD object id, for every turn in flight at once (one query per batch, not per turn).

This is the AAD-id half of ``tsm.services.directory.Directory.identify`` (same rules: an active officer first,
admin when ``is_admin``, else an active school contact), resolved for all the turns that arrive together in one
read. Nothing is cached: every turn is resolved against the database as it is now. A miss falls back to
``Directory.identify(aad, email)`` with the email from the Teams roster (which also remembers the AAD id).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from tsm.adapters.db.directory import Officer, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.services.actors import Actor


class AadResolver:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[str, list[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None
        self.queries = 0  # batches read so far (tests check batching)

    async def resolve(self, aad: str) -> Actor | None:
        fut = asyncio.get_running_loop().create_future()
        self._pending.setdefault(aad, []).append(fut)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return await fut

    async def _loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                found = await self._read(list(batch))
            except Exception as exc:
                for futs in batch.values():
                    for f in futs:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for aad, futs in batch.items():
                for f in futs:
                    if not f.done():
                        f.set_result(found.get(aad))

    async def _read(self, aads: list[str]) -> dict[str, Actor]:
        self.queries += 1
        o, c = Officer.__table__.c, SchoolContact.__table__.c
        async with self.db.engine.connect() as conn:
            officers = (await conn.execute(select(o.id, o.name, o.is_admin, o.teams_aad_id).where(
                o.teams_aad_id.in_(aads), o.active == True))).all()  # noqa: E712
            found = {r.teams_aad_id: Actor("admin" if r.is_admin else "officer", r.id, None, r.name) for r in officers}
            rest = [a for a in aads if a not in found]
            if rest:
                contacts = (await conn.execute(select(c.id, c.school_id, c.name, c.teams_aad_id).where(
                    c.teams_aad_id.in_(rest), c.active == True))).all()  # noqa: E712
                for r in contacts:
                    found[r.teams_aad_id] = Actor("contact", r.id, r.school_id, r.name)
        return found
