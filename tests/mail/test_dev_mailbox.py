"""The local mailbox page (``/dev/mail``, local mode only): the ``.eml`` files listed and shown, the text's links
clickable, an invitation downloadable, every piece escaped; answered to the machine itself only."""

from __future__ import annotations

import re
from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from factories import local

from tsm.adapters.mail import build_mailer
from tsm.mailing import Addressee, compose_email, render
from tsm.messaging import Message
from tsm.settings import Settings
from tsm.web.dev_mail import DevMailbox, _loopback, dev_mail_enabled


async def serve(folder) -> TestClient:
    app = web.Application()
    app.add_routes(DevMailbox(folder).routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_the_page_lists_the_emails_and_shows_one_with_its_link_clickable(mw):
    await mw.app.booking.book(mw.world.officer("ann"), mw.world.schools["low_primary"], local(2026, 2, 3, 10))
    await mw.jobs.events()  # the proposal to the school's staff (with their sign-in link) and the invitations
    client = await serve(mw.folder)
    try:
        index = await client.get("/dev/mail")
        assert index.status == 200 and "default-src 'none'" in index.headers["Content-Security-Policy"]
        page = await index.text()
        names = re.findall(r'href="/dev/mail/([^"/]+)"', page)
        assert len(names) == len(mw.mail()) >= 4
        assert "Ann Officer booked your TSM" in page and "head@100001.sch.example" in page
        proposal = next(n for n in names if "booked your TSM" in page.split(f'/dev/mail/{n}"')[1][:200])
        shown = await (await client.get(f"/dev/mail/{proposal}")).text()
        link = re.search(r'<a href="(https://tsm\.la\.example/web/signin\?t=[^"]+)">', shown)
        assert link is not None  # the sign-in link, clickable
        assert "Dear Head of Low Primary School" in shown or "Dear Lead of Low Primary School" in shown
        html_part = await client.get(f"/dev/mail/{proposal}/html")
        assert html_part.status == 200 and html_part.headers["Content-Security-Policy"].startswith("sandbox")
        invitation = next(n for n in names if "Invitation: " in page.split(f'/dev/mail/{n}"')[1][:200])
        shown = await (await client.get(f"/dev/mail/{invitation}")).text()
        assert "invite.ics" in shown
        ics = await client.get(f"/dev/mail/{invitation}/0")
        assert ics.headers["Content-Type"].startswith("text/calendar")
        assert b"METHOD:REQUEST" in await ics.read()
        for bad in ("/dev/mail/../../etc/passwd", "/dev/mail/nothing.eml", f"/dev/mail/{invitation}/9"):
            assert (await client.get(bad)).status == 404
    finally:
        await client.close()


async def test_every_piece_of_an_email_is_escaped_on_the_page(tmp_path):
    mailer = build_mailer(Settings(_env_file=None, mail_dir=tmp_path / "mail"))
    who = Addressee("<script>alert(1)</script>", "x@y.example", "Because.", "", "")
    rendered = render(Message("Hello <img src=x onerror=alert(1)> https://a.example/?q=<b>"), who, None)
    await mailer.send(compose_email(rendered, who, sender="tsm@la.example"))
    client = await serve(tmp_path / "mail")
    try:
        page = await (await client.get("/dev/mail")).text()
        assert "<script>" not in page and "<img" not in page
        [name] = re.findall(r'href="/dev/mail/([^"/]+)"', page)
        shown = await (await client.get(f"/dev/mail/{name}")).text()
        assert "<script>" not in shown and "<img" not in shown and "&lt;img src=x" in shown
        assert '<a href="https://a.example/?q=">' in shown  # a link stops where markup would start
    finally:
        await client.close()


async def test_an_empty_mailbox_says_how_to_fill_it(tmp_path):
    client = await serve(tmp_path / "none")
    try:
        assert "No email yet" in await (await client.get("/dev/mail")).text()
    finally:
        await client.close()


def test_only_in_local_mode_with_the_files_backend_and_only_to_this_machine():
    assert dev_mail_enabled(Settings(_env_file=None))
    assert not dev_mail_enabled(
        Settings(_env_file=None, microsoft_app_id="00000000-0000-0000-0000-000000000001")
    )
    assert not dev_mail_enabled(Settings(_env_file=None, mail_backend="smtp"))
    assert _loopback(SimpleNamespace(remote="127.0.0.1")) and _loopback(SimpleNamespace(remote="::1"))
    assert not _loopback(SimpleNamespace(remote="192.0.2.10")) and not _loopback(SimpleNamespace(remote=None))


async def test_the_bot_serves_the_mailbox_in_local_mode(sqlite_url, tmp_path):
    from tsm.bootstrap import build_app
    from tsm.server import build_web_app

    (tmp_path / "mail").mkdir()
    app = build_app(Settings(_env_file=None, database_url=sqlite_url, mail_dir=tmp_path / "mail"))
    client = TestClient(TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1"))
    await client.start_server()
    try:
        assert (await client.get("/dev/mail")).status == 200
    finally:
        await client.close()
        await app.close()
