"""A whole booking with the demo LA, through the real server and adapter, as Teams would drive it; forged invokes
refused with a card and nothing changed; a redelivered confirm books once."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import cardclient as cc
import pytest
from aiohttp.test_utils import TestClient, TestServer
from fakes.connector import invoke, member, message
from sqlmodel import func, select

from tsm.adapters.db.directory import School, SchoolContact
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.bootstrap import build_app
from tsm.clock import FixedClock, local_today
from tsm.demo import load_demo
from tsm.server import build_web_app
from tsm.settings import Settings

LONDON = ZoneInfo("Europe/London")


class Person:
    """One Teams user in a 1:1 chat with the bot."""

    def __init__(self, h, contact: SchoolContact, n: int) -> None:
        self.h = h
        self.contact = contact
        self.kw = dict(conv=f"a:conv-{n}", user_id=f"29:user-{n}", aad=f"aad-{n}", name=contact.name)
        h.connector.members[f"29:user-{n}"] = member(f"29:user-{n}", contact.email, f"aad-{n}", contact.name)

    async def say(self, text: str) -> dict:
        before = len(self.h.connector.sent)
        r = await self.h.client.post("/api/messages", json=message(self.h.connector, text, **self.kw))
        assert r.status == 200
        new = self.h.connector.sent[before:]
        cards = [a["content"] for s in new for a in s.activity.get("attachments") or []]
        assert cards, [s.activity.get("text") for s in new]
        return cards[0]

    async def press(
        self, card: dict, verb: str, values: dict | None = None, where=None, *, id: str | None = None
    ):
        data = cc.action_data(card, verb, values, where)
        return await self.invoke(verb, data, id=id)

    async def invoke(self, verb: str, data: dict, *, id: str | None = None) -> dict:
        r = await self.h.client.post(
            "/api/messages", json=invoke(self.h.connector, verb, data, id=id, **self.kw)
        )
        assert r.status == 200
        body = await r.json()
        assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        return body["value"]


class H:
    def __init__(self, client, app, connector) -> None:
        self.client, self.app, self.connector = client, app, connector


@pytest.fixture
async def demo(sqlite_url, connector, tmp_path):
    # The bot's clock is pinned to a Tuesday in the demo's autumn term: the demo's terms follow it, so the test
    # books the same way whatever the day it runs.
    app = build_app(
        Settings(
            database_url=sqlite_url,
            _env_file=None,
            run_scheduler=False,
            invitations_dir=str(tmp_path / "inv"),
        ),
        clock=FixedClock(datetime(2026, 11, 10, 9, tzinfo=UTC)),
    )
    await load_demo(app.db, today=local_today(app.clock))
    client = TestClient(TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1"))
    await client.start_server()
    yield H(client, app, connector)
    await client.close()
    await app.close()


async def _lead_of_a_bookable_school(h, skip_school: int | None = None) -> SchoolContact:
    """An attendance lead whose school books by itself (the demo has contacted-directly schools too)."""
    async with h.app.db.reader() as s:
        contacts = list(
            await s.exec(
                select(SchoolContact)
                .where(SchoolContact.role == "attendance_lead")
                .order_by(SchoolContact.id)
            )
        )
    for c in contacts:
        if c.school_id == skip_school:
            continue
        p = Person(h, c, 900 + c.id)
        card = await p.say("book")
        if "book.pick_mode" in cc.verbs(card):
            return c
    raise AssertionError("no demo school can book by itself")


async def _meetings(h, school_id: int) -> list[Meeting]:
    async with h.app.db.reader() as s:
        return list(
            await s.exec(
                select(Meeting)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .where(MeetingSchool.school_id == school_id)
            )
        )


async def _book(p: Person, *, confirm_id: str | None = None) -> tuple[dict, dict]:
    card = await p.say("book")
    card = await p.press(card, "book.pick_mode", {"mode": "teams"})
    card = await p.press(card, "book.pick_date")
    card = await p.press(card, "book.pick_time")
    card = await p.press(card, "book.attendees")
    confirm = cc.action_data(card, "book.confirm")
    done = await p.invoke("book.confirm", confirm, id=confirm_id)
    return done, confirm


async def test_whole_booking_through_the_adapter(demo):
    h = demo
    c = await _lead_of_a_bookable_school(h)
    p = Person(h, c, 1)
    h.connector.sent.clear()
    done, _ = await _book(p, confirm_id="f:confirm-1")
    assert "booked" in cc.texts(done).lower() and "meeting.list" in cc.verbs(done)
    [m] = await _meetings(h, c.school_id)
    assert m.status == "booked" and m.mode == "teams"
    # The invitation (.ics, local calendar) came as a download link served by the bot.
    links = [
        a["url"]
        for card in h.connector.cards()
        for a in card.get("actions", [])
        if a["type"] == "Action.OpenUrl"
    ]
    assert len(links) == 1 and links[0].endswith(".ics")
    got = await h.client.get("/" + links[0].split("://", 1)[1].split("/", 1)[1])
    assert got.status == 200 and b"BEGIN:VCALENDAR" in await got.read()
    # The same confirm delivered again: the same card back, still one meeting.
    again = await p.invoke("book.confirm", {}, id="f:confirm-1")
    assert again == done
    assert len(await _meetings(h, c.school_id)) == 1
    # My meetings lists it.
    card = await p.say("my meetings")
    assert "meeting.cancel_start" in cc.verbs(card) or "meeting.move_start" in cc.verbs(card)


async def test_forged_invokes_are_refused_and_change_nothing(demo):
    h = demo
    a = await _lead_of_a_bookable_school(h)
    pa = Person(h, a, 1)
    await _book(pa)
    [meeting] = await _meetings(h, a.school_id)
    b = await _lead_of_a_bookable_school(h, skip_school=a.school_id)
    pb = Person(h, b, 2)

    async def count() -> int:
        async with h.app.db.reader() as s:
            return (await s.exec(select(func.count()).select_from(Meeting))).one()

    before = await count()
    # Another school's meeting id: refused, the meeting untouched.
    for verb, data in (
        ("meeting.cancel", {"meetingId": meeting.id, "reason": "forged"}),
        ("meeting.cancel_start", {"meetingId": meeting.id}),
        ("meeting.move_start", {"meetingId": meeting.id}),
    ):
        card = await pb.invoke(verb, data)
        assert card["body"][0].get("color") == "Attention", cc.texts(card)
        assert "another school's meeting" in cc.texts(card), cc.texts(card)
    assert [m.status for m in await _meetings(h, a.school_id)] == ["booked"]
    # An unknown verb.
    card = await pb.invoke("book.steal", {"meetingId": meeting.id})
    assert "not one I know" in cc.texts(card)
    # Wrong types and missing fields.
    for data in ({"meetingId": "DROP TABLE"}, {"meetingId": [1]}, {}, {"meetingId": True}):
        card = await pb.invoke("meeting.cancel", {**data, "reason": "x"})
        assert card["body"][0].get("color") == "Attention", cc.texts(card)
    # A slot never offered: B walks the flow but confirms a time that was not on its list.
    card = await pb.say("book")
    card = await pb.press(card, "book.pick_mode", {"mode": "teams"})
    card = await pb.press(card, "book.pick_date")
    card = await pb.press(card, "book.pick_time")
    card = await pb.press(card, "book.attendees")
    confirm = cc.action_data(card, "book.confirm")
    forged = {**confirm, "start": "2026-12-25T03:00:00+00:00"}
    card = await pb.invoke("book.confirm", forged)
    assert "not one of the times offered" in cc.texts(card), cc.texts(card)
    card = await pb.invoke("book.confirm", {**confirm, "start": 12345})
    assert card["body"][0].get("color") == "Attention", cc.texts(card)
    # A school id in card data cannot switch schools: B's confirm with A's school books nothing for A.
    card = await pb.invoke("book.confirm", {**confirm, "schoolId": a.school_id, "start": "not a time"})
    assert await count() == before
    assert [m.status for m in await _meetings(h, a.school_id)] == ["booked"]
    assert await _meetings(h, b.school_id) == []
    async with h.app.db.reader() as s:
        assert (await s.get(School, a.school_id)) is not None
