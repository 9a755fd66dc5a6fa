"""Bot Framework authentication for real: tokens signed by a local OpenID issuer standing in for the Bot Connector's.

With an app id configured the adapter validates the channel's JWT (signature against the issuer's keys, issuer,
audience = our app id, the ``serviceurl`` claim = the activity's serviceUrl, the key endorsed for the channel):
a valid token is served, anything else is 401 and nothing is processed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from botkit import make_harness, production
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.connector import TENANT, member, message
from jwt.algorithms import RSAAlgorithm

import bot.connector as connector_module

APP_ID = "00000000-1111-2222-3333-444444444444"
ISSUER = "https://api.botframework.com"


class Issuer:
    """OpenID metadata and keys on a thread (the SDK fetches them with blocking ``requests``)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="k1", use="sig", endorsements=["msteams"])
        issuer = self
        self.delay = 0.0  # seconds every answer waits (a slow metadata server)
        self.status = 200  # what it answers (500: a failing one)
        self.fetches = 0  # requests it received
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with issuer._lock:
                    issuer.fetches += 1
                time.sleep(issuer.delay)
                if issuer.status != 200:
                    self.send_response(issuer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.startswith("/openid"):
                    body = {
                        "issuer": ISSUER,
                        "jwks_uri": f"{issuer.base}/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                else:
                    body = {"keys": [jwk]}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.metadata_url = f"{self.base}/openid/{uuid.uuid4().hex}"  # the SDK caches metadata per URL
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(
        self,
        service_url: str,
        *,
        aud: str = APP_ID,
        iss: str = ISSUER,
        key=None,
        kid: str = "k1",
        expires_in: int = 3600,
        **extra,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": iss,
            "aud": aud,
            "serviceurl": service_url,
            "nbf": now - 10,
            "exp": now + expires_in,
            **extra,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer():
    i = Issuer()
    yield i
    i.server.shutdown()


async def test_valid_channel_token_is_served_and_forged_ones_are_not(
    sqlite_url, connector, issuer, monkeypatch
):
    async def bot_token(self):  # the bot's own outbound token would come from Entra ID: not on loopback
        return "bot-outbound-token"

    monkeypatch.setattr(connector_module._BearerPolicy, "_get_token", bot_token)
    overrides = {
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": issuer.metadata_url,
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER,
        "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": "https://api.botframework.com",
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": "https://login.microsoftonline.com/botframework.com",
        "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": issuer.metadata_url,
    }
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
        bot_options={"auth_overrides": overrides},
    )
    try:
        # The server fetched the issuer's keys on a worker thread at start-up, before any turn needed them.
        from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

        metadata = JwtTokenExtractor.get_open_id_metadata(issuer.metadata_url)
        for _ in range(100):
            if metadata.keys:
                break
            await asyncio.sleep(0.05)
        assert [k["kid"] for k in metadata.keys] == ["k1"]
        async with h.app.db.reader() as s:
            from tsm.adapters.db.directory import SchoolContact

            c = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
        connector.members["29:user-1"] = member("29:user-1", c.email, "aad-1", c.name)

        def post(token: str, **kw):
            return h.post(message(connector, "ping", **kw), headers={"Authorization": f"Bearer {token}"})

        forged = {
            "signed by another key": issuer.token(connector.url, key=issuer.other),
            "for another bot": issuer.token(connector.url, aud="99999999-0000-0000-0000-000000000000"),
            "from another issuer": issuer.token(connector.url, iss="https://evil.example"),
            "for another serviceUrl": issuer.token("https://smba.evil.example/"),
            "expired": issuer.token(connector.url, expires_in=-3600),
            "unknown key id": issuer.token(connector.url, kid="k2"),
        }
        for why, token in forged.items():
            r = await post(token)
            assert r.status == 401, why
        assert h.counter.calls == {} and connector.sent == []

        r = await post(issuer.token(connector.url))
        assert r.status == 200
        assert h.counter.calls == {"ping": 1}
        [reply] = connector.sent
        assert reply.activity["text"].startswith("pong contact:")
        # Outbound calls (the roster lookup, the reply) carry the bot's own token.
        assert connector.auth_headers and set(connector.auth_headers) == {"Bearer bot-outbound-token"}
    finally:
        await h.client.close()
        await h.app.close()


def _overrides(issuer: Issuer) -> dict:
    return {
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": issuer.metadata_url,
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER,
        "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": "https://api.botframework.com",
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": "https://login.microsoftonline.com/botframework.com",
        "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": issuer.metadata_url + "-emulator",
    }


EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"


async def test_forged_tokens_against_a_slow_metadata_server_never_stall_the_bot(
    sqlite_url, connector, issuer, monkeypatch
):
    """Issue 12 B1: a token naming another issuer made the SDK fetch OpenID metadata with a blocking call in the
    event loop (no timeout), freezing every request. Unknown issuers are refused before any fetch, keys are fetched
    without blocking, and /healthz answers within 100 ms while forged tokens arrive against a slow server."""

    async def bot_token(self):  # the bot's own outbound token would come from Entra ID: not on loopback
        return "bot-outbound-token"

    monkeypatch.setattr(connector_module._BearerPolicy, "_get_token", bot_token)
    issuer.delay = 2.0
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
        bot_options={"auth_overrides": _overrides(issuer)},
    )
    try:
        async with h.app.db.reader() as s:
            from tsm.adapters.db.directory import SchoolContact

            c = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
        connector.members["29:user-1"] = member("29:user-1", c.email, "aad-1", c.name)
        forged = {
            "emulator issuer": issuer.token(connector.url, iss=EMULATOR_ISSUER, appid=APP_ID, ver="1.0"),
            "another issuer": issuer.token(connector.url, iss="https://evil.example/"),
            "a skill token": issuer.token(
                connector.url, ver="2.0", azp="99999999-0000-0000-0000-000000000000"
            ),
            "unknown key id": issuer.token(connector.url, kid="k-unknown"),
            "a real key, while the keys are still on their way": issuer.token(connector.url),
        }
        posts = {
            why: asyncio.ensure_future(
                h.post(message(connector, "ping"), headers={"Authorization": f"Bearer {t}"})
            )
            for why, t in forged.items()
        }
        worst = 0.0
        for _ in range(25):
            started = time.perf_counter()
            r = await h.client.get("/healthz")
            worst = max(worst, time.perf_counter() - started)
            assert r.status == 200
            await asyncio.sleep(0.04)
        assert worst < 0.1, f"/healthz took {worst * 1000:.0f} ms while forged tokens were checked"
        answers = {why: await p for why, p in posts.items()}
        for why in ("emulator issuer", "another issuer", "a skill token"):
            assert answers[why].status == 401, why
        body = await answers["emulator issuer"].json()
        assert "Emulator" in body["error"]
        assert answers["unknown key id"].status == 401
        # The genuine token waited for the one fetch under way (without holding anyone else up), then was served.
        assert answers["a real key, while the keys are still on their way"].status == 200
        assert h.counter.calls == {"ping": 1}
        assert (
            issuer.fetches == 2
        )  # one metadata + one key-set fetch, shared by the start-up refresh and the tokens
    finally:
        await h.client.close()
        await h.app.close()


async def test_a_failing_key_fetch_is_not_retried_on_every_request(sqlite_url, connector, issuer):
    issuer.status = 500
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
        bot_options={"auth_overrides": _overrides(issuer)},
    )
    try:
        for _ in range(50):  # the start-up fetch fails
            if h.runtime.adapter.gate.keys._failed_at is not None:
                break
            await asyncio.sleep(0.02)
        before = issuer.fetches
        answers = []
        for _ in range(10):
            r = await h.post(
                message(connector, "ping"), headers={"Authorization": f"Bearer {issuer.token(connector.url)}"}
            )
            answers.append((r.status, (await r.json())["error"]))
        assert {a for a, _ in answers} == {503}
        assert "try again" in answers[0][1]
        assert issuer.fetches == before  # the failure is remembered: no fetch per request
        assert h.counter.calls == {}
    finally:
        await h.client.close()
        await h.app.close()


async def test_an_emulator_token_answers_401_with_a_sentence_not_500(
    sqlite_url, connector, issuer, monkeypatch
):
    """Issue 12 B10: a token from the emulator's issuer, signed by keys the emulator metadata publishes, used to
    authenticate and then fail in the turn with a 500 (``Invalid app_id``)."""

    async def bot_token(self):
        return "bot-outbound-token"

    monkeypatch.setattr(connector_module._BearerPolicy, "_get_token", bot_token)
    overrides = {**_overrides(issuer), "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": issuer.metadata_url}
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id=APP_ID,
        microsoft_app_password="secret",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
        bot_options={"auth_overrides": overrides},
    )
    try:
        token = issuer.token(connector.url, iss=EMULATOR_ISSUER, aud=APP_ID, appid=APP_ID, ver="1.0")
        r = await h.post(message(connector, "ping"), headers={"Authorization": f"Bearer {token}"})
        assert r.status in (401, 403)
        assert "Emulator" in (await r.json())["error"]
        assert h.counter.calls == {} and connector.sent == []
    finally:
        await h.client.close()
        await h.app.close()
