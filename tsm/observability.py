"""Observability: Prometheus metrics, structured JSON logs, and a filter that keeps secrets out of logs.

- :class:`Metrics` owns its own ``CollectorRegistry``: one per application built by the composition root,
  never a module-global made at import time, so two apps in one process (tests, a bot and a worker) never
  share or double-register series. ``GET /metrics`` serves it (:func:`metrics_handler`).
- Counters are fed by hooks the composition root gives each piece at construction, never by replacing methods:
  every chat turn (``Router.dispatch``), the booking service's book/move/cancel (``BookingService(observer=)``:
  :meth:`Metrics.booking`), the scheduler ledger's outcomes (``Ledger(observer=)``: :meth:`Metrics.outbound`),
  and every HTTP attempt to Microsoft Graph, the SDK's own retries included, from a middleware of the Graph
  client's own pipeline (``make_graph_client(observer=)``: :meth:`Metrics.graph_request`), so a 429 answered and
  retried is still counted. The recorders also write the log lines (ids and outcomes, never message text).
- :class:`JsonFormatter` writes one JSON object per line with the level, logger, message and the record's
  extras (``meeting_id``, ``school_id``, ``actor_kind``...). :class:`RedactingFilter` (and the formatter
  itself) blank anything that looks like a bearer token, a JWT, a password in a URL or a ``secret=...``
  pair. Message bodies are never logged anywhere in the product: log ids and outcomes, not text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from .domain.errors import BookingRefused, TsmError

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------- metrics


class Metrics:
    """The product's Prometheus series, registered in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turns = Counter(
            "tsm_turns",
            "Chat turns handled, by kind (message|action) and outcome "
            "(ok|refused|unavailable: the calendar did not answer|error|unknown_user|rate_limited)",
            ["kind", "outcome"],
            registry=r,
        )
        self.turn_seconds = Histogram(
            "tsm_turn_seconds",
            "Time to handle a chat turn (Router.dispatch)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.bookings = Counter(
            "tsm_bookings",
            "Booking operations by outcome (booked|moved|cancelled|refused|failed: an unexpected error)",
            ["outcome"],
            registry=r,
        )
        self.booking_refusals = Counter(
            "tsm_booking_refusals", "Bookings refused, by the rule that refused them", ["reason"], registry=r
        )
        self.reminders = Counter(
            "tsm_reminders",
            "Scheduled messages (reminders, nudges...) by kind and outcome "
            "(sent|failed|undeliverable|skipped|retry)",
            ["kind", "outcome"],
            registry=r,
        )
        self.graph_calls = Counter(
            "tsm_graph_calls",
            "HTTP requests to Microsoft Graph (every attempt, SDK retries "
            "included), by HTTP method and status class",
            ["method", "status"],
            registry=r,
        )
        self.graph_throttles = Counter(
            "tsm_graph_throttles", "Microsoft Graph answers 429 (throttled)", registry=r
        )
        self.graph_errors = Counter(
            "tsm_graph_errors",
            "Microsoft Graph requests that got no answer (timeouts, connection errors), by exception type",
            ["error"],
            registry=r,
        )
        self.graph_seconds = Histogram(
            "tsm_graph_request_seconds",
            "Time to an answer (or to giving up) of each HTTP attempt to Microsoft Graph, by HTTP method",
            ["method"],
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )

    # Convenience recorders (one place that knows the label values).

    def turn(self, kind: str, outcome: str, seconds: float | None = None) -> None:
        self.turns.labels(kind, outcome).inc()
        if seconds is not None:
            self.turn_seconds.observe(seconds)

    def reminder(self, kind: str, outcome: str) -> None:
        self.reminders.labels(kind, outcome).inc()

    # Hooks: what the services, the ledger and the Graph middleware call (their observer protocols are
    # tsm.services.observer.BookingObserver, scheduler.ledger.LedgerObserver, tsm.adapters.calendar_graph.GraphObserver).

    def booking(self, op: str, actor: Any, *, result: Any = None, error: BaseException | None = None) -> None:
        """A book/move/cancel of the booking service ended: with ``result``, or raising ``error`` (a refusal by a
        rule, a permission or bad input; anything else is an unexpected failure)."""
        actor_kind = getattr(actor, "kind", "?")
        if isinstance(error, TsmError):  # refused, nothing changed
            code = error.code if isinstance(error, BookingRefused) else _snake(type(error).__name__)
            self.bookings.labels("refused").inc()
            self.booking_refusals.labels(code).inc()
            log.info("booking refused", extra={"op": op, "reason": code, "actor_kind": actor_kind})
            return
        if error is not None:
            self.bookings.labels("failed").inc()
            log.info(
                "booking operation failed",
                extra={"op": op, "error": type(error).__name__, "actor_kind": actor_kind},
            )
            return
        outcome = _BOOKING_DONE.get(op, op)
        self.bookings.labels(outcome).inc()
        view = getattr(result, "meeting", None)
        log.info(
            "meeting %s",
            outcome,
            extra={
                "op": op,
                "meeting_id": getattr(view, "id", None),
                "school_id": _first(getattr(view, "school_ids", None)),
                "actor_kind": actor_kind,
            },
        )

    def outbound(self, due: Any, status: str) -> None:
        """The ledger recorded an outcome of a claimed message (sent, failed, undeliverable, skipped) or a retry."""
        self.reminder(due.kind, status)
        if status != "retry":
            log.info(
                "outbound %s",
                status,
                extra={
                    "kind": due.kind,
                    "subject_kind": due.subject_kind,
                    "subject_id": due.subject_id,
                    "recipient_kind": due.recipient.kind,
                },
            )

    def graph_request(
        self,
        method: str,
        status: int | None,
        seconds: float,
        *,
        error: BaseException | None = None,
        retry_after: str = "",
    ) -> None:
        """One HTTP attempt to Graph: answered with ``status``, or no answer (``error``: a timeout, a refused
        connection)."""
        self.graph_seconds.labels(method).observe(seconds)
        if status is None:
            self.graph_errors.labels(type(error).__name__ if error is not None else "unknown").inc()
            self.graph_calls.labels(method, "error").inc()
            return
        self.graph_calls.labels(method, f"{status // 100}xx").inc()
        if status == 429:
            self.graph_throttles.inc()
            log.info("graph throttled", extra={"method": method, "retry_after": retry_after})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when never set): for tests and the CLI, not for the hot path."""
        v = self.registry.get_sample_value(name, labels or None)
        return 0.0 if v is None else v


def metrics_handler(metrics: Metrics, *, token: str = ""):
    """An aiohttp handler for ``GET /metrics``. With ``token`` set, a ``Authorization: Bearer <token>`` is required
    (the reverse proxy should not expose /metrics to the internet in any case)."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get("Authorization", "")
            import hmac

            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.Response(status=401, text="metrics need a bearer token\n")
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle


