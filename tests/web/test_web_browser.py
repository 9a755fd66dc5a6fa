"""The web page in a real browser: Debian's chromium (``/usr/bin/chromium``, installed by
``tests/browser/install-chromium.sh``, never a downloaded build) driven by Python Playwright.

1. A school contact with no Teams asks the page for a sign-in link, reads it in the email the product writes
   (the embedded mail default, ``.eml`` files under the mail folder), opens it, books a TSM, sees it in "my
   meetings", moves it and adds a colleague; the officer, who uses Teams, is told of the booking and the move.
2. The officer books for the school in Teams (activities through the real server, as Teams sends them); the
   school's contact accepts from the link in the proposal's email, which opens on the same proposal card.

The server is the product's (``build_web_app``: the router, the Teams bot, the page, the in-process scheduler
whose event sweep delivers by Teams or email), on a free port, with the clock pinned to a Tuesday of the demo's
autumn term. Skipped only when chromium or playwright is missing and CI is unset.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bot"))
import cardclient as cc  # noqa: E402  (the Teams client's card driver, as in the transport tests)
from fakes.connector import member, message  # noqa: E402

from tsm.adapters.db.directory import Officer, School, SchoolContact  # noqa: E402
from tsm.adapters.db.history import DomainEvent  # noqa: E402
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool  # noqa: E402
from tsm.bootstrap import build_app  # noqa: E402
from tsm.chat.app import build_router  # noqa: E402
from tsm.chat.router import Incoming, Who  # noqa: E402
from tsm.clock import FixedClock, local_today  # noqa: E402
from tsm.demo import load_demo  # noqa: E402
from tsm.server import build_web_app  # noqa: E402
from tsm.services.actors import Actor  # noqa: E402
from tsm.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LINK = re.compile(r"https?://[^\s<>\"']+/web/link/[A-Za-z0-9_-]{20,}")


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if CI:
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(f"{reason}; set CI=true to make this a failure")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Live:
    def __init__(self, app, base: str, mail: Path, connector, http: ClientSession) -> None:
        self.app, self.base, self.mail, self.connector, self.http = app, base, mail, connector, http

    async def mails_to(
        self, address: str, *, containing: str = "", within: float = 60.0, count: int = 1
    ) -> list:
        """The emails written to ``address`` (parsed), waiting for the delivery sweep to write ``count`` of them."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = []
            for path in sorted(self.mail.glob("*.eml")):
                msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
                if address.lower() in str(msg.get("To", "")).lower() and containing in _text(msg):
                    found.append(msg)
            if len(found) >= count:
                return found
            assert asyncio.get_running_loop().time() < deadline, (
                f"no email to {address} containing {containing!r} in {self.mail}: {[p.name for p in self.mail.glob('*')]}"
            )
            await asyncio.sleep(0.2)

    async def teams_texts(self, conversation: str, containing: str, within: float = 60.0) -> list[str]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            texts = [
                s.activity.get("text") or ""
                for s in self.connector.snapshot()
                if s.conversation_id == conversation
            ]
            hits = [t for t in texts if containing in t]
            if hits:
                return hits
            assert asyncio.get_running_loop().time() < deadline, (
                f"nothing with {containing!r} sent to {conversation}: {texts}"
            )
            await asyncio.sleep(0.2)


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !e.labels || e.labels.length === 0).map(e => e.name || e.id)"""
SMALL_TARGETS = """() => [...document.querySelectorAll('button, a.button, input[type=radio], input[type=checkbox]')]
    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && Math.min(r.width, r.height) < 24).length"""


async def _accessible(page) -> None:
    """WCAG 2.2 AA basics the page can show by itself: every control labelled, targets at least 24 px, the first Tab
    stop the skip link, and the focused control visibly outlined."""
    assert await page.evaluate(UNLABELLED) == []
    assert await page.evaluate(SMALL_TARGETS) == 0
    await page.locator("body").focus()
    await page.keyboard.press("Tab")
    assert (await page.evaluate("document.activeElement.textContent")).strip() == "Skip to the content"
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline


def _text(msg) -> str:
    out = []
    for part in msg.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            out.append(part.get_content())
    return "\n".join(out)


class Teams:
    """The officer in Teams: activities posted to the real /api/messages, replies read from the fake connector."""

    def __init__(self, live: Live, officer: Officer) -> None:
        self.live = live
        self.conv = f"a:officer-{officer.id}"
        self.kw = dict(
            conv=self.conv,
            user_id=f"29:officer-{officer.id}",
            aad=f"aad-officer-{officer.id}",
            name=officer.name,
        )
        live.connector.members[self.kw["user_id"]] = member(
            self.kw["user_id"], officer.email, self.kw["aad"], officer.name
        )

    async def say(self, text: str) -> dict:
        before = len(self.live.connector.snapshot())
        r = await self.live.http.post(
            f"{self.live.base}/api/messages", json=message(self.live.connector, text, **self.kw)
        )
        assert r.status == 200
        cards = [
            a["content"]
            for s in self.live.connector.snapshot()[before:]
            for a in s.activity.get("attachments") or []
        ]
        return cards[0] if cards else {}

    async def press(self, card: dict, verb: str, values: dict | None = None, where=None) -> dict:
        from fakes.connector import invoke

        data = cc.action_data(card, verb, values, where)
        r = await self.live.http.post(
            f"{self.live.base}/api/messages", json=invoke(self.live.connector, verb, data, **self.kw)
        )
        assert r.status == 200
        body = await r.json()
        return body["value"]


@pytest.fixture
def chromium() -> str:
    _need(os.path.exists(CHROMIUM), f"{CHROMIUM} is not installed (tests/browser/install-chromium.sh)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _need(False, "the playwright package is not installed")
    return CHROMIUM


@pytest.fixture
async def live(chromium, sqlite_url, connector, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    mail = tmp_path / "mail"
    settings = Settings(
        database_url=sqlite_url,
        _env_file=None,
        run_scheduler=True,
        public_url=base,
        invitations_dir=str(tmp_path / "inv"),
        mail_backend="files",
        mail_dir=str(mail),
        delivery="teams_then_email",
    )
    app = build_app(settings, clock=FixedClock(datetime(2026, 11, 10, 9, tzinfo=UTC)))
    await load_demo(app.db, today=local_today(app.clock))
    server = TestServer(build_web_app(app, run_scheduler=True), host="127.0.0.1", port=port)
    await server.start_server()
    async with ClientSession() as http:
        yield Live(app, base, mail, connector, http)
    await server.close()
    await app.close()


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def _meet_on_teams(page) -> None:
    """How to meet: a button per mode, or the modes as a choice and Next (the card has had both forms)."""
    button = page.get_by_role("button", name="On Microsoft Teams (recommended)")
    if await button.count():
        await button.click()
        return
    await page.get_by_label("On Microsoft Teams (recommended)").check()
    # the first card shows the soonest times too ("Choose this time"); this walk goes through the dates
    more = page.get_by_role("button", name="More dates")
    await (more if await more.count() else page.get_by_role("button", name="Next")).click()


def _verb(page, verb: str):
    """The button that sends ``verb`` (its value is the action's JSON), for buttons whose words may change."""
    return page.locator(f'button[name=action][value*=\'"verb":"{verb}"\']').first


async def _bookable_lead(app) -> tuple[SchoolContact, Officer]:
    """An attendance lead of a school that books by itself, and its link officer."""
    router = build_router()
    async with app.db.reader() as s:
        contacts = list(
            await s.exec(
                select(SchoolContact)
                .where(SchoolContact.role == "attendance_lead")
                .order_by(SchoolContact.id)
            )
        )
    for c in contacts:
        actor = Actor("contact", c.id, c.school_id, c.name)

        async def ident(_w, actor=actor):
            return actor

        reply = await router.dispatch(
            Incoming(who=Who(channel_user_id=f"probe:{c.id}"), verb="book.start", data={}),
            identify=ident,
            services=app,
            clock=app.clock,
        )
        if reply.card and "book.pick_mode" in str(reply.card):
            async with app.db.reader() as s:
                school = await s.get(School, c.school_id)
                officer = await s.get(Officer, school.link_officer_id)
            return c, officer
    raise AssertionError("no demo school can book by itself")


async def _meetings(app, school_id: int) -> list[Meeting]:
    async with app.db.reader() as s:
        return list(
            await s.exec(
                select(Meeting)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .where(MeetingSchool.school_id == school_id)
                .order_by(Meeting.id)
            )
        )


async def test_a_contact_without_teams_books_moves_and_adds_a_colleague_from_an_emailed_link(live, browser):
    contact, officer = await _bookable_lead(live.app)
    teams = Teams(live, officer)
    await teams.say("hi")  # the officer uses Teams: the bot knows their conversation

    page = await browser.new_page()
    # The scheduler's invitation to book (no Teams conversation, so by email) carries their sign-in link. On
    # 10 November, ten weeks into the term, it is the chaser: "a new term has started" would be stale (issue 14, item 4).
    [mail] = await live.mails_to(contact.email, containing="has no TSM booked this term yet")
    url = LINK.search(_text(mail)).group(0)
    await page.goto(url)
    await page.get_by_role("button", name="Continue").click()
    # Signed in, on the emailed card itself: its Book a TSM button works as it would in Teams.
    await page.get_by_role("button", name="Book a TSM").first.wait_for()
    await _accessible(page)

    # Book: the same steps as the Teams cards, as forms.
    await page.get_by_role("button", name="Book a TSM").first.click()
    await _meet_on_teams(page)
    await _accessible(page)  # a card with a drop-down, as a form
    await page.get_by_role("button", name="Show times").click()
    await page.get_by_role("button", name="Choose this time").click()
    await _accessible(page)  # the attendees: drop-down and tick boxes
    await page.get_by_role("button", name="Next").click()
    await page.get_by_role("button", name="Book it").click()
    await page.get_by_role("heading", name="Your TSM is booked").wait_for()
    assert await page.get_by_role("link", name=re.compile(r"Download .*\.ics")).count() == 1
    [m] = await _meetings(live.app, contact.school_id)
    assert m.status == "booked"
    await live.teams_texts(teams.conv, "booked its TSM")  # the officer is told in Teams

    # My meetings shows it; move it to another day.
    await page.get_by_role("button", name="My meetings").first.click()
    await page.get_by_role("button", name="Move").wait_for()
    await page.get_by_role("button", name="Move").click()
    date = page.get_by_label("Date")
    await date.select_option(index=1)
    await page.get_by_role("button", name="Show times").click()
    await page.get_by_role("button", name="Choose this time").click()
    await page.get_by_role("button", name="Move it").click()
    await page.get_by_text("moved", exact=False).first.wait_for()
    [moved] = await _meetings(live.app, contact.school_id)
    assert moved.status == "moved" and moved.start != m.start
    await live.teams_texts(teams.conv, "has moved")

    # Add a colleague, who gets the invitation by email.
    await page.get_by_role("button", name="My meetings").first.click()
    await page.get_by_role("button", name="Add a colleague").click()
    await _accessible(page)
    await page.get_by_label("Name").fill("Dana Colleague")
    await page.get_by_label("Work email").fill("dana.colleague@ashcombe.example")
    await _verb(page, "meeting.add_colleague").click()
    await page.get_by_text("Dana Colleague").first.wait_for()
    async with live.app.db.reader() as s:
        emails = set(await s.exec(select(MeetingAttendee.email).where(MeetingAttendee.meeting_id == m.id)))
    assert "dana.colleague@ashcombe.example" in emails
    [invite] = await live.mails_to("dana.colleague@ashcombe.example")
    assert any(p.get_content_type() == "text/calendar" for p in invite.walk())
    await page.close()


async def test_the_officer_books_in_teams_and_the_school_accepts_from_the_emailed_link(live, browser):
    contact, officer = await _bookable_lead(live.app)
    teams = Teams(live, officer)
    card = await teams.say("book for school")
    card = await teams.press(card, "officer.pick_school", {"schoolId": str(contact.school_id)})
    if any("mode" in (a.get("data") or {}) for a in cc.actions(card)):  # a button per mode
        card = await teams.press(card, "book.pick_mode", where=lambda d: d.get("mode") == "teams")
    else:  # the modes as a choice
        card = await teams.press(card, "book.pick_mode", {"mode": "teams"})
    card = await teams.press(card, "book.pick_date")
    card = await teams.press(card, "book.pick_time")
    while "book.confirm" not in cc.verbs(card):
        card = await teams.press(card, "book.attendees")
    card = await teams.press(card, "book.confirm")
    [m] = await _meetings(live.app, contact.school_id)
    assert m.booked_by in (f"officer:{officer.id}", f"admin:{officer.id}")  # Alex Carter is an LA admin too

    # The proposal reaches the school's contact by email, with a link that opens on the same card.
    [mail] = await live.mails_to(contact.email, containing="booked your TSM")
    url = LINK.search(_text(mail)).group(0)
    page = await browser.new_page()
    await page.goto(url)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("heading", name=f"{officer.name} has booked your TSM").wait_for()
    await page.get_by_role("button", name="Accept").click()
    await page.get_by_text("accepted", exact=False).first.wait_for()
    async with live.app.db.reader() as s:
        kinds = list(await s.exec(select(DomainEvent.kind).where(DomainEvent.meeting_id == m.id)))
    assert "accepted" in kinds
    await live.teams_texts(teams.conv, "accepted the TSM")  # the officer is told in Teams
    await page.close()
