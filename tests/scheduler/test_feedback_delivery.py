"""Issue 15 item 6: feedback messages go out through the scheduler's delivery path (``Jobs._deliver``), in parallel
up to the send concurrency like the reminders, not one after the other; the service wires the app's feedback
settings into the FeedbackJobs its ``tsm.feedback`` job runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from sqlalchemy import insert

from scheduler.feedback_jobs import feedback_sweep
from scheduler.jobs import Jobs, JobSettings
from scheduler.ledger import Ledger
from scheduler.service import SchedulerService
from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.services.booking import BookingService
from tsm.services.reference import ReferenceData
from tsm.settings import Settings

NOW = local(2026, 1, 22, 12, 0)
SCHOOLS = ("low_primary", "high_primary", "secondary", "bob_school")  # two contacts each: eight people asked


async def asked_three_days_ago(db, w) -> int:
    """Four held TSMs whose evaluation requests went to both contacts of each school three days and a minute ago."""
    ended = NOW - timedelta(days=3, minutes=30)
    sent = NOW - timedelta(days=3, minutes=1)
    meetings, links, attendees, ledger = [], [], [], []
    for i, key in enumerate(SCHOOLS):
        mid = 7000 + i
        officer = w.officers["bob" if key == "bob_school" else "ann"]
        meetings.append(
            dict(
                id=mid,
                officer_id=officer,
                term_id=w.terms["spring"],
                start=ended - timedelta(hours=1),
                end=ended,
                mode="teams",
                meeting_type="tsm",
                status="held",
                location="",
                booked_by="system:test",
                ical_uid=f"uid-{mid}",
                ical_sequence=0,
                created_at=ended - timedelta(days=20),
                updated_at=ended,
            )
        )
        links.append(
            dict(meeting_id=mid, school_id=w.schools[key], term_id=w.terms["spring"], active_term_id=None)
        )
        for who, role in (("lead", "attendance_lead"), ("head", "senior_leader")):
            cid = w.contacts[f"{key}.{who}"]
            attendees.append(
                dict(
                    meeting_id=mid,
                    contact_id=cid,
                    name=who,
                    email=f"{who}-{mid}@test.example",
                    role=role,
                    required=role == "senior_leader",
                    response="accepted",
                )
            )
            ledger.append(
                dict(
                    kind="evaluation",
                    subject_kind="meeting",
                    subject_id=mid,
                    recipient_kind="contact",
                    recipient_id=cid,
                    ref=(ended - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
                    status="sent",
                    claimed_by="old",
                    attempts=1,
                    created_at=sent,
                    sent_at=sent,
                    last_error="",
                )
            )
    async with db.transaction() as s:
        conn = await s.connection()
        for table, rows in (
            (Meeting, meetings),
            (MeetingSchool, links),
            (MeetingAttendee, attendees),
            (Outbound, ledger),
        ):
            await conn.execute(insert(table.__table__), rows)
    return len(ledger)


async def test_evaluation_reminders_are_sent_in_parallel_through_the_reminders_delivery_path(db):
    w = await make_world(db)
    asked = await asked_three_days_ago(db, w)
    clock, gate = FixedClock(NOW), asyncio.Event()
    messenger = ScriptedMessenger(gate=gate)  # a slow channel: every send waits until the gate opens
    ref = ReferenceData(db)
    jobs = Jobs(
        db=db,
        messenger=messenger,
        booking=BookingService(db, LocalCalendar(db), ref, clock=clock),
        reference=ref,
        ledger=Ledger(db, "w1", clock=clock),
        clock=clock,
        settings=JobSettings(send_concurrency=64),
    )
    sweep = asyncio.create_task(jobs.feedback.evaluation_reminders())
    for _ in range(200):  # every send in flight at once: one at a time, the first would hold the rest back
        if messenger.attempts == asked or sweep.done():
            break
        await asyncio.sleep(0.05)
    in_flight = messenger.attempts
    gate.set()
    result = await sweep
    assert in_flight == asked == 8
    assert (result.claimed, result.sent) == (8, 8)
    assert all(m.text.startswith("Reminder: ") for _, m in messenger.sent)
    assert (await jobs.feedback.evaluation_reminders()).claimed == 0  # once


async def test_the_feedback_job_runs_the_schedulers_feedback_sweeps_with_the_apps_settings(
    sqlite_url, tmp_path
):
    settings = Settings(
        database_url=sqlite_url,
        invitations_dir=tmp_path / "invitations",
        calendar_backend="local",
        feedback_retention_days=400,
        evaluation_reminder_days=5,
    )
    app = build_app(settings, clock=FixedClock(NOW))
    try:
        service = SchedulerService(app, ScriptedMessenger(), worker_id="a")
        feedback = service.jobs.feedback
        run, seconds = feedback_sweep(service)
        assert run == feedback.run_all and seconds == 300
        assert feedback.send == service.jobs._deliver  # the reminders' path
        assert (feedback.retention_days, feedback.evaluation_reminder_after) == (400, timedelta(days=5))
    finally:
        await app.close()