def add_metrics_route(web_app, metrics: Metrics, *, token: str = "") -> None:
    """Mount ``GET /metrics`` on an aiohttp application (before it is started)."""
    web_app.router.add_get("/metrics", metrics_handler(metrics, token=token))


async def start_metrics_server(
    metrics: Metrics, *, host: str, port: int, token: str = "", healthy: Callable[[], bool] | None = None
):
    """A small HTTP server with ``GET /metrics`` (and ``GET /healthz`` from ``healthy()``) for processes that serve
    nothing else: ``tsm worker`` with TSM_WORKER_METRICS_PORT. Returns the aiohttp AppRunner (``await r.cleanup()``)."""
    from aiohttp import web

    web_app = web.Application()
    add_metrics_route(web_app, metrics, token=token)
    if healthy is not None:

        async def health(_request: web.Request) -> web.Response:
            ok = bool(healthy())
            return web.json_response(
                {"status": "ok" if ok else "degraded", "scheduler": {"running": ok}},
                status=200 if ok else 503,
            )

        web_app.router.add_get("/healthz", health)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


_BOOKING_DONE = {"book": "booked", "move": "moved", "cancel": "cancelled"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _first(values: Any) -> Any:
    try:
        return next(iter(values)) if values else None
    except TypeError:
        return None


# ---------------------------------------------------------------------- logs

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*"), r"\1 [REDACTED]"),
    # JWTs (three base64url parts, the first starting with eyJ: '{"').
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    # Passwords inside URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), r"\1:[REDACTED]@"),
    # key=value / "key": "value" pairs whose key says secret.
    (
        re.compile(r"""(?ix)
        (["']?\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|client[_-]?state|signature|sig)["']?
         \s*[:=]\s*)
        (["']?)[^\s"'&,;}]{3,}\2"""),
        r"\1\2[REDACTED]\2",
    ),
)


def redact(text: str) -> str:
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (args merged in) with secrets blanked; attach it to handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extras, the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_") or key in out:
                continue
            out[key] = value if isinstance(value, int | float | bool | type(None)) else redact(str(value))
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text", *, stream=None) -> logging.Handler:
    """The process's root handler: JSON lines (``fmt="json"``, for production) or plain text, secrets redacted.
    Replaces handlers an earlier call installed, so it can be called again (tests, reloads)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_tsm_handler", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._tsm_handler = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that log request bodies, headers or SQL parameters at DEBUG stay at WARNING whatever the level:
    # a DEBUG run must not write what people typed (a cancellation reason, a colleague's name) to the logs.
    for noisy in (
        "httpx",
        "httpcore",
        "azure",
        "msal",
        "botbuilder",
        "msrest",
        "urllib3",
        "aiohttp.access",
        "aiosqlite",
        "sqlalchemy.engine",
        "sqlalchemy.pool",
        "psycopg",
        "kiota_http",
        "msgraph",
        "apscheduler.executors",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
