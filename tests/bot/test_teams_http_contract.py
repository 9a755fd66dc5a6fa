"""The Teams transport's contract, judged over HTTP only.

These tests post literal Teams activities (``tests/fakes/connector.py``) to ``POST /api/messages`` of the server
the composition root builds (``compose(role="server")`` + ``web_app_for``), and assert only what a channel
sees: the HTTP answers, and what reached the fake Bot Connector at the activity's ``serviceUrl``. They import no
``botbuilder`` (``test_no_sdk_is_imported_here``), use the product's router (not a test router), and set the
directory up through the database, which is no part of the transport. So the same tests judge a second transport
(the Microsoft 365 Agents SDK or the Teams SDK, ``docs/transport.md``) once the composition root can build it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from factories import make_world
from fakes.connector import TENANT, installation_update, invoke, member, message

from tsm.adapters.db.directory import SchoolContact
from tsm.bootstrap import build_app
from tsm.composition import compose
from tsm.server import web_app_for
from tsm.settings import Settings

CARD = "application/vnd.microsoft.card.adaptive"


class Bot:
    """The server under test, reached over HTTP, and the connector it answers through."""

    def __init__(self, client: TestClient, connector, contact_email: str, contact_name: str) -> None:
        self.client, self.connector = client, connector
        self.contact_email, self.contact_name = contact_email, contact_name

    def know(self, user_id: str = "29:user-1", aad: str = "aad-1") -> None:
        """The Teams roster answers for this user with a school contact's email."""
        self.connector.members[user_id] = member(user_id, self.contact_email, aad, self.contact_name)

    async def post(self, activity: dict, **kw):
        return await self.client.post("/api/messages", json=activity, **kw)


async def _start(
    url: str, connector, *, tenants: tuple[tuple[str, str, str], ...] = (), **settings_kw
) -> tuple[Bot, TestClient]:
    """``tenants``: (tenant id, kind, ref) registered first, as ``tsm tenants add`` does (the directory's data)."""
    settings = Settings(database_url=url, _env_file=None, run_scheduler=False, **settings_kw)
    app = build_app(settings)
    world = await make_world(app.db)
    for tenant_id, kind, ref in tenants:
        await app.directory.tenants.add(tenant_id, kind, ref, actor="test")
    async with app.db.reader() as s:
        contact = await s.get(SchoolContact, world.contacts["low_primary.lead"])
    web_app = web_app_for(compose(app=app, role="server", run_scheduler=False), close_app=True)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return Bot(client, connector, contact.email, contact.name), client


@pytest.fixture
async def bot(sqlite_url, connector):
    b, client = await _start(sqlite_url, connector)
    yield b
    await client.close()


def _sent_texts(connector) -> list[str]:
    return [s.activity.get("text") or "" for s in connector.snapshot()]


async def test_a_message_is_answered_in_its_conversation_as_a_reply(bot):
    bot.know()
    act = message(bot.connector, "help", id="f:help-1")
    r = await bot.post(act)
    assert r.status == 200
    [sent] = bot.connector.snapshot()
    assert sent.conversation_id == "a:conv-1" and sent.reply_to == "f:help-1"
    assert sent.activity["type"] == "message"
    assert sent.activity["conversation"]["id"] == "a:conv-1"
    assert sent.activity["recipient"]["id"] == "29:user-1"  # back to the person who wrote
    cards = [a for a in sent.activity.get("attachments") or [] if a["contentType"] == CARD]
    assert sent.activity.get("text") or cards, "the help answer says something"
    assert (
        bot.connector.roster_calls == 1
    )  # the person was identified from the roster, not from what they sent


async def test_someone_the_directory_does_not_know_is_told_whom_to_ask(bot):
    bot.connector.members["29:user-1"] = member(
        "29:user-1", "stranger@elsewhere.example", "aad-x", "Sam Stranger"
    )
    r = await bot.post(message(bot.connector, "book", aad="aad-x", name="Sam Stranger"))
    assert r.status == 200
    [text] = _sent_texts(bot.connector)
    assert "can't find you" in text and "stranger@elsewhere.example" in text


