"""The Meeting aggregate's own writes: the officer-block reservations and the status transitions that keep the
database's invariants, and the one "meeting → its schools" read.

Every path that changes a meeting's time or takes it out of service goes through here, whoever drives it: the
booking service (the chat, the CLI, a web page) and Outlook's changes (``calendar_changes``). So the invariants
live in one place:

- an active meeting owns the 5-minute blocks of its footprint (travel buffers included) in ``officer_block``,
  whose primary key (officer, block) makes the database refuse a double booking;
- it holds one seat of its officer's day in ``officer_day_load`` (the daily cap);
- a cancelled or no-show meeting holds neither, and gives up its school's term (``active_term_id`` NULL).

All functions run inside the caller's transaction (``s``); none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, delete, func, insert, literal, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..adapters.db.directory import Officer, School
from ..adapters.db.meetings import Meeting, MeetingSchool, MeetingStatusChange, OfficerBlock, OfficerDayLoad
from ..domain.errors import BookingRefused
from ..domain.model import Interval, MeetingStatus, Mode
from ..domain.policy import BLOCK_MINUTES, Policy
from ..domain.slots import SlotRules, footprint
from ..domain.text import day_text

BLOCK = timedelta(minutes=BLOCK_MINUTES)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def blocks_of(fp: Interval) -> list[datetime]:
    """The 5-minute blocks a footprint covers (footprints are on the block grid by construction)."""
    first = _EPOCH + ((fp.start - _EPOCH) // BLOCK) * BLOCK
    out, t = [], first
    while t < fp.end:
        out.append(t)
        t += BLOCK
    return out


async def schools_of(s: AsyncSession, meeting_ids: int | Sequence[int]) -> list[School]:
    """The schools of a meeting (or of several), by name: the one place the join is written."""
    ids = [meeting_ids] if isinstance(meeting_ids, int) else list(meeting_ids)
    return list(
        await s.exec(
            select(School)
            .join(MeetingSchool, MeetingSchool.school_id == School.id)
            .where(col(MeetingSchool.meeting_id).in_(ids))
            .order_by(School.name)
        )
    )


async def reserve(
    s: AsyncSession, m: Meeting, officer: Officer, policy: Policy, tz: ZoneInfo, *, day_checked: bool = False
) -> None:
    """Claim the footprint's blocks (one multi-row INSERT) and a seat in the officer's day: the database refuses any
    clash with an IntegrityError, which the caller turns into a precise refusal or a retry.

    ``day_checked``: the caller's slot check has just seen the officer's meetings that day (the booking does, in
    this transaction), so the first free seat is taken in the INSERT itself; a day filled meanwhile leaves no free
    seat and the NOT NULL seat refuses the row (a retry then refuses precisely). Otherwise (an Outlook move) the
    seats are read first and a full day is refused in words."""
    fp = footprint(m.start, m.end, Mode(m.mode), SlotRules.from_policy(policy))
    await s.exec(
        insert(OfficerBlock).values(
            [{"officer_id": officer.id, "block_start": b, "meeting_id": m.id} for b in blocks_of(fp)]
        )
    )
    day = m.start.astimezone(tz).date()
    cap = officer.max_meetings_per_day or policy.max_meetings_per_officer_per_day
    taken_q = select(OfficerDayLoad.seat).where(
        OfficerDayLoad.officer_id == officer.id, OfficerDayLoad.day == day
    )
    if day_checked:
        seats = select(literal(1, Integer).label("n")).cte("seats", recursive=True)
        seats = seats.union_all(select(seats.c.n + 1).where(seats.c.n < cap))
        first_free = select(
            literal(officer.id, Integer), literal(day, Date), func.min(seats.c.n), literal(m.id, Integer)
        ).where(seats.c.n.not_in(taken_q))
        await s.exec(
            insert(OfficerDayLoad).from_select(["officer_id", "day", "seat", "meeting_id"], first_free)
        )
        return
    taken = set(await s.exec(taken_q))
    free = [n for n in range(1, cap + 1) if n not in taken]
    if not free:
        raise BookingRefused("day_full", f"{officer.name} already has {cap} meetings on {day_text(day)}.")
    await s.exec(insert(OfficerDayLoad).values(officer_id=officer.id, day=day, seat=free[0], meeting_id=m.id))


async def release(s: AsyncSession, meeting_id: int) -> None:
    """Give back the meeting's blocks and its seat (before a move re-reserves, or when it is taken out)."""
    await s.exec(delete(OfficerBlock).where(OfficerBlock.meeting_id == meeting_id))
    await s.exec(delete(OfficerDayLoad).where(OfficerDayLoad.meeting_id == meeting_id))


async def move_to(
    s: AsyncSession,
    m: Meeting,
    start: datetime,
    end: datetime,
    status: MeetingStatus,
    officer: Officer,
    policy: Policy,
    tz: ZoneInfo,
    now: datetime,
) -> None:
    """The meeting at a new time: its reservations follow it (released, then claimed at the new footprint)."""
    await release(s, m.id)
    m.start, m.end, m.status, m.updated_at = start, end, status.value, now
    s.add(m)
    await s.flush()
    await reserve(s, m, officer, policy, tz)


async def deactivate(
    s: AsyncSession, m: Meeting, status: MeetingStatus, actor_key: str, now: datetime, reason: str
) -> None:
    """Cancelled or a no-show: the meeting holds no blocks, no seat and no longer its schools' term."""
    await release(s, m.id)
    await s.exec(update(MeetingSchool).where(MeetingSchool.meeting_id == m.id).values(active_term_id=None))
    m.status, m.updated_at = status.value, now
    s.add(m)
    s.add(
        MeetingStatusChange(
            meeting_id=m.id, status=status.value, at=now, actor=actor_key, reason=reason[:500]
        )
    )
