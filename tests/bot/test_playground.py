"""End to end in the Microsoft 365 Agents Playground: the real bot process (``tsm run --demo``) and the pinned
Playground (``tests/browser/package.json``), a whole booking driven through the Playground's own endpoints.

The Playground plays Teams: it mocks the install, sends the bot Teams-shaped activities (no JWT), answers the
roster lookup (``TeamsInfo.get_member``) from ``.m365agentsplayground.yml`` at the project root (the current user
is a Demoshire school contact), and pushes the bot's replies to its web UI over a websocket, which this test
reads. Its test-driver endpoints are internal and unversioned (hence the pinned version), checked against the
installed package's JS: ``GET /_debug/ping``, ``GET /_internal/v1/config``,
``POST /_debug/conversation/{id}/installation``, ``POST /_conversation/v1/conversations/{id}/messages``,
``POST /_conversation/v1/invoke``, and the stream ``/_ws_conversation/v1/conversations/stream``.

Needs node and npm (``npm ci`` into ``tests/browser/node_modules``, downloads cached in ``~/.cache/tsm-e2e-npm``).
Without npm the test is skipped, unless ``CI=true``: then it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cardclient as cc  # noqa: E402  (the same card driver as the transport tests)

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parents[1] / "browser"  # the pinned npm packages (tests/browser/package.json)
CLI = E2E / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CONFIG = ROOT / ".m365agentsplayground.yml"
CHAT = "__PERSONAL_CHAT_ID__"  # the personal chat's id in the Playground's config
ME = "user-id-0"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if CI:
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(f"{reason}; set CI=true to make this a failure")


def _install_playground() -> None:
    _need(shutil.which("npm") is not None and shutil.which("node") is not None, "node/npm not installed")
    lock = E2E / "package-lock.json"
    stamp = E2E / "node_modules" / ".tsm-installed"
    if CLI.exists() and stamp.exists() and stamp.read_text() == lock.read_text():
        return
    cache = Path(os.environ.get("TSM_NPM_CACHE", Path.home() / ".cache" / "tsm-e2e-npm"))
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--cache", str(cache)],
        cwd=E2E,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    stamp.write_text(lock.read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_http(url: str, ok, proc: subprocess.Popen, what: str, limit: float = 45.0) -> None:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited with {proc.returncode}")
            try:
                async with s.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if await ok(r):
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"{what} did not come up within {limit:.0f} s")


def _spawn(cmd: list[str], *, cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    """A child in its own process group (stopped with everything it started), output to ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