async def test_a_redelivered_activity_is_answered_once(bot):
    bot.know()
    act = message(bot.connector, "help", id="f:again-1")
    assert (await bot.post(act)).status == 200
    assert (await bot.post(act)).status == 200
    assert len(bot.connector.snapshot()) == 1
    # The same id in another conversation is another activity.
    assert (await bot.post(message(bot.connector, "help", id="f:again-1", conv="a:conv-2"))).status == 200
    assert len(bot.connector.snapshot()) == 2


async def test_an_action_execute_invoke_is_answered_in_the_http_reply_with_a_card(bot):
    bot.know()
    act = invoke(bot.connector, "no.such_verb", {}, id="f:inv-1")
    r = await bot.post(act)
    assert r.status == 200
    body = await r.json()
    assert body["statusCode"] == 200 and body["type"] == CARD
    assert body["value"]["type"] == "AdaptiveCard"
    assert "not one I know" in body["value"]["body"][0]["text"]
    assert bot.connector.snapshot() == []  # the card replaces the one pressed: nothing else is sent
    # Pressed twice (a redelivery): the same card, and still nothing sent.
    r2 = await bot.post(act)
    assert r2.status == 200 and await r2.json() == body and bot.connector.snapshot() == []


async def test_installing_the_app_greets_the_person_by_name(bot):
    bot.know()
    r = await bot.post(installation_update(bot.connector, "add"))
    assert r.status == 200
    [text] = _sent_texts(bot.connector)
    first_name = bot.contact_name.split()[0]
    assert text.startswith(f"Hello {first_name}!") and "help" in text


async def test_bad_input_is_4xx_and_reaches_nobody(bot):
    c = bot.client
    cases = [
        (dict(data=b"{not json", headers={"Content-Type": "application/json"}), 400),
        (dict(data=b"[1, 2]", headers={"Content-Type": "application/json"}), 400),
        (dict(json={"text": "no type"}), 400),
        (dict(json={"type": "message", "text": "no conversation"}), 400),
        (dict(data=b"type=message", headers={"Content-Type": "text/plain"}), 415),
    ]
    for kw, status in cases:
        r = await c.post("/api/messages", **kw)
        assert r.status == status, (kw, r.status, await r.text())
    big = message(bot.connector, "x" * (2 * 1024 * 1024))
    assert (await bot.post(big)).status == 413
    assert (await c.get("/api/messages")).status == 405
    assert bot.connector.snapshot() == [] and bot.connector.roster_calls == 0


async def test_with_an_app_id_an_unauthenticated_activity_is_401_and_reaches_nobody(sqlite_url, connector):
    b, client = await _start(
        sqlite_url,
        connector,
        tenants=((TENANT, "la", "926"),),
        microsoft_app_id="00000000-0000-0000-0000-0000000000aa",
        microsoft_app_password="not-used",
        public_url="https://bot.example.org",
    )
    try:
        b.know()
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            # A Teams service URL (with an app id, any other is refused 403 before authentication).
            r = await b.post(message("https://smba.trafficmanager.net/emea/", "help"), headers=headers)
            assert r.status == 401, await r.text()
        assert connector.snapshot() == [] and connector.roster_calls == 0
    finally:
        await client.close()


async def test_a_tenant_not_allowed_is_403_and_reaches_nobody(sqlite_url, connector):
    """Only the tenants registered in the directory (``tsm tenants add``) are served."""
    b, client = await _start(
        sqlite_url, connector, tenants=(("99999999-0000-0000-0000-000000000000", "la", "926"),)
    )
    try:
        b.know()
        r = await b.post(message(connector, "help", tenant=TENANT))
        assert r.status == 403
        assert connector.snapshot() == [] and connector.roster_calls == 0
        # The registered tenant is served, whatever the case of its id.
        r = await b.post(message(connector, "help", tenant="99999999-0000-0000-0000-000000000000".upper()))
        assert r.status == 200 and len(connector.snapshot()) == 1
    finally:
        await client.close()


async def test_healthz_answers_over_http(bot):
    r = await bot.client.get("/healthz")
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True


def test_no_sdk_is_imported_here():
    """The contract is HTTP: neither this module nor what it imports from tests/ names an SDK."""
    here = Path(__file__)
    fakes = here.parents[1] / "fakes" / "connector.py"
    for path in (here, fakes):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [
            n for n in names if n.split(".")[0] in ("botbuilder", "botframework", "microsoft_agents")
        ], path
