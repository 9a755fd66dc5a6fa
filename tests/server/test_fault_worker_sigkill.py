"""Fault: a worker killed with SIGKILL in the middle of a send. Its claim stays in the ledger until the lease runs
out; then the other worker takes it over and sends it, once. (The Bot Connector has no idempotency key: had the
killed send been delivered before the kill, it would be delivered again. Here it hangs and is never delivered, the
case the lease exists for.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from factories import make_world
from fakes.connector import FakeConnector, ThreadServer, installation_update
from processes import free_port, start_bot, start_worker, wait_healthy, wait_log
from prod_figures import record_figures
from sqlalchemy import text

from tsm.adapters.db.directory import SchoolContact, Term
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.bootstrap import build_app
from tsm.settings import Settings

LEASE = "4"


async def _due_reminders(app, world) -> list[int]:
    """Three meetings whose 1-day reminder is due now; returns the contacts to remind."""
    now = datetime.now(UTC)
    contacts = []
    async with app.db.transaction() as s:
        term_id = world.terms["spring"]
        assert await s.get(Term, term_id)
        for key in ("low_primary", "high_primary", "secondary"):
            cid = world.contacts[f"{key}.lead"]
            c = await s.get(SchoolContact, cid)
            c.teams_aad_id = f"aad-{cid}"
            s.add(c)
            start = now + timedelta(hours=10)
            m = Meeting(
                officer_id=world.officers["ann"],
                term_id=term_id,
                start=start,
                end=start + timedelta(hours=1),
                mode="teams",
                meeting_type="tsm",
                status="booked",
                booked_by="officer:1",
                ical_uid=f"tsm-{uuid.uuid4()}@test",
                created_at=now - timedelta(days=5),
                updated_at=now - timedelta(days=5),
            )
            s.add(m)
            await s.flush()
            s.add(
                MeetingSchool(
                    meeting_id=m.id, school_id=world.schools[key], term_id=term_id, active_term_id=None
                )
            )
            s.add(MeetingAttendee(meeting_id=m.id, contact_id=cid, name=c.name, email=c.email, role=c.role))
            contacts.append(cid)
    return contacts


async def test_worker_killed_mid_send_its_claim_is_sent_once_by_the_other(pg_url, tmp_path):
    app = build_app(Settings(_env_file=None, database_url=pg_url, invitations_dir=tmp_path / "inv"))
    threads = ThreadServer()
    connector = FakeConnector()
    connector.url = threads.serve(connector.app()) + "/"
    procs = []
    try:
        world = await make_world(app.db)
        contacts = await _due_reminders(app, world)
        bot = start_bot("bot", pg_url, tmp_path)
        procs.append(bot)
        wait_healthy(bot)
        async with httpx.AsyncClient(timeout=30) as http:
            for cid in contacts:
                r = await http.post(
                    bot.url + "/api/messages",
                    json=installation_update(
                        connector.url, conv=f"a:conv-{cid}", user_id=f"29:user-{cid}", aad=f"aad-{cid}"
                    ),
                )
                assert r.status_code == 200
        greetings = Counter(s.conversation_id for s in connector.snapshot())
        bot.terminate()

        fast = {"TSM_SCHEDULER_LEASE_SECONDS": LEASE, "TSM_SCHEDULER_RETRY_SWEEP_SECONDS": "1"}
        connector.hang_next = 1  # the first proactive send hangs: the worker is killed in the middle of it
        doomed = start_worker("doomed", pg_url, tmp_path, **fast)
        procs.append(doomed)
        assert await asyncio.to_thread(connector.hung.wait, 40), doomed.tail()
        held: list = []
        for _ in range(100):  # the two other sends finish; the hung one stays claimed
            async with app.db.reader() as s:
                held = list(
                    await s.exec(
                        text(
                            "SELECT id, recipient_id FROM outbound WHERE status = 'claimed' "
                            "AND claimed_by = 'doomed' AND kind = 'remind_1d'"
                        )
                    )
                )
                sent = (
                    await s.exec(
                        text("SELECT COUNT(*) FROM outbound WHERE status = 'sent' AND kind = 'remind_1d'")
                    )
                ).one()[0]
            if len(held) == 1 and sent == 2:
                break
            await asyncio.sleep(0.1)
        assert len(held) == 1, held
        doomed.kill9()
        killed_at = time.monotonic()
        assert doomed.popen.returncode == -9

        metrics_port = free_port()
        survivor = start_worker(
            "survivor", pg_url, tmp_path, TSM_WORKER_METRICS_PORT=str(metrics_port), **fast
        )
        procs.append(survivor)
        wait_log(survivor, "scheduler started as")
        row = None
        while time.monotonic() - killed_at < 40:
            async with app.db.reader() as s:
                row = (
                    await s.exec(
                        text("SELECT status, claimed_by, attempts FROM outbound WHERE id = :id").bindparams(
                            id=held[0][0]
                        )
                    )
                ).one()
            if row[0] != "claimed":
                break
            await asyncio.sleep(0.25)
        takeover_seconds = time.monotonic() - killed_at
        await asyncio.sleep(1.5)  # room for a (wrong) second send to show up
        async with httpx.AsyncClient(timeout=10) as http:  # the worker's own /metrics and /healthz
            scraped = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            health = await http.get(f"http://127.0.0.1:{metrics_port}/healthz")
        assert health.status_code == 200 and health.json()["scheduler"]["running"] is True
        assert 'tsm_reminders_total{kind="remind_1d",outcome="sent"} 1.0' in scraped, scraped[-1500:]
        survivor.terminate()

        assert tuple(row) == ("sent", "survivor", 2), row
        posts = Counter(s.conversation_id for s in connector.snapshot()) - greetings
        assert posts == Counter({f"a:conv-{cid}": 1 for cid in contacts}), posts  # each reminder exactly once
        async with app.db.reader() as s:
            statuses = Counter(
                r[0] for r in await s.exec(text("SELECT status FROM outbound WHERE kind = 'remind_1d'"))
            )
        assert statuses == Counter({"sent": 3})
        record_figures(
            "worker_sigkill",
            {
                "faults_injected": 1,
                "faults_survived": 1,
                "reminders_due": 3,
                "reminders_sent": 3,
                "reminders_duplicated": sum(max(0, n - 1) for n in posts.values()),
                "lease_seconds": int(LEASE),
                "takeover_seconds_after_kill": round(takeover_seconds, 1),
            },
        )
    finally:
        connector.release.set()
        for p in procs:
            p.terminate()
        threads.close()
        await app.close()
