"""Metrics (one registry per app), /metrics over HTTP, booking and ledger counters, JSON logs and redaction."""

from __future__ import annotations

import inspect
import io
import json
import logging
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from factories import local, make_world

from scheduler.ledger import Due, Ledger
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.domain.errors import BookingRefused, NotAllowed
from tsm.messaging import Recipient
from tsm.observability import (
    JsonFormatter,
    Metrics,
    RedactingFilter,
    add_metrics_route,
    configure_logging,
    redact,
)
from tsm.settings import Settings


def test_each_app_has_its_own_registry(sqlite_url):
    a = build_app(Settings(_env_file=None, database_url=sqlite_url))
    b = build_app(Settings(_env_file=None, database_url=sqlite_url))
    assert a.metrics is not None and a.metrics.registry is not b.metrics.registry
    a.metrics.bookings.labels("booked").inc()
    assert a.metrics.value("tsm_bookings_total", outcome="booked") == 1
    assert b.metrics.value("tsm_bookings_total", outcome="booked") == 0


async def test_metrics_endpoint_serves_prometheus_text_and_honours_its_token():
    m = Metrics()
    m.turn("message", "ok", 0.01)
    m.graph_throttles.inc()
    web_app = web.Application()
    add_metrics_route(web_app, m, token="t0ken-for-scrapers")
    async with TestClient(TestServer(web_app)) as client:
        refused = await client.get("/metrics")
        assert refused.status == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-scrapers"})
        assert ok.status == 200
        assert ok.headers["Content-Type"].startswith("text/plain")
        body = await ok.text()
    assert 'tsm_turns_total{kind="message",outcome="ok"} 1.0' in body
    assert "tsm_graph_throttles_total 1.0" in body
    assert "tsm_turn_seconds_bucket" in body


async def test_booking_outcomes_are_counted_and_logged_with_ids(sqlite_url, caplog, tmp_path):
    clock = FixedClock(local(2026, 1, 5, 8))
    app = build_app(
        Settings(_env_file=None, database_url=sqlite_url, invitations_dir=tmp_path / "inv"), clock=clock
    )
    try:
        world = await make_world(app.db)
        lead = world.contact("low_primary.lead")
        with caplog.at_level(logging.INFO, logger="tsm.observability"):
            result = await app.booking.book(lead, world.schools["low_primary"], local(2026, 1, 7, 10))
        assert app.metrics.value("tsm_bookings_total", outcome="booked") == 1
        booked = [r for r in caplog.records if r.getMessage() == "meeting booked"]
        assert booked and booked[0].meeting_id == result.meeting.id
        assert booked[0].school_id == world.schools["low_primary"] and booked[0].actor_kind == "contact"

        # Second booking the same term: refused by the one-per-term rule, counted by its reason.
        try:
            await app.booking.book(lead, world.schools["low_primary"], local(2026, 1, 8, 10))
            raise AssertionError("a second TSM in one term was accepted")
        except BookingRefused as refusal:
            code = refusal.code
        assert app.metrics.value("tsm_bookings_total", outcome="refused") == 1
        assert app.metrics.value("tsm_booking_refusals_total", reason=code) == 1

        # Not this contact's meeting to cancel: refused as not allowed (not an unexpected failure).
        try:
            await app.booking.cancel(world.contact("high_primary.lead"), result.meeting.id, "not mine")
            raise AssertionError("another school's contact cancelled the meeting")
        except NotAllowed:
            pass
        assert app.metrics.value("tsm_booking_refusals_total", reason="not_allowed") == 1
        assert app.metrics.value("tsm_bookings_total", outcome="failed") == 0
        await app.booking.move(lead, result.meeting.id, local(2026, 1, 8, 11))
        await app.booking.cancel(lead, result.meeting.id, "Ofsted visit")
        assert app.metrics.value("tsm_bookings_total", outcome="moved") == 1
        assert app.metrics.value("tsm_bookings_total", outcome="cancelled") == 1
    finally:
        await app.close()


async def test_ledger_outcomes_are_counted_by_kind(db):
    m = Metrics()
    ledger = Ledger(db, "w1", observer=m)
    claims = await ledger.claim(
        [
            Due("remind_1d", "meeting", 1, Recipient("contact", 7), "2026-01-07T10:00Z"),
            Due("remind_7d", "meeting", 2, Recipient("contact", 8), "2026-01-14T10:00Z"),
        ]
    )
    assert len(claims) == 2
    await ledger.finish(claims[0], "sent")
    await ledger.retry_later(claims[1], timedelta(seconds=30), "429")
    await ledger.finish(claims[1], "failed", "gave up")
    assert m.value("tsm_reminders_total", kind="remind_1d", outcome="sent") == 1
    assert m.value("tsm_reminders_total", kind="remind_7d", outcome="retry") == 1
    assert m.value("tsm_reminders_total", kind="remind_7d", outcome="failed") == 1
    # Finishing a claim that is no longer ours records nothing and counts nothing.
    assert await ledger.finish(claims[0], "sent") is False
    assert m.value("tsm_reminders_total", kind="remind_1d", outcome="sent") == 1


