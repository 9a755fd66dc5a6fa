"""What the running server writes to its logs (JSON lines, at DEBUG): ids and outcomes, never message bodies, card
data, pupil details or secrets. A whole booking goes through the real server; its log lines carry the meeting and
school ids."""

from __future__ import annotations

import io
import json
import logging
from datetime import date

import httpx
from card_walker import card_text, invoke_card, next_step, reply_cards
from fakes.connector import FakeConnector, ThreadServer, invoke, message
from sqlmodel import select

from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.migrate import upgrade
from tsm.bootstrap import build_app
from tsm.demo import load_demo
from tsm.observability import configure_logging
from tsm.settings import Settings

MARKERS = ("Zebedee Quill-Pupilname", "A123456789012", "note: referred to CAMHS on 3 March")
SECRETS = ("pw-Hunter2-Secret", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJl")


async def test_logs_carry_ids_and_never_bodies_or_secrets(tmp_path):
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream=stream)
    url = f"sqlite:///{tmp_path}/tsm.db"
    upgrade(url)
    threads = ThreadServer()
    connector = FakeConnector()
    connector.url = threads.serve(connector.app()) + "/"
    settings = Settings(
        _env_file=None,
        database_url=url,
        run_scheduler=False,
        invitations_dir=tmp_path / "inv",
        graph_client_secret=SECRETS[0],
        metrics_token=SECRETS[0],
    )
    app = build_app(settings)
    try:

        async def setup() -> None:
            await load_demo(app.db, today=date.today())
            async with app.db.transaction() as s:
                c = (await s.exec(select(SchoolContact).order_by(SchoolContact.id))).first()
                c.teams_aad_id = "aad-lead"
                s.add(c)

        threads.run(setup())
        from tsm.server import build_web_app

        base = threads.serve(build_web_app(app, run_scheduler=False))
        who = {"conv": "a:lead", "user_id": "29:lead", "aad": "aad-lead"}
        async with httpx.AsyncClient(timeout=30, base_url=base) as http:
            # Free text full of things that must never be logged, from a known user and from a stranger.
            for text, w in (
                (f"{MARKERS[0]} {MARKERS[1]} {MARKERS[2]}", who),
                (MARKERS[0], {"conv": "a:x", "user_id": "29:x", "aad": "aad-x"}),
            ):
                r = await http.post("/api/messages", json=message(connector.url, text, **w))
                assert r.status_code == 200
            # Card data with the same, on a real verb and on an unknown one.
            for verb in ("meeting.cancel", "no.such_verb"):
                r = await http.post(
                    "/api/messages",
                    json=invoke(
                        connector.url,
                        verb,
                        {"meetingId": 999999, "reason": MARKERS[2], "name": MARKERS[0]},
                        **who,
                    ),
                )
                assert r.status_code == 200
            # A token in a header (no auth configured here: it is simply ignored) and a bad /metrics token.
            await http.post(
                "/api/messages",
                json=message(connector.url, "help", **who),
                headers={"Authorization": f"Bearer {SECRETS[1]}"},
            )
            assert (
                await http.get("/metrics", headers={"Authorization": f"Bearer {SECRETS[1]}"})
            ).status_code == 401
            # A whole booking: its log lines carry ids.
            before = len(connector.snapshot())
            await http.post("/api/messages", json=message(connector.url, "book", **who))
            card = reply_cards([s.activity for s in connector.snapshot()[before:]])[-1]
            for _ in range(8):
                verb, data = next_step(card)
                r = await http.post("/api/messages", json=invoke(connector.url, verb, data, **who))
                card = invoke_card(r.json())
                if verb == "book.confirm":
                    break
            assert "is booked" in card_text(card)

            # Free text that is stored and sent on (a cancellation reason) is still never logged.
            async def meeting_id() -> int:
                from tsm.adapters.db.meetings import Meeting

                async with app.db.reader() as s:
                    return (await s.exec(select(Meeting.id))).one()

            mid = threads.run(meeting_id())
            r = await http.post(
                "/api/messages",
                json=invoke(connector.url, "meeting.cancel", {"meetingId": mid, "reason": MARKERS[2]}, **who),
            )
            assert "cancelled" in card_text(invoke_card(r.json())).lower()
    finally:
        try:
            threads.run(app.close())
        finally:
            threads.close()
            logging.getLogger().removeHandler(handler)

    out = stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    for marker in (*MARKERS, *SECRETS):
        assert marker not in out, f"{marker!r} reached the logs"
    booked = [x for x in lines if x["message"] == "meeting booked"]
    assert (
        len(booked) == 1
        and isinstance(booked[0]["meeting_id"], int)
        and isinstance(booked[0]["school_id"], int)
    )
    assert booked[0]["actor_kind"] == "contact"
    assert all({"ts", "level", "logger", "message"} <= set(x) for x in lines)
