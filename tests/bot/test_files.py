"""Download links (``GET /files/<token>/<name>``) are kept in the database: a link made by one bot instance is
served by another and after a restart; an expired link answers 410 with a clear text, an unknown or forged one
404; the scheduler's daily housekeeping deletes expired files; only the token's hash is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botkit import make_harness
from factories import local, make_world
from fakes.connector import invoke, member
from fakes.messenger import ScriptedMessenger
from sqlmodel import select

from bot.files import FileStore, token_hash
from scheduler.service import SchedulerService
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.teams import BotFile
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.settings import Settings

ICS = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


async def _file_link(h) -> tuple[str, str]:
    """Ask the bot for a file through a literal Teams invoke; return (path of the link, token)."""
    async with h.app.db.reader() as s:
        c = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
    h.connector.members["29:user-1"] = member("29:user-1", c.email, "aad-1", c.name)
    h.connector.sent.clear()
    r = await h.post(invoke(h.connector, "test.file", {}))
    assert r.status == 200
    [card] = h.connector.cards()
    [action] = card["actions"]
    path = "/" + action["url"].split("://", 1)[1].split("/", 1)[1]
    assert path.startswith("/files/") and path.endswith("/tsm-invitation.ics")
    return path, path.split("/")[2]


async def _close(h) -> None:
    await h.client.close()
    await h.app.close()


async def test_a_link_made_by_one_instance_is_served_by_another_and_after_a_restart(any_db_url, connector):
    a = await make_harness(any_db_url, connector)
    b = await make_harness(any_db_url, connector, world=False)  # a second instance on the same database
    try:
        path, token = await _file_link(a)
        got = await b.client.get(path)
        assert got.status == 200 and await got.read() == ICS
        assert got.headers["Content-Type"].startswith("text/calendar")
        assert got.headers["Content-Disposition"] == 'attachment; filename="tsm-invitation.ics"'
        async with a.app.db.reader() as s:
            [row] = list(await s.exec(select(BotFile)))
        assert row.token_hash == token_hash(token) and token not in row.token_hash
        assert row.made_for == f"contact:{a.world.contacts['low_primary.lead']}"
        assert row.school_id == a.world.schools["low_primary"] and row.size == len(ICS)
        assert timedelta(days=6, hours=23) < row.expires_at - row.created_at <= timedelta(days=7)
    finally:
        await _close(a)
        await _close(b)
    restarted = await make_harness(any_db_url, connector, world=False)  # nothing survives but the database
    try:
        got = await restarted.client.get(path)
        assert got.status == 200 and await got.read() == ICS
    finally:
        await _close(restarted)


async def test_an_expired_link_is_410_with_a_clear_text_then_purged_by_housekeeping(sqlite_url, connector):
    h = await make_harness(sqlite_url, connector)
    try:
        path, token = await _file_link(h)
        files = h.runtime.files
        # the store's own clock, not the machine's date (tools/faked_dates.sh runs this under faketime)
        made = files.clock()
        files.clock = lambda: made + timedelta(days=6, hours=23)
        assert (await h.client.get(path)).status == 200  # still within its 7 days
        files.clock = lambda: made + timedelta(days=7, minutes=1)
        got = await h.client.get(path)
        text = await got.text()
        assert got.status == 410 and got.headers["Content-Type"].startswith("text/plain")
        assert "expired" in text and "7 days" in text and "my meetings" in text
        assert ICS.decode() not in text

        # A file made 3 days later is kept; the expired one goes at the next daily housekeeping.
        later = FileStore(
            h.app.db, public_url="http://127.0.0.1:3978", clock=lambda: made + timedelta(days=3)
        )
        fresh = await later.put("report.csv", "text/csv", b"a,b\r\n1,2\r\n")
        service = SchedulerService(h.app, ScriptedMessenger(forbidden=True), worker_id="a")
        service.jobs.clock = lambda: made + timedelta(days=7, minutes=1)
        removed = await service.ledger_purge()
        assert removed == {"ledger": 0, "offers": 0, "files": 1, "invitations": 0, "signin": 0, "history": 0}
        files.clock = lambda: made
        assert (await h.client.get(path)).status == 404  # deleted: unknown now
        fresh_path = "/" + fresh.split("://", 1)[1].split("/", 1)[1]
        got = await h.client.get(fresh_path)
        assert got.status == 200 and await got.read() == b"a,b\r\n1,2\r\n"
        async with h.app.db.reader() as s:
            assert [r.name for r in await s.exec(select(BotFile))] == ["report.csv"]
    finally:
        await _close(h)


@pytest.mark.parametrize(
    "forge",
    ["guessed token", "another file's name", "the stored hash as token", "too short", "odd characters"],
)
async def test_a_forged_or_unknown_link_is_404_and_gives_nothing_away(sqlite_url, connector, forge):
    h = await make_harness(sqlite_url, connector)
    try:
        path, token = await _file_link(h)
        forged = {
            "guessed token": path.replace(token, "A" * len(token)),
            "another file's name": path.replace("tsm-invitation.ics", "report.csv"),
            "the stored hash as token": path.replace(token, token_hash(token)),
            "too short": path.replace(token, token[:8]),
            "odd characters": path.replace(token, token[:-3] + "%2e%2e"),
        }[forge]
        got = await h.client.get(forged)
        text = await got.text()
        assert got.status == 404 and "does not exist" in text and "BEGIN:VCALENDAR" not in text
        assert (await h.client.get(path)).status == 200  # the real link still works
    finally:
        await _close(h)


async def test_an_invitation_records_its_meeting_and_who_it_was_made_for(sqlite_url, tmp_path):
    clock = FixedClock(local(2026, 1, 5, 8))
    app = build_app(
        Settings(
            database_url=sqlite_url,
            _env_file=None,
            calendar_backend="local",
            invitations_dir=tmp_path / "inv",
        ),
        clock=clock,
    )
    try:
        w = await make_world(app.db)
        lead = w.contact("low_primary.lead")
        booked = await app.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))
        assert booked.invitation_ics and b"UID:" in booked.invitation_ics
        store = FileStore(app.db, public_url="https://bot.example/", clock=clock)
        url = await store.put(
            "TSM invitation (Low Primary).ics", "text/calendar", booked.invitation_ics, actor=lead
        )
        assert url.startswith("https://bot.example/files/") and url.endswith(
            "/TSM-invitation-Low-Primary-.ics"
        )
        async with app.db.reader() as s:
            [row] = list(await s.exec(select(BotFile)))
        assert (row.meeting_id, row.made_for, row.school_id) == (booked.meeting.id, lead.key, lead.school_id)
        with pytest.raises(ValueError):
            await store.put("big.csv", "text/csv", b"x" * (6 * 1024 * 1024))
        async with app.db.reader() as s:
            assert len(list(await s.exec(select(BotFile)))) == 1  # refused: nothing stored
    finally:
        await app.close()
