"""Reference data the services read often and that changes rarely: LA policies and term calendars."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.directory import LA, Term, TermBreak
from ..adapters.db.engine import Database
from ..domain.model import DateRange, TermName
from ..domain.policy import Policy, load_policy
from ..domain.terms import Break, TermCalendar
from ..domain.terms import Term as DomainTerm


class ReferenceData:
    """Caches policies (by profile name) and term calendars (by LA, for ``ttl`` seconds; imports invalidate)."""

    def __init__(self, db: Database, *, ttl: float = 300.0) -> None:
        self.db = db
        self.ttl = ttl
        self._policies: dict[str, Policy] = {}
        self._calendars: dict[int, tuple[float, TermCalendar]] = {}
        self._las: dict[int, LA] = {}

    def policy(self, name: str) -> Policy:
        if name not in self._policies:
            self._policies[name] = load_policy(name)
        return self._policies[name]

    async def la(self, s: AsyncSession, la_id: int) -> LA:
        """Reads go through the caller's session: a second session while one is held could exhaust the pool."""
        if la_id not in self._las:
            la = await s.get(LA, la_id)
            if la is None:
                raise LookupError(f"no LA {la_id}")
            s.expunge(
                la
            )  # kept apart from the session: a rolled-back transaction must not expire the cached row
            self._las[la_id] = la
        return self._las[la_id]

    async def policy_for_la(self, s: AsyncSession, la_id: int) -> tuple[Policy, ZoneInfo]:
        la = await self.la(s, la_id)
        policy = self.policy(la.policy)
        return policy, ZoneInfo(la.timezone or policy.timezone)

    async def for_la(self, s: AsyncSession, la_id: int) -> tuple[Policy, ZoneInfo, TermCalendar]:
        """The LA's policy, time zone and term calendar."""
        policy, tz = await self.policy_for_la(s, la_id)
        return policy, tz, await self.calendar(s, la_id)

    def cached_for_la(self, la_id: int) -> tuple[Policy, ZoneInfo, TermCalendar] | None:
        """``for_la`` from memory alone, or None when something would have to be read (the caller then opens a
        session for ``for_la``)."""
        la = self._las.get(la_id)
        hit = self._calendars.get(la_id)
        if la is None or hit is None or time.monotonic() - hit[0] >= self.ttl:
            return None
        policy = self.policy(la.policy)
        return policy, ZoneInfo(la.timezone or policy.timezone), hit[1]

    async def calendar(self, s: AsyncSession, la_id: int) -> TermCalendar:
        hit = self._calendars.get(la_id)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        cal = await load_term_calendar(s, la_id)
        self._calendars[la_id] = (time.monotonic(), cal)
        return cal

    async def calendars(self, s: AsyncSession, la_ids: list[int]) -> dict[int, TermCalendar]:
        """Several LAs' calendars, those not cached read together in two statements (the sweeps go through every
        LA: one read per LA would grow with the country)."""
        now = time.monotonic()
        stale = [i for i in la_ids if not (i in self._calendars and now - self._calendars[i][0] < self.ttl)]
        if stale:
            for la_id, cal in (await load_term_calendars(s, stale)).items():
                self._calendars[la_id] = (now, cal)
        return {i: self._calendars[i][1] for i in la_ids}

    def invalidate(self) -> None:
        self._calendars.clear()
        self._las.clear()


async def load_term_calendar(s: AsyncSession, la_id: int) -> TermCalendar:
    return (await load_term_calendars(s, [la_id]))[la_id]


async def load_term_calendars(s: AsyncSession, la_ids: list[int]) -> dict[int, TermCalendar]:
    """The LAs' term calendars: their terms in one read, the terms' breaks in another."""
    terms = list(await s.exec(select(Term).where(col(Term.la_id).in_(la_ids))))
    ids = [t.id for t in terms]
    breaks = list(await s.exec(select(TermBreak).where(col(TermBreak.term_id).in_(ids)))) if ids else []
    by_term: dict[int, list[Break]] = {}
    for b in breaks:
        by_term.setdefault(b.term_id, []).append(Break(DateRange(b.start_date, b.end_date), b.kind, b.label))
    by_la: dict[int, list[DomainTerm]] = {la_id: [] for la_id in la_ids}
    for t in terms:
        by_la[t.la_id].append(
            DomainTerm(
                t.academic_year,
                TermName(t.name),
                DateRange(t.start_date, t.end_date),
                tuple(sorted(by_term.get(t.id, []), key=lambda b: b.dates.first)),
                id=t.id,
            )
        )
    return {la_id: TermCalendar(la_terms) for la_id, la_terms in by_la.items()}
