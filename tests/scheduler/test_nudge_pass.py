"""The hourly pass of the nudges (``Jobs.nudges``, the scheduler's ``tsm.nudges``) works out the LAs' unbooked
schools once, and sends what the four sweeps run one by one send (issue 15: an hourly pass judged 22,500 schools
three times, once for the term-start nudges, once for the chasers, once for the officers' digest)."""

from __future__ import annotations

from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env
from sqlalchemy import event
from sqlmodel import select

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.adapters.db.migrate import upgrade
from tsm.clock import FixedClock

# Tuesday of the spring term's fourth week, 09:00: the term-start nudges (from the first day), the chasers (three
# weeks in) and the officers' weekly digest (from Monday 08:00) are all due in this hour's pass.
ALL_DUE = local(2026, 1, 27, 9)


def _unbooked_reads(db: Database) -> list[str]:
    """The statements that read the LAs' open schools not booked this term (``Jobs._unbooked_in``'s first read)."""
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _executemany):
        flat = " ".join(statement.split())
        if flat.startswith("SELECT school.id") and "NOT IN (SELECT meeting_school.school_id" in flat:
            seen.append(flat)

    return seen


async def _world(tmp_path, name: str) -> Env:
    url = f"sqlite:///{tmp_path}/{name}.db"
    upgrade(url)
    db = Database(url)
    env = Env(db, FixedClock(ALL_DUE), ScriptedMessenger())
    env.world = await make_world(db)
    return env


def _sent(env: Env) -> list[tuple[str, int, str]]:
    return sorted((r.kind, r.id, m.text) for r, m in env.messenger.sent)


async def _ledger(env: Env) -> list[tuple]:
    """Every message the sweeps made due, and what became of it (sent, superseded by a newer one, ...)."""
    async with env.db.reader() as s:
        rows = await s.exec(
            select(
                Outbound.kind,
                Outbound.subject_kind,
                Outbound.subject_id,
                Outbound.recipient_kind,
                Outbound.recipient_id,
                Outbound.ref,
                Outbound.status,
            )
        )
        return sorted(tuple(r) for r in rows)


async def test_the_hourly_pass_judges_the_unbooked_schools_once_and_sends_what_the_sweeps_one_by_one_send(
    tmp_path,
):
    one_by_one, in_a_pass = await _world(tmp_path, "one_by_one"), await _world(tmp_path, "pass")
    try:
        reads_alone, reads_pass = _unbooked_reads(one_by_one.db), _unbooked_reads(in_a_pass.db)
        for sweep in ("officer_agendas", "term_start_nudges", "chasers", "unbooked_weekly", "late_installs"):
            await getattr(one_by_one.jobs, sweep)()
        await in_a_pass.jobs.nudges()
        sent = _sent(in_a_pass)
        assert sent == _sent(one_by_one)
        ledger = await _ledger(in_a_pass)
        assert ledger == await _ledger(one_by_one)
        # Every kind was due in this hour: the term-start invitation (the chaser, sent beside it, says it now), the
        # chaser, the officer's digest.
        assert {row[0] for row in ledger} >= {"term_start", "chaser", "unbooked_weekly"}, ledger
        texts = [t for _, _, t in sent]
        assert any("has no TSM booked this term yet" in t for t in texts), texts
        assert any(kind == "officer" and "still to book this term" in t for kind, _, t in sent), sent
        # Working out who is due: three reads of the unbooked schools one by one (term-start nudges, chasers, the
        # digest), one in the pass; composing each officer's digest reads its list again, as it is when sent, in both.
        digests = sum(1 for kind, _, t in sent if kind == "officer" and "still to book this term" in t)
        assert (len(reads_alone), len(reads_pass)) == (3 + digests, 1 + digests)
    finally:
        await one_by_one.db.dispose()
        await in_a_pass.db.dispose()


async def test_a_school_that_books_between_two_passes_is_not_chased_by_the_second(tmp_path):
    env = await _world(tmp_path, "two_passes")
    try:
        await env.jobs.nudges()
        w = env.world
        lead = w.contacts["secondary.lead"]
        assert any(r.id == lead and r.kind == "contact" for r, _ in env.messenger.sent)
        await env.booking.book(w.contact("secondary.lead"), w.schools["secondary"], local(2026, 2, 4, 10))
        env.messenger.sent.clear()
        env.clock.now = local(
            2026, 2, 3, 9
        )  # a week on: the next week's digest is due; nothing is shared across
        await env.jobs.nudges()
        digests = [m for r, m in env.messenger.sent if r.kind == "officer" and "still to book" in m.text]
        assert digests, env.messenger.sent
        assert all("Town High School" not in str(m.card) for m in digests)
        assert not [m for r, m in env.messenger.sent if r == ("contact", lead)]
    finally:
        await env.db.dispose()
