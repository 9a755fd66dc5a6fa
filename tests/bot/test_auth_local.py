"""The local no-auth mode (no app id) ignores an Authorization header; with an app id the header is checked.

Local tools (the Agents Playground, the Bot Framework Emulator, curl scripts) often send some
``Authorization: Bearer ...`` even when the bot runs without an app id. There is nothing to check it against,
so the turn is served as in the no-auth mode; with an app id configured the same headers are refused.
"""

from __future__ import annotations

import jwt
from botkit import make_harness, production
from fakes.connector import TENANT, member, message

from tsm.adapters.db.directory import SchoolContact

APP_ID = "00000000-1111-2222-3333-444444444444"
HEADERS = {
    "a bearer token nobody signed": "Bearer not-a-jwt",
    "a well-formed but unsigned JWT": "Bearer " + jwt.encode({"aud": "x"}, "k" * 32, algorithm="HS256"),
    "basic auth": "Basic dXNlcjpwYXNz",
    "an empty bearer": "Bearer ",
}


async def _know_user(h):
    async with h.app.db.reader() as s:
        c = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
    h.connector.members["29:user-1"] = member("29:user-1", c.email, "aad-1", c.name)
    return c


async def test_no_auth_mode_ignores_an_authorization_header(sqlite_url, connector):
    h = await make_harness(sqlite_url, connector)
    try:
        c = await _know_user(h)
        assert h.runtime.adapter.auth_enabled is False
        for why, header in HEADERS.items():
            connector.sent.clear()
            r = await h.post(message(connector, "ping"), headers={"Authorization": header})
            assert r.status == 200, why
            assert connector.texts() == [f"pong contact:{c.id} tz=Europe/London"], why
        assert h.counter.calls == {"ping": len(HEADERS)}
        r = await h.post(message(connector, "ping"))  # and, as before, no header at all
        assert r.status == 200 and h.counter.calls == {"ping": len(HEADERS) + 1}
    finally:
        await h.client.close()
        await h.app.close()


async def test_with_an_app_id_the_same_headers_and_no_header_are_refused(sqlite_url, connector):
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
    )
    try:
        await _know_user(h)
        assert h.runtime.adapter.auth_enabled is True
        for why, header in HEADERS.items():
            r = await h.post(message(connector, "ping"), headers={"Authorization": header})
            assert r.status == 401, why
        r = await h.post(message(connector, "ping"))
        assert r.status == 401
        assert h.counter.calls == {} and connector.sent == []
    finally:
        await h.client.close()
        await h.app.close()
