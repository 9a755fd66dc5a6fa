"""A driver for conversation tests: the demo LA, a fixed clock, the real Router and services, LocalCalendar.

Turns go through ``Router.dispatch`` exactly as the transport calls it; card actions are "pressed" by
reading the button's data off the card and merging the card's input values, as Teams does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cardtree import walk
from sqlalchemy import func
from sqlmodel import select

from tsm.adapters.db.directory import Officer, School, SchoolContact
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.bootstrap import App, build_app
from tsm.chat import Incoming, Reply, Who
from tsm.chat.app import build_router
from tsm.clock import FixedClock
from tsm.demo import load_demo
from tsm.settings import Settings

# Monday 23 November 2026, 09:00 in London (= UTC in winter): autumn term 2026-27 of the demo's example dates.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class Person:
    who: Who
    id: int
    name: str
    email: str


class Chat:
    def __init__(self, app: App, clock: FixedClock) -> None:
        self.app = app
        self.clock = clock
        self.router = build_router()

    async def identify(self, who: Who):
        return await self.app.directory.identify(who.aad_object_id, who.email)

    async def say(self, person: Person, text: str) -> Reply:
        return await self.router.dispatch(
            Incoming(who=person.who, text=text), identify=self.identify, services=self.app, clock=self.clock
        )

    async def act(self, person: Person, verb: str, data: dict[str, Any] | None = None) -> Reply:
        return await self.router.dispatch(
            Incoming(who=person.who, verb=verb, data=dict(data or {}), is_invoke=True),
            identify=self.identify,
            services=self.app,
            clock=self.clock,
        )

    async def press(self, person: Person, reply: Reply, title: str, **inputs: Any) -> Reply:
        """Press the button titled ``title`` (prefix match) on the reply's card, with the card's inputs."""
        a = button(reply.card, title)
        data = dict(a["data"])
        if a.get("associatedInputs", "auto") != "none":
            data.update(input_values(reply.card))
            data.update({k: v for k, v in inputs.items()})
        verb = data.pop("verb")
        return await self.act(person, verb, data)

    # ------------------------------------------------------------------ people and facts

    async def school(self, urn: int) -> School:
        async with self.app.db.reader() as s:
            return (await s.exec(select(School).where(School.urn == urn))).one()

    async def contact(self, urn: int, role: str = "attendance_lead") -> Person:
        async with self.app.db.reader() as s:
            sc = (await s.exec(select(School).where(School.urn == urn))).one()
            c = (
                await s.exec(
                    select(SchoolContact).where(SchoolContact.school_id == sc.id, SchoolContact.role == role)
                )
            ).first()
        return Person(Who(email=c.email, name=c.name, aad_object_id=f"aad-c{c.id}"), c.id, c.name, c.email)

    async def officer_of(self, urn: int) -> Person:
        async with self.app.db.reader() as s:
            sc = (await s.exec(select(School).where(School.urn == urn))).one()
            o = await s.get(Officer, sc.link_officer_id)
        return Person(Who(email=o.email, name=o.name, aad_object_id=f"aad-o{o.id}"), o.id, o.name, o.email)

    async def meetings_of(self, urn: int) -> list[Meeting]:
        async with self.app.db.reader() as s:
            sc = (await s.exec(select(School).where(School.urn == urn))).one()
            return list(
                await s.exec(
                    select(Meeting)
                    .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                    .where(MeetingSchool.school_id == sc.id)
                    .order_by(Meeting.id)
                )
            )

    async def meeting(self, meeting_id: int) -> Meeting:
        async with self.app.db.reader() as s:
            return await s.get(Meeting, meeting_id)

    async def count_meetings(self) -> int:
        async with self.app.db.reader() as s:
            return int((await s.exec(select(func.count()).select_from(Meeting))).one())

    async def snapshot(self) -> list[tuple]:
        """Every meeting's state: a turn that changed nothing leaves this equal."""
        async with self.app.db.reader() as s:
            rows = await s.exec(select(Meeting).order_by(Meeting.id))
            return [(m.id, m.status, m.start, m.end, m.ical_sequence) for m in rows]


async def make_chat(url: str, tmp_path, *, now: datetime = NOW) -> Chat:
    clock = FixedClock(now)
    app = build_app(Settings(database_url=url, invitations_dir=tmp_path / "invitations"), clock=clock)
    await load_demo(app.db, today=date(2026, 11, 23))
    return Chat(app, clock)


# ---------------------------------------------------------------------- reading cards


def actions(card: dict | None) -> list[dict]:
    return [n for n in walk(card or {}) if n.get("type") == "Action.Execute"]


def button(card: dict | None, title: str) -> dict:
    for a in actions(card):
        if a["title"].startswith(title):
            return a
    raise AssertionError(f"no button {title!r} on the card; buttons: {[a['title'] for a in actions(card)]}")


def titles(card: dict | None) -> list[str]:
    return [a["title"] for a in actions(card)]


def inputs(card: dict | None) -> dict[str, dict]:
    return {n["id"]: n for n in walk(card or {}) if str(n.get("type", "")).startswith("Input.")}


def input_values(card: dict | None) -> dict[str, Any]:
    return {k: v.get("value", "") for k, v in inputs(card).items()}


def choices(card: dict | None, input_id: str) -> list[dict]:
    return inputs(card)[input_id]["choices"]


def text_of(reply: Reply) -> str:
    """All words of a reply: its text, the card's text blocks and facts."""
    parts = [reply.text or ""]
    for n in walk(reply.card or {}):
        if n.get("type") == "TextBlock":
            parts.append(n["text"])
        if n.get("type") == "FactSet":
            parts.extend(f"{f['title']}: {f['value']}" for f in n["facts"])
    return "\n".join(parts)


def facts(reply: Reply) -> dict[str, str]:
    out = {}
    for n in walk(reply.card or {}):
        if n.get("type") == "FactSet":
            out.update({f["title"]: f["value"] for f in n["facts"]})
    return out


async def told(chat: Chat) -> list[tuple[Any, Any]]:
    """What the changes since the last call told other people (factories.told)."""
    from factories import told as told_by

    return await told_by(chat.app, chat.clock)
