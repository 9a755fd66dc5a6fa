"""One Outlook calendar per LA (issue 15): several LAs share a deployment, each with its own Microsoft tenant and app
credentials (``tsm.la_settings``). :class:`PerLaCalendar` is the calendar port (and what the Outlook watcher asks of
a Graph calendar) over one calendar per LA: every call goes to the calendar of the LA of the officer it is about (the
organiser of an event, the owner of a mailbox), the deployment's own for an LA without its own. The composition root
builds it (``tsm.bootstrap.build_calendar``); nothing else knows there are several."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import col, select

from ..domain.model import Interval
from ..ports import CalendarChange, CalendarRef, EventDetails, EventResult
from .db.directory import LA, Officer
from .db.engine import Database


class PerLaCalendar:
    def __init__(self, db: Database, by_la_code: Mapping[str, Any], default: Any) -> None:
        self.db = db
        self.by_la_code = dict(by_la_code)
        self.default = default
        self._la_of: dict[int, str] = {}  # officer id -> LA code (an officer's LA does not change under them)

    @property
    def calendars(self) -> list[Any]:
        return [self.default, *self.by_la_code.values()]

    async def for_officers(self, officer_ids: Sequence[int]) -> dict[int, Any]:
        """The calendar of each officer's LA (one read for the officers not seen yet)."""
        missing = [i for i in set(officer_ids) if i not in self._la_of]
        if missing:
            async with self.db.reader() as s:
                for oid, code in await s.exec(
                    select(Officer.id, LA.code)
                    .join(LA, LA.id == Officer.la_id)
                    .where(col(Officer.id).in_(missing))
                ):
                    if oid is not None:
                        self._la_of[oid] = code
        return {i: self.by_la_code.get(self._la_of.get(i, ""), self.default) for i in officer_ids}

    async def _for(self, officer_id: int) -> Any:
        return (await self.for_officers([officer_id]))[officer_id]

    # ------------------------------------------------------------------ the calendar port

    async def busy(self, calendars: Sequence[CalendarRef], window: Interval) -> dict[int, list[Interval]]:
        which = await self.for_officers([c.officer_id for c in calendars])
        groups: dict[int, tuple[Any, list[CalendarRef]]] = {}
        for ref in calendars:
            cal = which[ref.officer_id]
            groups.setdefault(id(cal), (cal, []))[1].append(ref)
        out: dict[int, list[Interval]] = {}
        for part in await asyncio.gather(*(cal.busy(refs, window) for cal, refs in groups.values())):
            out.update(part)
        return out

    async def create_event(self, details: EventDetails) -> EventResult:
        return await (await self._for(details.organizer.officer_id)).create_event(details)

    async def update_event(self, event_id: str | None, details: EventDetails) -> EventResult:
        return await (await self._for(details.organizer.officer_id)).update_event(event_id, details)

    async def cancel_event(self, event_id: str | None, details: EventDetails, message: str) -> EventResult:
        return await (await self._for(details.organizer.officer_id)).cancel_event(event_id, details, message)

    # ------------------------------------------------------------------ what the Outlook watcher asks

    async def attendee_responses(self, ref: CalendarRef, event_id: str) -> dict[str, str]:
        return await (await self._for(ref.officer_id)).attendee_responses(ref, event_id)

    async def read_change(self, ref: CalendarRef, event_id: str) -> CalendarChange:
        return await (await self._for(ref.officer_id)).read_change(ref, event_id)

    async def delta(self, ref: CalendarRef, link: str | None, window: Interval | None):
        return await (await self._for(ref.officer_id)).delta(ref, link, window)

    async def create_subscription(self, ref: CalendarRef, *args: Any, **kwargs: Any):
        return await (await self._for(ref.officer_id)).create_subscription(ref, *args, **kwargs)

    async def renew_subscription(self, ref: CalendarRef, *args: Any, **kwargs: Any):
        return await (await self._for(ref.officer_id)).renew_subscription(ref, *args, **kwargs)

    async def delete_subscription(self, ref: CalendarRef, subscription_id: str) -> None:
        await (await self._for(ref.officer_id)).delete_subscription(ref, subscription_id)

    def invalidate(self, mailbox: str | None = None) -> None:
        for cal in self.calendars:
            cal.invalidate(mailbox)

    def is_own_version(self, event_id: str, etag: object) -> bool:
        return any(cal.is_own_version(event_id, etag) for cal in self.calendars)

    async def health(self, mailbox: str | None = None) -> dict[str, Any]:
        return await self.default.health(mailbox)

    async def close(self) -> None:
        for cal in self.calendars:
            close = getattr(cal, "close", None)
            if close is not None:
                await close()
