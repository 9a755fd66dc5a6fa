"""The history's retention (issue 15): what is older than ``TSM_RETENTION_YEARS`` goes, by the daily housekeeping.

- Meetings that ended before the cut-off, with everything that hangs on them: their schools, attendees, status
  changes, officer blocks and day seats, the senior-leader marks, the local calendar's entries, the calendar outbox,
  the chat's offers, the evaluations and receipts, the TSM records and their actions, their domain events.
- Domain events (dispatched) and ledger rows (finished) from before the cut-off, whatever they were about.
- The audit log's rows older than the longest ``[retention] audit_years`` of the LAs' policy profiles (one audit
  log serves every LA of the database: no LA's period is cut short).

Meetings go in batches of ``BATCH`` (one read of their ids, one delete per table), so one run's statements grow with
what is old, never with what is kept. What is deleted is counted (one audit row per run that removed anything);
nothing about what was deleted is logged beyond the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select

from tsm.adapters.db.calendars import CalendarEvent, CalendarOutbox
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import LA
from tsm.adapters.db.engine import Database
from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt, RecordAction, TsmRecord
from tsm.adapters.db.history import AuditLog, DomainEvent
from tsm.adapters.db.meetings import (
    Meeting,
    MeetingAttendee,
    MeetingLeaderUnavailable,
    MeetingSchool,
    MeetingStatusChange,
    OfficerBlock,
    OfficerDayLoad,
)
from tsm.adapters.db.offers import ChatOffer
from tsm.domain.policy import Policy

BATCH = 1000  # meetings per delete round
DEFAULT_AUDIT_YEARS = 7  # with no LA in the database (nothing to ask)

# The tables that hang on a meeting, deleted before the meeting itself (children before parents).
MEETING_CHILDREN = (
    MeetingSchool,
    MeetingAttendee,
    MeetingStatusChange,
    OfficerBlock,
    OfficerDayLoad,
    MeetingLeaderUnavailable,
    CalendarEvent,
    CalendarOutbox,
    ChatOffer,
    Evaluation,
    EvaluationReceipt,
    DomainEvent,
)


@dataclass
class RetentionResult:
    meetings: int = 0
    events: int = 0
    ledger: int = 0
    audit: int = 0
    other: dict[str, int] = field(default_factory=dict)  # the meetings' dependent rows, by table

    @property
    def total(self) -> int:
        return self.meetings + self.events + self.ledger + self.audit + sum(self.other.values())


def years_before(now: datetime, years: int) -> datetime:
    """The same day and time ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


class Retention:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        years: int,
        policy: Callable[[str], Policy],
    ) -> None:
        if years < 1:
            raise ValueError("the retention period must be at least one year")
        self.db = db
        self.clock = clock
        self.years = years
        self.policy = policy  # profile name -> Policy (ReferenceData.policy: cached)

    async def audit_years(self) -> int:
        """The longest audit period of the LAs' policy profiles."""
        async with self.db.reader() as s:
            profiles = set(await s.exec(select(LA.policy).distinct()))
        return max((self.policy(p).audit_retention_years for p in profiles), default=DEFAULT_AUDIT_YEARS)

    async def purge(self) -> RetentionResult:
        now = self.clock()
        cutoff = years_before(now, self.years)
        result = RetentionResult()
        while True:
            async with self.db.transaction() as s:
                ids = list(
                    await s.exec(
                        select(Meeting.id).where(Meeting.end < cutoff).order_by(Meeting.id).limit(BATCH)
                    )
                )
                if not ids:
                    break
                records = select(TsmRecord.id).where(col(TsmRecord.meeting_id).in_(ids))
                n = await s.exec(delete(RecordAction).where(col(RecordAction.record_id).in_(records)))
                result.other["record_action"] = result.other.get("record_action", 0) + (n.rowcount or 0)
                n = await s.exec(delete(TsmRecord).where(col(TsmRecord.meeting_id).in_(ids)))
                result.other["tsm_record"] = result.other.get("tsm_record", 0) + (n.rowcount or 0)
                for table in MEETING_CHILDREN:
                    n = await s.exec(delete(table).where(col(table.meeting_id).in_(ids)))
                    name = table.__tablename__
                    result.other[name] = result.other.get(name, 0) + (n.rowcount or 0)
                n = await s.exec(delete(Meeting).where(col(Meeting.id).in_(ids)))
                result.meetings += n.rowcount or 0
            if len(ids) < BATCH:
                break
        async with self.db.transaction() as s:
            n = await s.exec(
                delete(DomainEvent).where(
                    DomainEvent.at < cutoff, col(DomainEvent.dispatched_at).is_not(None)
                )
            )
            result.events = n.rowcount or 0
            n = await s.exec(
                delete(Outbound).where(Outbound.created_at < cutoff, Outbound.status != "claimed")
            )
            result.ledger = n.rowcount or 0
            n = await s.exec(delete(CalendarEvent).where(CalendarEvent.end < cutoff))
            result.other["calendar_event"] = result.other.get("calendar_event", 0) + (n.rowcount or 0)
        audit_cutoff = years_before(now, await self.audit_years())
        async with self.db.transaction() as s:
            n = await s.exec(delete(AuditLog).where(AuditLog.at < audit_cutoff))
            result.audit = n.rowcount or 0
            result.other = {k: v for k, v in result.other.items() if v}
            if result.total:
                s.add(
                    AuditLog(
                        at=now,
                        actor="system",
                        action="history.purge",
                        entity="retention",
                        entity_id="-",
                        detail={
                            "cutoff": cutoff.isoformat(),
                            "audit_cutoff": audit_cutoff.isoformat(),
                            "meetings": result.meetings,
                            "events": result.events,
                            "ledger": result.ledger,
                            "audit": result.audit,
                            **result.other,
                        },
                    )
                )
        return result
