"""Who sent a turn, by AAD object id, for every turn in flight at once (one query per batch, not per turn).

This is the AAD-id half of ``tsm.services.directory.Directory.identify`` (same rules: an active officer first,
admin when ``is_admin``, else an active school contact; with a tenant, only a person remembered in that tenant),
resolved for all the turns that arrive together in one read (``people_by_aad``: officers and contacts in one
statement; ``actor_by_aad``: the rule, shared with ``Directory.identify``). Nothing is cached: every turn is resolved
against the database as it is now. A miss falls back to ``Directory.identify(aad, email, tenant)`` with the email from the Teams
roster (which, under the tenant rules, also remembers the AAD id and its tenant).
"""

from __future__ import annotations

import asyncio

from tsm.adapters.db.engine import Database
from tsm.services.actors import Actor
from tsm.services.directory import actor_by_aad, people_by_aad


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
                self.queries += 1
                found = await people_by_aad(self.db, sorted({aad for aad, _tenant in batch}))
            except Exception as exc:
                for futs in batch.values():
                    for f in futs:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for (aad, tenant), futs in batch.items():
                actor = actor_by_aad(found.get(aad, []), tenant)
                for f in futs:
                    if not f.done():
                        f.set_result(actor)
