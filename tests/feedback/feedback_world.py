"""Feedback test helpers (imported by name: a module called ``conftest`` would clash with the other folders'):
the factories' Norfolk world (2025-26 terms, officers Ann and Bob, nine schools) with
meetings written straight into the database, so every report has numbers known by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from factories import World, local
from sqlmodel import select

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.clock import FixedClock
from tsm.services.evaluations import Evaluations
from tsm.services.records import Records
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports

NOW = local(2026, 3, 20, 12)  # late in Norfolk's spring term 2026 (6 Jan - 27 Mar)


@dataclass
class Env:
    db: Database
    world: World
    clock: FixedClock
    evaluations: Evaluations
    records: Records
    reports: Reports
    ref: ReferenceData

    async def meeting(
        self,
        schools: list[str],
        start: datetime,
        status: str = "held",
        *,
        term: str = "spring",
        officer: str | None = None,
        minutes: int = 60,
        attendees: tuple[str, ...] = ("lead", "head"),
        updated_at: datetime | None = None,
    ) -> int:
        """A meeting row as the booking service leaves it (attendees = the schools' contacts named)."""
        w = self.world
        officer_id = w.officers[officer or ("bob" if schools[0] in ("allocated", "bob_school") else "ann")]
        term_id = w.terms[term]
        active = status in ("booked", "moved", "held")
        async with self.db.transaction() as s:
            m = Meeting(
                officer_id=officer_id,
                term_id=term_id,
                start=start,
                end=start + timedelta(minutes=minutes),
                mode="teams",
                meeting_type="primary",
                status=status,
                location="Microsoft Teams",
                booked_by="officer:1",
                ical_uid=f"t-{uuid.uuid4()}",
                created_at=start - timedelta(days=20),
                updated_at=updated_at or start,
            )
            s.add(m)
            await s.flush()
            for key in schools:
                s.add(
                    MeetingSchool(
                        meeting_id=m.id,
                        school_id=w.schools[key],
                        term_id=term_id,
                        active_term_id=term_id if active else None,
                    )
                )
                for who in attendees:
                    c = await s.get(SchoolContact, w.contacts[f"{key}.{who}"])
                    s.add(
                        MeetingAttendee(
                            meeting_id=m.id, contact_id=c.id, name=c.name, email=c.email, role=c.role
                        )
                    )
            return m.id

    async def sent(
        self,
        kind: str,
        subject_kind: str,
        subject_id: int,
        recipient: tuple[str, int],
        ref: str,
        status: str = "sent",
        at: datetime | None = None,
    ) -> None:
        """A ledger row as the scheduler leaves it after sending."""
        at = at or self.clock()
        async with self.db.transaction() as s:
            s.add(
                Outbound(
                    kind=kind,
                    subject_kind=subject_kind,
                    subject_id=subject_id,
                    recipient_kind=recipient[0],
                    recipient_id=recipient[1],
                    ref=ref,
                    status=status,
                    claimed_by="w",
                    created_at=at,
                    sent_at=at if status == "sent" else None,
                    last_error="",
                )
            )

    async def outbound(self, kind: str) -> list[Outbound]:
        async with self.db.reader() as s:
            return list(await s.exec(select(Outbound).where(Outbound.kind == kind).order_by(Outbound.id)))


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)