def _record(msg, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("tsm.test", logging.INFO, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_formatter_writes_one_object_per_line_with_extras():
    line = JsonFormatter().format(
        _record("meeting %s", "booked", meeting_id=12, school_id=3, actor_kind="contact")
    )
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["level"] == "info" and obj["logger"] == "tsm.test" and obj["message"] == "meeting booked"
    assert (obj["meeting_id"], obj["school_id"], obj["actor_kind"]) == (12, 3, "contact")
    assert obj["ts"].endswith("Z")


def test_json_formatter_includes_and_redacts_exceptions():
    try:
        raise RuntimeError("connect failed: postgresql://tsm:hunter2pass@db.internal/tsm")
    except RuntimeError:
        import sys

        rec = logging.LogRecord("tsm.test", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    obj = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError" in obj["exception"]
    assert "hunter2pass" not in obj["exception"] and "tsm:[REDACTED]@db.internal" in obj["exception"]


def test_redaction_of_things_that_look_like_secrets():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"
    cases = {
        f"Authorization: Bearer {jwt}": jwt,
        "auth header Bearer abcdefghijklmnop1234": "abcdefghijklmnop1234",
        f"token in text {jwt} here": jwt,
        "postgresql://tsm:S3cretPw@10.0.0.5:5432/tsm": "S3cretPw",
        "client_secret=Abc~123.xyz&scope=x": "Abc~123.xyz",
        '{"clientState": "s3cret-client-state-0123"}': "s3cret-client-state-0123",
        "TSM_MICROSOFT_APP_PASSWORD=pa55word!": "pa55word!",
    }
    for text, secret in cases.items():
        out = redact(text)
        assert secret not in out, (text, out)
        assert "REDACTED" in out
    # Ordinary log lines are left alone.
    for plain in ("meeting 12 booked for school 3", "GET /healthz 200", "sweep remind_1d sent=4 failed=0"):
        assert redact(plain) == plain


def test_filter_and_configured_handler_never_write_a_token():
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream=stream)
    try:
        logging.getLogger("tsm.anything").warning("calling with header %s", "Bearer sk-live-0123456789abcdef")
        logging.getLogger("tsm.anything").info("meeting moved", extra={"meeting_id": 5})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert "sk-live-0123456789abcdef" not in stream.getvalue()
    assert lines[0]["message"] == "calling with header Bearer [REDACTED]"
    assert lines[1]["meeting_id"] == 5
    # The filter on its own (for handlers another library installs).
    rec = _record("password=%s", "letmein123")
    RedactingFilter().filter(rec)
    assert rec.getMessage() == "password=[REDACTED]"


# ---------------------------------------------------------------------- hooks, not patches

_OWN = ("tsm.", "bot.", "scheduler.", "cards.")


def _patched_methods(root) -> list[str]:
    """Every instance attribute of the project's objects reachable from ``root`` that shadows a method of its class:
    what replacing an instance's method (``obj.book = wrapper``) leaves behind."""
    found, seen, todo = [], set(), [("root", root)]
    while todo:
        path, obj = todo.pop()
        if id(obj) in seen or not type(obj).__module__.startswith(_OWN):
            continue
        seen.add(id(obj))
        try:
            attrs = vars(obj)
        except TypeError:  # __slots__ only
            continue
        for name, value in attrs.items():
            static = inspect.getattr_static(type(obj), name, None)
            if inspect.isfunction(static) or isinstance(static, staticmethod | classmethod):
                found.append(f"{path}.{name}")
            todo.append((f"{path}.{name}", value))
    return found


async def test_no_method_is_replaced_when_the_app_is_composed(sqlite_url, tmp_path):
    """Metrics come from hooks given at construction: every service, the ledger and the bot run their class's own
    methods. Fails if anything wraps an instance's method (as tsm.observability.instrument_* once did)."""
    from scheduler.ledger import Ledger
    from tsm.composition import compose
    from tsm.services.booking import BookingService

    settings = Settings(_env_file=None, database_url=sqlite_url, invitations_dir=tmp_path / "inv")
    server = compose(settings, role="server")
    worker = compose(settings, role="worker", worker_id="w1")
    try:
        for built in (server, worker):
            assert _patched_methods(built) == []
            # the server's embedded sweeps are a worker composition of their own, in their thread (scheduler.thread)
            booking, ledger = built.app.booking, worker.scheduler.ledger
            for name in ("book", "move", "cancel"):
                assert (
                    name not in vars(booking)
                    and getattr(booking, name).__func__ is vars(BookingService)[name]
                )
            for name in ("finish", "retry_later"):
                assert name not in vars(ledger) and getattr(ledger, name).__func__ is vars(Ledger)[name]
            assert booking.observer is built.app.metrics and ledger.observer is worker.app.metrics
        # The check does catch a replaced method.
        original = server.app.booking.book
        server.app.booking.book = lambda *a, **kw: original(*a, **kw)
        [found] = _patched_methods(server)
        assert found.endswith("booking.book")
    finally:
        await worker.close()
        await server.close()


async def test_a_failing_observer_never_changes_a_booking(sqlite_url, tmp_path, caplog):
    class Broken:
        def booking(self, *args, **kwargs):
            raise RuntimeError("observer bug")

    clock = FixedClock(local(2026, 1, 5, 8))
    app = build_app(
        Settings(_env_file=None, database_url=sqlite_url, invitations_dir=tmp_path / "inv"), clock=clock
    )
    try:
        world = await make_world(app.db)
        app.booking.observer = Broken()
        with caplog.at_level(logging.ERROR, logger="tsm.services.observer"):
            result = await app.booking.book(
                world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 1, 7, 10)
            )
        assert result.meeting.status == "booked"
        assert any(r.getMessage() == "booking observer failed on book" for r in caplog.records)
    finally:
        await app.close()
