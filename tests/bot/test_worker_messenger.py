"""The ``tsm worker`` process builds its own Teams messenger (its own adapter and connection pool): it sends
through it and closes that pool when the worker stops. The server's messenger shares the turns' pool, which
the bot runtime closes, so ``close`` leaves a shared pool open."""

from __future__ import annotations

import asyncio

from factories import local
from fakes.connector import installation_update, member

import bot.messenger as teams
import tsm.composition as composition
from scheduler.service import SweepIntervals
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.messaging import Message, Recipient, SendStatus
from tsm.settings import Settings
from tsm.worker import run_worker


async def _ann_installed(h) -> int:
    h.connector.members["29:ann"] = member("29:ann", "ann@la.example", "aad-ann", "Ann Officer")
    r = await h.post(
        installation_update(h.connector, conv="a:ann", user_id="29:ann", aad="aad-ann", name="Ann Officer")
    )
    assert r.status == 200
    h.connector.sent.clear()
    return h.world.officers["ann"]


async def test_the_worker_sends_through_its_own_pool_and_closes_it_at_shutdown(
    harness, sqlite_url, tmp_path, monkeypatch
):
    h = harness
    await _ann_installed(h)
    clock = FixedClock(local(2026, 1, 5, 8))
    settings = Settings(
        database_url=sqlite_url, _env_file=None, invitations_dir=tmp_path / "inv", run_scheduler=False
    )
    booker = build_app(settings, clock=clock)
    await booker.booking.book(h.world.officer("ann"), h.world.schools["low_primary"], local(2026, 2, 3, 10))
    await booker.close()
    clock.now = local(2026, 2, 2, 17)  # Monday after 16:00: Ann's agenda for Tuesday is due

    built: list[teams.TeamsMessenger] = []
    real_build = composition.build_messenger  # the composition root builds the worker's own messenger

    def spy(app):
        m = real_build(app)
        built.append(m)
        return m

    monkeypatch.setattr(composition, "build_messenger", spy)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(settings, worker_id="w1", stop=stop, clock=clock, intervals=SweepIntervals(nudges=1))
    )
    for _ in range(100):
        await asyncio.sleep(0.1)
        if any(s.conversation_id == "a:ann" for s in h.connector.sent):
            break
    assert [s.activity["text"] for s in h.connector.sent if s.conversation_id == "a:ann"][:1] == [
        "1 TSM on Tuesday 3 February"
    ]
    (m,) = built
    assert m.owns_pool
    session = m.adapter.pool._session
    assert session is not None and not session.closed  # the worker's own keep-alive connections, in use
    assert m.adapter.pool is not h.runtime.pool
    stop.set()
    await asyncio.wait_for(worker, timeout=20)
    assert session.closed and m.adapter.pool._session is None
    assert not h.runtime.pool.session().closed  # the server's pool is not the worker's to close
    await m.close()  # twice is harmless


async def test_close_leaves_a_shared_pool_open(harness):
    h = harness
    officer_id = await _ann_installed(h)
    shared = teams.TeamsMessenger(
        h.runtime.adapter, h.runtime.store
    )  # as the server builds it: the turns' pool
    assert (await shared.send(Recipient("officer", officer_id), Message("x"))).status is SendStatus.SENT
    session = h.runtime.pool._session
    await shared.close()
    assert not session.closed
    assert (await shared.send(Recipient("officer", officer_id), Message("y"))).status is SendStatus.SENT