class Playground:
    """The test driver: the Playground's endpoints, and the bot's messages as its web UI receives them."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.s = session
        self.messages: list[dict] = []
        self._new = asyncio.Event()

    async def listen(self) -> None:
        ws = await self.s.ws_connect(self.base + "/_ws_conversation/v1/conversations/stream")
        self._task = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            if event.get("action") == "createMessage" and event.get("actionConversationId") == CHAT:
                self.messages.append(event["message"])
                self._new.set()

    async def next_message(self, after: int, limit: float = 15.0) -> dict:
        deadline = time.monotonic() + limit
        while len(self.messages) <= after:
            self._new.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no message from the bot; got {self.messages[-1:]!r}"
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                pass
        return self.messages[after]

    async def install(self) -> None:
        async with self.s.post(f"{self.base}/_debug/conversation/{CHAT}/installation", json={}) as r:
            assert r.status == 200, await r.text()

    async def say(self, text: str) -> dict:
        n = len(self.messages)
        async with self.s.post(
            f"{self.base}/_conversation/v1/conversations/{CHAT}/messages",
            json={"from": {"id": ME}, "text": text, "textFormat": "plain"},
        ) as r:
            assert r.status == 200, await r.text()
        return await self.next_message(n)

    async def press(self, message_id: str, card: dict, verb: str, values=None, where=None) -> dict:
        data = cc.action_data(card, verb, values, where)
        body = {
            "name": "adaptiveCard/action",
            "from": {"id": ME},
            "conversation": {"id": CHAT},
            "replyToId": message_id,
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        }
        async with self.s.post(f"{self.base}/_conversation/v1/invoke", json=body) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
        assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
        return answer["value"]


def _card_of(message: dict) -> dict:
    cards = [
        a["content"]
        for a in message.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]
    assert cards, f"expected a card, got {message.get('text')!r}"
    return cards[0]


@pytest.fixture(scope="module")
def playground_installed():
    _install_playground()


async def test_booking_in_the_agents_playground(playground_installed, tmp_path):
    bot_port, pg_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "TSM_DATABASE_URL": f"sqlite:///{tmp_path}/tsm.db",
        "TSM_PORT": str(bot_port),
        "TSM_HOST": "127.0.0.1",
        "TSM_INVITATIONS_DIR": str(tmp_path / "inv"),
        "TSM_RUN_SCHEDULER": "false",
        "TSM_MICROSOFT_APP_ID": "",
        "TSM_ALLOWED_TENANTS": "[]",
    }
    bot = _spawn([sys.executable, "-m", "tsm", "run", "--demo"], cwd=ROOT, env=env, log=tmp_path / "bot.log")
    pg_dir = tmp_path / "playground"
    pg_dir.mkdir()
    shutil.copy(CONFIG, pg_dir / CONFIG.name)
    pg_env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(tmp_path / "playground.log"),
    }
    pg = None
    try:

        async def healthy(r):
            return r.status == 200 and (await r.json())["database"]["ok"]

        await _wait_http(f"http://127.0.0.1:{bot_port}/healthz", healthy, bot, "the bot")
        pg = _spawn(
            [
                "node",
                str(CLI),
                "-e",
                f"http://127.0.0.1:{bot_port}/api/messages",
                "-c",
                "msteams",
                "-p",
                str(pg_port),
                "--dt",
            ],
            cwd=pg_dir,
            env=pg_env,
            log=tmp_path / "playground.out",
        )

        async def pong(r):
            return r.status == 200 and (await r.text()).strip() == "pong"

        base = f"http://127.0.0.1:{pg_port}"
        await _wait_http(base + "/_debug/ping", pong, pg, "the Playground")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
            async with s.get(base + "/_internal/v1/config") as r:
                config = await r.json()
            assert config["config"]["currentUser"]["email"] == "mohammed.iqbal@demo.example"
            assert config["internalConfig"]["channelId"] == "msteams"
            p = Playground(base, s)
            await p.listen()

            await (
                p.install()
            )  # installationUpdate: the bot stores the reference and greets, by name from the roster
            greeting = await p.next_message(0)
            assert greeting["text"].startswith("Hello Mohammed!"), greeting

            m = await p.say("book")
            card = _card_of(m)
            assert "Ashcombe Primary School" in cc.texts(card)
            card = await p.press(m["messageId"], card, "book.pick_mode", {"mode": "teams"})
            card = await p.press(m["messageId"], card, "book.pick_date")
            card = await p.press(m["messageId"], card, "book.pick_time")
            card = await p.press(m["messageId"], card, "book.attendees")
            n = len(p.messages)
            card = await p.press(m["messageId"], card, "book.confirm")
            assert "TSM booked: Ashcombe Primary School with Alex Carter" in cc.texts(card), cc.texts(card)
            # The invitation (.ics, local calendar) follows as a card with a download link served by the bot.
            ics = _card_of(await p.next_message(n))
            [link] = [a["url"] for a in ics["actions"] if a["type"] == "Action.OpenUrl"]
            async with s.get(link) as r:
                assert r.status == 200 and "BEGIN:VCALENDAR" in await r.text()
            # My meetings shows it.
            card = _card_of(await p.say("my meetings"))
            assert "Alex Carter" in json.dumps(card) and "meeting.cancel_start" in cc.verbs(card), cc.texts(
                card
            )
    except BaseException:
        for log in ("bot.log", "playground.out", "playground.log"):  # shown by pytest on failure
            if (tmp_path / log).exists():
                print(f"---- {log} (tail)\n{(tmp_path / log).read_text(errors='replace')[-3000:]}")
        raise
    finally:
        if pg is not None:
            _stop(pg)
        _stop(bot)
