"""Faults in what Teams delivers: duplicate and out-of-order activities, through the real server and the real
booking conversation (the transport's own tests cover a redelivered activity with a test router).

- a double click (two activities) on "Book it" books once; the second press is told it is already booked;
- a redelivery (same activity id) of the confirmation gets the same card back and books nothing more;
- a stale card pressed after the booking (an older time, the attendee step again) books nothing;
- a move arriving after a cancellation of the same meeting is refused in words; nothing changes;
- a card action from a conversation the bot has never seen (the install event lost or late) still works.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta

import httpx
import pytest
from card_walker import card_text, invoke_card, next_step, reply_cards
from fakes.connector import FakeConnector, ThreadServer, invoke, message
from sqlalchemy import func
from sqlmodel import select

from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.bootstrap import build_app
from tsm.demo import load_demo
from tsm.settings import Settings

_ids = itertools.count(1)


@pytest.fixture
def served(tmp_path):
    from tsm.adapters.db.migrate import upgrade
    from tsm.server import build_web_app

    url = f"sqlite:///{tmp_path}/tsm.db"
    upgrade(url)
    threads = ThreadServer()
    connector = FakeConnector()
    connector.url = threads.serve(connector.app()) + "/"
    app = build_app(
        Settings(_env_file=None, database_url=url, run_scheduler=False, invitations_dir=tmp_path / "inv")
    )

    async def setup() -> int:
        await load_demo(app.db, today=date.today())
        async with app.db.transaction() as s:
            c = (await s.exec(select(SchoolContact).order_by(SchoolContact.id))).first()
            c.teams_aad_id = "aad-lead"
            s.add(c)
            return c.school_id

    school_id = threads.run(setup())
    base = threads.serve(build_web_app(app, run_scheduler=False))
    yield base, connector, app, threads, school_id
    try:
        threads.run(app.close())
    finally:
        threads.close()


class Person:
    def __init__(
        self, base: str, connector: FakeConnector, http: httpx.AsyncClient, conv: str = "a:lead"
    ) -> None:
        self.base, self.connector, self.http, self.conv = base, connector, http, conv

    def _who(self) -> dict:
        return {"conv": self.conv, "user_id": "29:lead", "aad": "aad-lead"}

    async def say(self, text: str) -> dict | None:
        before = len(self.connector.snapshot())
        r = await self.http.post(
            self.base + "/api/messages", json=message(self.connector.url, text, **self._who())
        )
        assert r.status_code == 200
        cards = reply_cards(
            [s.activity for s in self.connector.snapshot()[before:] if s.conversation_id == self.conv]
        )
        return cards[-1] if cards else None

    async def press(self, verb: str, data: dict, activity_id: str | None = None) -> tuple[int, dict | None]:
        act = invoke(self.connector.url, verb, data, **self._who())
        act["id"] = activity_id or f"press-{next(_ids)}"
        r = await self.http.post(self.base + "/api/messages", json=act)
        return r.status_code, (invoke_card(r.json()) if r.status_code == 200 else None)


async def _meetings(app, threads, school_id) -> list[Meeting]:
    async def q():
        async with app.db.reader() as s:
            return list(
                await s.exec(
                    select(Meeting)
                    .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                    .where(MeetingSchool.school_id == school_id)
                )
            )

    return threads.run(q())


async def _walk_to_confirm(p: Person) -> list[tuple[str, dict, dict]]:
    """Press through the booking cards up to (not including) "Book it"; returns every (verb, data, card) seen."""
    card = await p.say("book")
    seen = []
    for _ in range(8):
        verb, data = next_step(card)
        seen.append((verb, data, card))
        if verb == "book.confirm":
            return seen
        status, card = await p.press(verb, data)
        assert status == 200 and card is not None
    raise AssertionError("never reached the confirmation card")


async def test_double_click_redelivery_and_stale_cards_book_once(served):
    base, connector, app, threads, school_id = served
    async with httpx.AsyncClient(timeout=30) as http:
        p = Person(base, connector, http)
        steps = await _walk_to_confirm(p)
        verb, data, _ = steps[-1]
        first_status, first = await p.press(verb, data, activity_id="confirm-1")
        assert first_status == 200 and "is booked" in card_text(first)
        # Double click: a second activity with the same button data.
        status, second = await p.press(verb, data, activity_id="confirm-2")
        assert status == 200 and "is booked" not in card_text(second)
        assert any(w in card_text(second).lower() for w in ("already", "booked this term", "has the")), (
            card_text(second)
        )
        # Redelivery of the first press: the same card back, nothing more booked.
        status, again = await p.press(verb, data, activity_id="confirm-1")
        assert status == 200 and json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
        # Stale cards pressed after the booking, in any order: nothing is booked.
        for old_verb, old_data, _ in reversed(steps[:-1]):
            status, card = await p.press(old_verb, old_data)
            assert status == 200
        meetings = await _meetings(app, threads, school_id)
        assert len(meetings) == 1 and meetings[0].status == "booked"
        # A stale "Book it" for another time the times card offered: already booked this term, refused.
        later = (datetime.fromisoformat(data["start"]) + timedelta(hours=1)).isoformat()
        status, card = await p.press("book.confirm", {**data, "start": later})
        assert status == 200 and "is booked" not in card_text(card)
        assert len(await _meetings(app, threads, school_id)) == 1


async def test_move_after_cancel_is_refused_and_unknown_conversation_works(served):
    base, connector, app, threads, school_id = served
    async with httpx.AsyncClient(timeout=30) as http:
        p = Person(base, connector, http)
        steps = await _walk_to_confirm(p)
        verb, data, _ = steps[-1]
        status, card = await p.press(verb, data)
        assert "is booked" in card_text(card)
        meeting = (await _meetings(app, threads, school_id))[0]
        status, card = await p.press("meeting.cancel", {"meetingId": meeting.id, "reason": "Ofsted visit"})
        assert status == 200
        assert (await _meetings(app, threads, school_id))[0].status == "cancelled"
        # The move card's button, pressed after the cancellation (delivered late, or from an older card).
        status, card = await p.press("meeting.move", {"meetingId": meeting.id, "start": data["start"]})
        assert status == 200 and "cancelled" in card_text(card).lower(), card_text(card)
        after = await _meetings(app, threads, school_id)
        assert [(m.id, m.status, m.start) for m in after] == [(meeting.id, "cancelled", meeting.start)]

        # A conversation the bot has never seen (install event lost): a card action still gets an answer.
        stranger_conv = Person(base, connector, http, conv="a:never-installed")
        status, card = await stranger_conv.press("meeting.list", {})
        assert status == 200 and card is not None

        async def count():
            async with app.db.reader() as s:
                return (await s.exec(select(func.count()).select_from(Meeting))).one()

        assert threads.run(count()) == 1
