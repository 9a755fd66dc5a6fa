"""The tenant gate of the Teams transport: the Microsoft 365 tenants registered in the database
(``tsm.services.tenants``), held in memory so that checking a turn costs no database read (a refused or
rate-limited turn runs no SQL), loaded at start-up and read again every ``every`` seconds (``tsm tenants remove``
takes effect within that time).

- At least one tenant registered: only those tenants are served, and identity is bound to the tenant
  (``Directory.identify`` gets the tenant id).
- None registered: with an app id nothing is served (and ``tsm run`` refuses to start); in the local no-auth mode
  (no app id) every tenant is served and people are identified without tenant rules, for development only.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class TenantGate:
    def __init__(self, tenants, *, auth_enabled: bool, every: float = 30.0) -> None:
        self.tenants = tenants  # tsm.services.tenants.Tenants
        self.auth_enabled = auth_enabled
        self.every = every
        self.ids: frozenset[str] = frozenset()

    async def load(self) -> frozenset[str]:
        self.ids = frozenset(t.lower() for t in await self.tenants.allowed_ids())
        return self.ids

    def allows(self, tenant_id: str) -> bool:
        if self.ids:
            return (tenant_id or "").strip().lower() in self.ids
        return not self.auth_enabled  # with an app id, closed until a tenant is registered and read

    def bound_tenant(self, tenant_id: str) -> str | None:
        """The tenant to bind identity to (None: no tenant rules, the local mode with no tenant registered)."""
        return (tenant_id or "").strip().lower() if (self.ids or self.auth_enabled) else None

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.load()
            except Exception as exc:  # keep the last list: a database blip must not open or close the gate
                log.warning(
                    "could not read the registered tenants (%s); keeping the last list", type(exc).__name__
                )
