"""The history's retention (issue 15 item 4, ``scheduler/retention.py``): meetings, attendees, events and ledger rows
older than TSM_RETENTION_YEARS go with everything that hangs on them; the audit log stays as long as the LAs'
policy profiles say; the daily housekeeping runs it once a day across workers."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from sqlalchemy import func, insert
from sqlmodel import select

from scheduler.retention import Retention, years_before
from scheduler.service import SchedulerService
from tsm.adapters.db.calendars import CalendarEvent
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt, RecordAction, TsmRecord
from tsm.adapters.db.history import AuditLog, DomainEvent
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool, MeetingStatusChange
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.domain.policy import load_policy
from tsm.settings import Settings

NOW = local(2026, 3, 2, 3, 0)


async def add_meeting(db, w, mid: int, ended_years_ago: float) -> None:
    """A held TSM that ended that long ago, with its school, attendees, status change, evaluation and receipt,
    record and action, local calendar entry, domain event and ledger rows."""
    end = NOW - timedelta(days=365.25 * ended_years_ago)
    start = end - timedelta(hours=1)
    school, contact = w.schools["low_primary"], w.contacts["low_primary.lead"]
    async with db.transaction() as s:
        conn = await s.connection()
        await conn.execute(
            insert(Meeting.__table__),
            [
                dict(
                    id=mid,
                    officer_id=w.officers["ann"],
                    term_id=w.terms["autumn"],
                    start=start,
                    end=end,
                    mode="on_site",
                    meeting_type="tsm",
                    status="held",
                    location="",
                    booked_by="system:test",
                    ical_uid=f"uid-{mid}",
                    ical_sequence=0,
                    created_at=start,
                    updated_at=end,
                )
            ],
        )
        await conn.execute(
            insert(MeetingSchool.__table__),
            [dict(meeting_id=mid, school_id=school, term_id=w.terms["autumn"], active_term_id=None)],
        )
        await conn.execute(
            insert(MeetingAttendee.__table__),
            [
                dict(
                    meeting_id=mid,
                    contact_id=contact,
                    name="Lead",
                    email="lead@school.example",
                    role="attendance_lead",
                    required=False,
                    response="accepted",
                )
            ],
        )
        s.add(MeetingStatusChange(meeting_id=mid, status="held", at=end, actor="system:timer"))
        s.add(
            Evaluation(
                id=f"e{mid}",
                meeting_id=mid,
                usefulness=4,
                working_together=4,
                clarity=4,
                overall=4,
                submitted_on=end.date(),
            )
        )
        s.add(EvaluationReceipt(meeting_id=mid, contact_id=contact, answered_on=end.date()))
        record = TsmRecord(
            meeting_id=mid, created_by="officer:1", updated_by="officer:1", created_at=end, updated_at=end
        )
        s.add(record)
        await s.flush()
        s.add(RecordAction(record_id=record.id, text="Call home", owner="school", due_date=end.date()))
        s.add(CalendarEvent(officer_id=w.officers["ann"], start=start, end=end, meeting_id=mid))
        s.add(DomainEvent(kind="held", meeting_id=mid, actor="system:timer", at=end, dispatched_at=end))
        s.add(
            Outbound(
                kind="evaluation",
                subject_kind="meeting",
                subject_id=mid,
                recipient_kind="contact",
                recipient_id=contact,
                ref=f"m{mid}",
                status="sent",
                created_at=end,
                sent_at=end,
            )
        )


async def counts(db, mid: int) -> dict[str, int]:
    out = {}
    async with db.reader() as s:
        for table in (
            Meeting,
            MeetingSchool,
            MeetingAttendee,
            MeetingStatusChange,
            Evaluation,
            EvaluationReceipt,
            TsmRecord,
            CalendarEvent,
            DomainEvent,
        ):
            column = table.id if table is Meeting else table.meeting_id
            out[table.__tablename__] = (
                await s.exec(select(func.count()).select_from(table).where(column == mid))
            ).one()
        out["record_action"] = (
            await s.exec(
                select(func.count())
                .select_from(RecordAction)
                .join(TsmRecord, TsmRecord.id == RecordAction.record_id)
                .where(TsmRecord.meeting_id == mid)
            )
        ).one()
        out["outbound"] = (
            await s.exec(select(func.count()).select_from(Outbound).where(Outbound.subject_id == mid))
        ).one()
    return out


def retention(db, years: int = 6, audit_years: dict[str, int] | None = None) -> Retention:
    def policy(name: str):
        p = load_policy(name)
        return dataclasses.replace(p, audit_retention_years=audit_years[name]) if audit_years else p

    return Retention(db, clock=FixedClock(NOW), years=years, policy=policy)


async def test_history_older_than_the_retention_years_goes_with_everything_that_hangs_on_it(any_db_url):
    from tsm.adapters.db.engine import Database

    db = Database(any_db_url)
    try:
        w = await make_world(db)
        await add_meeting(db, w, 1001, ended_years_ago=6.2)  # past six years
        await add_meeting(db, w, 1002, ended_years_ago=5.8)  # within them
        assert set((await counts(db, 1001)).values()) == {1}  # every kind of row is there to go
        result = await retention(db).purge()
        assert set((await counts(db, 1001)).values()) == {0}
        assert set((await counts(db, 1002)).values()) == {1}  # kept, all of it
        assert (result.meetings, result.events, result.ledger) == (1, 0, 1)  # its event went with the meeting
        assert result.other["meeting_attendee"] == 1 and result.other["evaluation"] == 1
        async with db.reader() as s:
            audit = (await s.exec(select(AuditLog).where(AuditLog.action == "history.purge"))).one()
        assert audit.detail["meetings"] == 1 and "low_primary" not in str(audit.detail)  # counts only
        assert (await retention(db).purge()).total == 0  # nothing left to go: no second audit row
        async with db.reader() as s:
            assert len(list(await s.exec(select(AuditLog).where(AuditLog.action == "history.purge")))) == 1
    finally:
        await db.dispose()


async def test_the_audit_log_is_kept_as_long_as_the_longest_la_profile_says(db):
    await make_world(db)  # Norfolk's profile
    await make_world(
        db, policy="kent", la_code="886", la_name="Kent", urn_offset=5000, email_domain="kent.example"
    )
    async with db.transaction() as s:
        for years in (8, 10, 12):
            s.add(
                AuditLog(
                    at=years_before(NOW, years) - timedelta(days=1),
                    actor="admin:cli",
                    action="meeting.book",
                    entity="meeting",
                    entity_id=str(years),
                )
            )
    result = await retention(db, audit_years={"norfolk": 9, "kent": 11}).purge()
    assert result.audit == 1  # older than Kent's 11 years; Norfolk's 9 do not cut Kent's rows short
    async with db.reader() as s:
        kept = sorted(
            a.entity_id for a in await s.exec(select(AuditLog).where(AuditLog.action == "meeting.book"))
        )
    assert kept == ["10", "8"]


def test_a_retention_of_less_than_a_year_is_refused(db):
    with pytest.raises(ValueError, match="at least one year"):
        Retention(db, clock=FixedClock(NOW), years=0, policy=load_policy)
    with pytest.raises(ValueError):
        Settings(retention_years=0)


def test_years_before_a_29_february_is_the_28th():
    assert years_before(local(2028, 2, 29, 12), 1).date() == date(2027, 2, 28)


async def test_the_daily_housekeeping_purges_the_history_once_a_day_across_workers(sqlite_url, tmp_path):
    clock = FixedClock(NOW)
    settings = Settings(
        database_url=sqlite_url,
        invitations_dir=tmp_path / "invitations",
        calendar_backend="local",
        retention_years=2,
    )
    app = build_app(settings, clock=clock)
    try:
        w = await make_world(app.db)
        await add_meeting(app.db, w, 1001, ended_years_ago=3)
        service = SchedulerService(app, ScriptedMessenger(), worker_id="a")
        other = SchedulerService(app, ScriptedMessenger(), worker_id="b")
        removed = await service.ledger_purge()
        # The 180-day ledger purge took the old ledger row; the retention the meeting and its 9 other rows.
        assert (removed["ledger"], removed["history"]) == (1, 10)
        assert set((await counts(app.db, 1001)).values()) == {0}
        assert await other.ledger_purge() is None  # once a day across workers
    finally:
        await app.close()
