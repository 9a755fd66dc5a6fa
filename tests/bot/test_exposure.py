"""What the bot refuses to expose (issue 12 B2, B10): the no-auth mode on a public address, replies to a serviceUrl
that is not Teams' (SSRF), and download links that follow whatever Host header a request carries."""

from __future__ import annotations

import pytest
from botkit import make_harness, production
from click.testing import CliRunner
from fakes.connector import TENANT, invoke, member, message
from sqlalchemy import update
from sqlmodel import select

from bot.service_urls import ServiceUrls
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.teams import BotConversation
from tsm.cli import cli
from tsm.messaging import Message, Recipient, SendStatus
from tsm.server import StartupRefused, check_settings
from tsm.settings import Settings

APP_ID = "00000000-1111-2222-3333-444444444444"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.11", "::", "tsm.la.gov.uk"])
def test_no_app_id_on_a_public_address_does_not_start(host):
    with pytest.raises(
        StartupRefused, match="not a loopback address.*TSM_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS"
    ):
        check_settings(Settings(_env_file=None, host=host))
    check_settings(
        Settings(_env_file=None, host=host, insecure_no_auth_on_public_address=True)
    )  # the loud override


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_no_app_id_on_loopback_starts(host):
    check_settings(Settings(_env_file=None, host=host))


def test_tsm_run_refuses_the_public_no_auth_mode_with_a_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSM_HOST", "0.0.0.0")
    monkeypatch.setenv("TSM_PORT", "0")
    monkeypatch.delenv("TSM_MICROSOFT_APP_ID", raising=False)
    result = CliRunner().invoke(
        cli, ["--database-url", f"sqlite:///{tmp_path}/t.db", "run"], obj={}, catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "TSM_HOST=0.0.0.0 is not a loopback address" in result.output


def test_an_app_id_needs_an_https_public_url():
    with pytest.raises(StartupRefused, match="TSM_PUBLIC_URL is empty"):
        check_settings(Settings(_env_file=None, microsoft_app_id=APP_ID))
    with pytest.raises(StartupRefused, match="must be an https:// address"):
        check_settings(Settings(_env_file=None, microsoft_app_id=APP_ID, public_url="http://tsm.la.gov.uk"))
    check_settings(Settings(_env_file=None, microsoft_app_id=APP_ID, public_url="https://tsm.la.gov.uk"))


def test_only_teams_service_urls_are_allowed():
    urls = ServiceUrls(Settings(_env_file=None).teams_service_urls, loopback=False)
    for ok in (
        "https://smba.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/uk/",
        "https://SMBA.trafficmanager.net/amer/",
    ):
        assert urls.allows(ok), ok
    for bad in (
        "https://smba.trafficmanager.net.evil.example/",
        "http://smba.trafficmanager.net/emea/",
        "https://evil.example/?u=https://smba.trafficmanager.net/",
        "https://user@smba.trafficmanager.net/",
        "https://smba.trafficmanager.net:8443/emea/",
        "http://127.0.0.1:3978/",
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "",
        None,
        12,
        ["https://smba.trafficmanager.net/"],
    ):
        assert not urls.allows(bad), bad
    local = ServiceUrls([], loopback=True)  # the local no-auth mode: loopback only (Playground, tests)
    assert local.allows("http://127.0.0.1:56150/") and local.allows("http://localhost:56150/")
    assert local.allows("http://[::1]:9/") and not local.allows("http://10.0.0.5:56150/")


async def _know_user(h):
    async with h.app.db.reader() as s:
        c = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
    h.connector.members["29:user-1"] = member("29:user-1", c.email, "aad-1", c.name)


async def test_an_activity_naming_another_serviceurl_is_refused_and_nothing_is_sent(harness, connector):
    await _know_user(harness)
    for url in ("http://10.255.255.1:9/", "https://smba.evil.example/", "http://169.254.169.254/latest/"):
        r = await harness.post(message(url, "ping"))
        assert r.status == 403, url
        assert "serviceUrl is not a Teams service URL" in (await r.json())["error"]
    assert harness.counter.calls == {} and connector.attempts.total() == 0 and connector.roster_calls == 0
    r = await harness.post(message(connector, "ping"))  # the fake connector on loopback: the local mode's
    assert r.status == 200 and harness.counter.calls == {"ping": 1}


async def test_with_an_app_id_a_foreign_serviceurl_is_refused_before_the_token(sqlite_url, connector):
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="x",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
    )
    try:
        r = await h.post(message("http://127.0.0.2:9/", "ping"), headers={"Authorization": "Bearer x.y.z"})
        assert r.status == 403 and h.counter.calls == {}
    finally:
        await h.client.close()
        await h.app.close()


async def test_download_links_never_follow_the_host_header(sqlite_url, connector):
    for settings, origin in (
        ({}, "http://127.0.0.1:3978"),
        ({"public_url": "https://tsm.example/"}, "https://tsm.example"),
    ):
        h = await make_harness(sqlite_url, connector, world=not settings, **settings)
        try:
            if not settings:
                await _know_user(h)
            connector.sent.clear()
            r = await h.client.post(
                "/api/messages", json=invoke(connector, "test.file", {}), headers={"Host": "evil.example"}
            )
            assert r.status == 200
            [card] = connector.cards()
            url = card["actions"][0]["url"]
            assert url.startswith(f"{origin}/files/") and "evil.example" not in url
        finally:
            await h.client.close()
            await h.app.close()


async def test_a_stored_conversation_with_a_foreign_serviceurl_is_never_written_to(harness, connector):
    """A conversation kept before the allow-list existed (anyone could name any serviceUrl then) is not used."""
    await _know_user(harness)
    assert (await harness.post(message(connector, "ping"))).status == 200
    contact = Recipient("contact", harness.world.contacts["low_primary.lead"])
    assert (await harness.runtime.messenger.send(contact, Message(text="hello"))).status is SendStatus.SENT
    sent = connector.attempts.total()
    async with harness.app.db.transaction() as s:
        conv = (
            await s.exec(select(BotConversation).where(BotConversation.conversation_type == "personal"))
        ).first()
        ref = {**conv.reference, "serviceUrl": "http://169.254.169.254/latest/"}
        await s.exec(
            update(BotConversation)
            .where(BotConversation.id == conv.id)
            .values(service_url="http://169.254.169.254/latest/", reference=ref)
        )
    result = await harness.runtime.messenger.send(contact, Message(text="hello again"))
    assert result.status is SendStatus.NO_CONVERSATION and "not a Teams service URL" in result.detail
    assert connector.attempts.total() == sent
