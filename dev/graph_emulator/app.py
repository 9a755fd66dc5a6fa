"""An in-process stand-in for the calendar part of Microsoft Graph v1.0, for tests and local runs.

Serves ``/v1.0/...`` with Graph's JSON shapes (getSchedule, events, calendarView and its delta,
subscriptions with the validation handshake and change notifications, and ``sendMail`` from a mailbox, kept in
``sent_mail``) and a test-control API
under ``/_emulator/...``. The same controls are methods of :class:`GraphEmulator`.

Deliberately a server only: nothing here imports msgraph, so the real SDK can be pointed at it.
Where Graph's behaviour is not documented, the choice made here is said in a comment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
import math
import re
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from ._times import BadTimeZone, fmt_dttz, fmt_instant, parse_dttz, parse_iso, zone

log = logging.getLogger(__name__)

GRAPH_PREFIX = "/v1.0"
CONTROL_PREFIX = "/_emulator"
MAX_SCHEDULES = 20
MAX_SCHEDULE_WINDOW = timedelta(days=62)  # Exchange: "The allowed limit = 62 days" (63 is refused)
MAX_SUBSCRIPTION_MINUTES = 4230
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
JSON_CONTENT_TYPE = (
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
)
NEVER = "0001-01-01T00:00:00Z"
RAOP_MESSAGE = (
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
)

# Exchange's precedence when events overlap in one availabilityView slot.
_RANK = {"free": 0, "unknown": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}
_RESOURCE = re.compile(
    r"^/?users/(?P<user>[^/]+)/(?:events|calendar/events|calendars/[^/]+/events)$", re.IGNORECASE
)
_DEFAULT_TENANT = "6a1f8a2e-3c4b-4f5d-9e6f-7a8b9c0d1e2f"
_DEFAULT_APP = "0f3c1c2a-6b1e-4d8e-9a57-6a2b0d4e9c11"


class GraphError(Exception):
    """A Graph-shaped error answer: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    client_request_id: str | None = None,
) -> web.Response:
    request_id = request_id or str(uuid.uuid4())
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    all_headers = {"request-id": request_id, "client-request-id": client_request_id or request_id}
    all_headers.update(headers or {})
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=all_headers
    )


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(status=status, text=json.dumps(data), headers=headers)
    resp.headers["Content-Type"] = JSON_CONTENT_TYPE
    return resp


def _lower_camel(key: str) -> str:
    return key[:1].lower() + key[1:] if key and not key.startswith("@") else key


def _new_event_id() -> str:
    # Real ids are ~150 characters of URL-safe base64 beginning "AAMk"; the shape matters more than the content.
    return "AAMkAGI2" + base64.urlsafe_b64encode(secrets.token_bytes(45)).decode().rstrip("=")


def _change_key() -> str:
    return base64.b64encode(secrets.token_bytes(16)).decode()


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


@dataclass
class _Event:
    id: str
    data: dict[str, Any]  # Graph's JSON except start/end, which are kept as instants below
    start: datetime
    end: datetime
    seq: int = 0
    reads_until_join: int = 0  # > 0: onlineMeeting stays null for that many more GETs
    deleted: bool = False


@dataclass
class _Mailbox:
    key: str
    upn: str
    user_id: str
    display_name: str
    events: dict[str, _Event] = field(default_factory=dict)
    tombstones: dict[str, _Event] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)
    forbidden: bool = False
    working_hours: dict[str, Any] = field(
        default_factory=lambda: {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "GMT Standard Time"},
        }
    )
    in_flight: int = 0
    peak_in_flight: int = (
        0  # the most requests for this mailbox ever in flight at once (since reset_counters)
    )


@dataclass
class _Subscription:
    id: str
    resource: str
    mailbox_key: str
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    worker: asyncio.Task | None = None

    @property
    def change_types(self) -> set[str]:
        return {t.strip() for t in self.change_type.split(",") if t.strip()}


@dataclass
class Fault:
    """The next ``count`` Graph requests whose method and path match are delayed and/or answered with ``status``.

    ``after_perform``: the request is carried out first, then answered with ``status`` (a lost answer).
    ``status=None``: only the delay applies.
    """

    id: str
    method: str
    path: str
    status: int | None = 503
    count: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    after_perform: bool = False
    code: str | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.count > 0 and self.method in ("*", method.upper()) and re.search(self.path, path) is not None
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "count": self.count,
            "retryAfter": self.retry_after,
            "delay": self.delay,
            "afterPerform": self.after_perform,
            "code": self.code,
            "message": self.message,
        }


_DEFAULT_FAULT_ERRORS = {
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry."),
    504: ("GatewayTimeout", "The gateway timed out."),
}


@dataclass(frozen=True)
class _Route:
    method: str
    regex: re.Pattern[str]
    template: str
    handler: str


def _route(method: str, template: str, handler: str) -> _Route:
    # {name} -> a named group for one path segment; literal segments match case-insensitively, as Graph does.
    pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template))
    return _Route(method, re.compile(pattern, re.IGNORECASE), GRAPH_PREFIX + template, handler)


_ROUTES = [
    _route("GET", "/users/{user}", "_h_get_user"),
    _route("POST", "/users/{user}/calendar/getSchedule", "_h_get_schedule"),
    _route("POST", "/users/{user}/events", "_h_create_event"),
    _route("POST", "/users/{user}/calendar/events", "_h_create_event"),
    _route("GET", "/users/{user}/events", "_h_list_events"),
    _route("GET", "/users/{user}/calendar/events", "_h_list_events"),
    _route("GET", "/users/{user}/events/{event}", "_h_get_event"),
    _route("GET", "/users/{user}/calendar/events/{event}", "_h_get_event"),
    _route("PATCH", "/users/{user}/events/{event}", "_h_patch_event"),
    _route("PATCH", "/users/{user}/calendar/events/{event}", "_h_patch_event"),
    _route("DELETE", "/users/{user}/events/{event}", "_h_delete_event"),
    _route("DELETE", "/users/{user}/calendar/events/{event}", "_h_delete_event"),
    _route("POST", "/users/{user}/events/{event}/cancel", "_h_cancel_event"),
    _route("POST", "/users/{user}/calendar/events/{event}/cancel", "_h_cancel_event"),
    _route("GET", "/users/{user}/calendarView", "_h_calendar_view"),
    _route("GET", "/users/{user}/calendar/calendarView", "_h_calendar_view"),
    # msgraph-sdk asks for ".../delta()" (OData function call syntax); Graph answers both spellings.
    _route("GET", "/users/{user}/calendarView/delta", "_h_delta"),
    _route("GET", "/users/{user}/calendarView/delta()", "_h_delta"),
    _route("GET", "/users/{user}/calendar/calendarView/delta", "_h_delta"),
    _route("GET", "/users/{user}/calendar/calendarView/delta()", "_h_delta"),
    _route("POST", "/users/{user}/sendMail", "_h_send_mail"),
    _route("POST", "/subscriptions", "_h_create_subscription"),
    _route("GET", "/subscriptions", "_h_list_subscriptions"),
    _route("GET", "/subscriptions/{subscription}", "_h_get_subscription"),
    _route("PATCH", "/subscriptions/{subscription}", "_h_patch_subscription"),
    _route("DELETE", "/subscriptions/{subscription}", "_h_delete_subscription"),
]


def _prefer(request: web.Request) -> dict[str, str]:
    """``Prefer: outlook.timezone="Pacific Standard Time", odata.maxpagesize=50`` as a dict (lower-case keys)."""
    out: dict[str, str] = {}
    for header in request.headers.getall("Prefer", []):
        for part in re.findall(r'[^,"]+(?:"[^"]*"[^,"]*)*', header):
            key, _, value = part.strip().partition("=")
            if key:
                out[key.strip().lower()] = value.strip().strip('"')
    return out


class GraphEmulator:
    """Microsoft Graph's calendar endpoints, in memory, on a local port.

    ``await emulator.start()`` returns the base URL (``http://127.0.0.1:PORT``); Graph lives under
    ``emulator.graph_url`` (base + ``/v1.0``) and the control API under base + ``/_emulator``.
    Mailbox ids are case-insensitive and every mailbox exists (empty) until seeded.
    """

    def __init__(
        self,
        *,
        join_url_after_reads: int = 0,
        tenant_id: str = _DEFAULT_TENANT,
        application_id: str = _DEFAULT_APP,
        validation_timeout: float = 10.0,
        notification_timeout: float = 3.0,
        notification_retry_delays: Iterable[float] = (1.0, 5.0),
        working_elsewhere_digit: str = "0",
        mailbox_concurrency: int | None = None,
        page_size: int = 10,
        require_https: bool = False,
        reset_responses_on_move: bool = True,
    ) -> None:
        self.join_url_after_reads = join_url_after_reads
        self.tenant_id = tenant_id
        self.application_id = application_id
        self.validation_timeout = validation_timeout
        self.notification_timeout = notification_timeout
        self.notification_retry_delays = tuple(notification_retry_delays)
        # Graph's documented availabilityView puts working elsewhere as "0" for backward compatibility.
        self.working_elsewhere_digit = working_elsewhere_digit
        self.mailbox_concurrency = mailbox_concurrency
        self.page_size = page_size
        self.require_https = require_https
        # Emulator's choice (Graph does not document it): a new time clears attendees' answers, as Exchange
        # sends an updated request that they must answer again. Turn off to keep answers across moves.
        self.reset_responses_on_move = reset_responses_on_move
        self.base_url: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._clock_offset = timedelta(0)
        self._workers: set[asyncio.Task] = set()
        self._init_state()

    # ------------------------------------------------------------------ lifecycle

    def _init_state(self) -> None:
        self._mailboxes: dict[str, _Mailbox] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._faults: list[Fault] = []
        self._counters: Counter[tuple[str, str]] = Counter()
        self._seq = 0
        self._epoch = secrets.token_hex(
            4
        )  # in delta tokens: reset/expire_delta_tokens invalidates older ones
        self._delta_rounds: dict[str, dict[str, Any]] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=5000)
        """Every Graph request: method, path, route, query, body, headers of interest, status."""
        self.notifications: list[dict[str, Any]] = []
        """Every notification POST attempted: subscriptionId, url, payload, kind, attempt, status, ok, error."""
        self.cancellations: list[dict[str, Any]] = []
        """Every ``/cancel``: mailbox, eventId, comment."""
        self.sent_mail: list[dict[str, Any]] = []
        """Every ``sendMail`` accepted: mailbox (the sender), message (Graph's JSON), saveToSentItems."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", GRAPH_PREFIX + "/{tail:.*}", self._dispatch)
        self._add_control_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{host}:{bound[1]}"
        self._session = aiohttp.ClientSession()
        return self.base_url

    async def stop(self) -> None:
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        if self._session:
            await self._session.close()
            self._session = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> GraphEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def graph_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("the emulator is not started")
        return self.base_url + GRAPH_PREFIX

    def reset(self) -> None:
        """Forget everything: mailboxes, events, subscriptions, faults, counters, logs, clock offset."""
        for sub in self._subscriptions.values():
            if sub.worker:
                sub.worker.cancel()
        self._clock_offset = timedelta(0)
        self._init_state()

    # ------------------------------------------------------------------ clock

    def now(self) -> datetime:
        return datetime.now(UTC) + self._clock_offset

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock (subscription expiry, timestamps); event times are unaffected."""
        self._clock_offset += timedelta(seconds=seconds)

    # ------------------------------------------------------------------ mailboxes

    def _mailbox(self, ident: str) -> _Mailbox:
        key = ident.strip().lower()
        mb = self._mailboxes.get(key)
        if mb is None:
            for candidate in self._mailboxes.values():
                if candidate.user_id == key:
                    return candidate
            user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "graph-emulator:" + key))
            local = key.split("@")[0]
            name = " ".join(p.capitalize() for p in re.split(r"[._-]+", local) if p) or key
            mb = _Mailbox(key=key, upn=ident.strip(), user_id=user_id, display_name=name)
            self._mailboxes[key] = mb
        return mb

    def user_id(self, mailbox: str) -> str:
        """The mailbox's object id (a GUID), as change notifications' ``resource`` names it."""
        return self._mailbox(mailbox).user_id

    def set_forbidden(self, mailbox: str, forbidden: bool = True) -> None:
        """Answer 403 ErrorAccessDenied for this mailbox, as outside an ApplicationAccessPolicy."""
        self._mailbox(mailbox).forbidden = forbidden

    def set_working_hours(self, mailbox: str, working_hours: dict[str, Any]) -> None:
        self._mailbox(mailbox).working_hours = copy.deepcopy(working_hours)

    def set_display_name(self, mailbox: str, name: str) -> None:
        self._mailbox(mailbox).display_name = name

    # ------------------------------------------------------------------ events: store

    def events(self, mailbox: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All events of a mailbox as Graph renders them (times in UTC), by start time."""
        mb = self._mailbox(mailbox)
        evs = list(mb.events.values()) + (list(mb.tombstones.values()) if include_deleted else [])
        out = []
        for ev in sorted(evs, key=lambda e: (e.start, e.id)):
            rendered = self._render(mb, ev)
            if ev.deleted:
                rendered["@emulator.deleted"] = True
            out.append(rendered)
        return out

    def event(self, mailbox: str, event_id: str) -> dict[str, Any] | None:
        mb = self._mailbox(mailbox)
        ev = mb.events.get(event_id)
        return self._render(mb, ev) if ev else None

    def _render(
        self, mb: _Mailbox, ev: _Event, tz_name: str = "UTC", select: set[str] | None = None
    ) -> dict[str, Any]:
        data = copy.deepcopy(ev.data)
        out: dict[str, Any] = {"@odata.etag": f'W/"{data.get("changeKey", "")}"', "id": ev.id}
        out.update(data)
        out["start"] = fmt_dttz(ev.start, tz_name)
        out["end"] = fmt_dttz(ev.end, tz_name)
        if select:
            keep = {s.lower() for s in select} | {"id", "@odata.etag"}
            out = {k: v for k, v in out.items() if k.lower() in keep}
        return out

    def _get_event(self, mb: _Mailbox, event_id: str) -> _Event:
        ev = mb.events.get(event_id)
        if ev is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return ev

    def _touch(self, mb: _Mailbox, ev: _Event, change: str) -> None:
        self._seq += 1
        ev.seq = self._seq
        if change != "deleted":
            ev.data["lastModifiedDateTime"] = fmt_instant(self.now())
            ev.data["changeKey"] = _change_key()
        self._notify(mb, ev, change)

    def _apply(
        self, mb: _Mailbox, ev: _Event, changes: dict[str, Any], *, seeding: bool, creating: bool
    ) -> None:
        """Apply Graph event properties (create or PATCH semantics) to ``ev``.

        ``seeding``: a test control, not a Graph client: read-only properties (organizer, isOrganizer,
        onlineMeeting, attendees' status, ...) may be set too."""
        changes = {_lower_camel(k): v for k, v in changes.items() if not k.startswith("@odata")}
        read_only = {
            "id",
            "createdDateTime",
            "lastModifiedDateTime",
            "changeKey",
            "iCalUId",
            "uid",
            "webLink",
            "onlineMeeting",
            "onlineMeetingUrl",
            "type",
            "seriesMasterId",
            "organizer",
            "responseStatus",
            "isOrganizer",
            "bodyPreview",
            "hasAttachments",
            "originalStartTimeZone",
            "originalEndTimeZone",
        }
        if seeding:
            read_only = {"id", "changeKey", "lastModifiedDateTime", "bodyPreview"}
        old_start, old_end = ev.start, ev.end
        try:
            if "start" in changes:
                ev.start, tz = parse_dttz(changes.pop("start"))
                ev.data["originalStartTimeZone"] = tz
            if "end" in changes:
                ev.end, tz = parse_dttz(changes.pop("end"))
                ev.data["originalEndTimeZone"] = tz
        except BadTimeZone as exc:
            raise GraphError(
                400,
                "TimeZoneNotSupportedException",
                f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{exc}'.",
            ) from exc
        except (ValueError, TypeError) as exc:
            raise GraphError(
                400, "ErrorInvalidRequest", f"Cannot read the start or end date-time: {exc}."
            ) from exc
        if ev.end < ev.start:
            raise GraphError(
                400, "ErrorInvalidRequest", "The end date you entered occurs before the start date."
            )
        if "showAs" in changes and changes["showAs"] not in SHOW_AS:
            raise GraphError(400, "RequestBodyRead", f"Requested value '{changes['showAs']}' was not found.")
        moved = not creating and (ev.start != old_start or ev.end != old_end)
        statuses_given = seeding and "attendees" in changes

        if "attendees" in changes:
            ev.data["attendees"] = self._attendees(
                changes.pop("attendees") or [], ev.data.get("attendees") or [], keep_given_status=seeding
            )
        if moved and not statuses_given and self.reset_responses_on_move:
            for attendee in ev.data.get("attendees", []):
                attendee["status"] = {"response": "none", "time": NEVER}
        if "body" in changes:
            body = changes.pop("body") or {}
            content = str(body.get("content") or "")
            ev.data["body"] = {"contentType": body.get("contentType") or "text", "content": content}
            text = (
                re.sub(r"<[^>]+>", " ", content)
                if ev.data["body"]["contentType"].lower() == "html"
                else content
            )
            ev.data["bodyPreview"] = re.sub(r"\s+", " ", text).strip()[:255]
        if "location" in changes:
            loc = changes.pop("location") or {}
            full = {
                "displayName": loc.get("displayName") or "",
                "locationType": loc.get("locationType") or "default",
                "uniqueIdType": "private" if loc.get("displayName") else "unknown",
                "address": loc.get("address") or {},
                "coordinates": loc.get("coordinates") or {},
            }
            if loc.get("displayName"):
                full["uniqueId"] = loc.get("uniqueId") or loc["displayName"]
            ev.data["location"] = full
            if "locations" not in changes:
                ev.data["locations"] = [full] if loc.get("displayName") else []
        for key, value in changes.items():
            if key in read_only:
                continue
            ev.data[key] = value
        self._online_meeting(mb, ev)

    def _attendees(
        self, given: list[dict[str, Any]], previous: list[dict[str, Any]], *, keep_given_status: bool
    ) -> list[dict[str, Any]]:
        before = {str((a.get("emailAddress") or {}).get("address", "")).lower(): a for a in previous}
        out = []
        for attendee in given:
            email = attendee.get("emailAddress") or {}
            address = email.get("address")
            if not address:
                raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
            status = (before.get(address.lower()) or {}).get("status") or {"response": "none", "time": NEVER}
            if keep_given_status and attendee.get("status"):
                status = attendee["status"]
            out.append(
                {
                    "type": attendee.get("type") or "required",
                    "status": copy.deepcopy(status),
                    "emailAddress": {"name": email.get("name") or address, "address": address},
                }
            )
        return out

    def _online_meeting(self, mb: _Mailbox, ev: _Event) -> None:
        online = bool(ev.data.get("isOnlineMeeting"))
        if not online:
            ev.data["onlineMeeting"] = None
            ev.data["onlineMeetingProvider"] = "unknown"
            ev.reads_until_join = 0
            return
        provider = ev.data.get("onlineMeetingProvider")
        if provider in (None, "", "unknown"):
            ev.data["onlineMeetingProvider"] = provider = "teamsForBusiness"  # the tenant default
        if provider != "teamsForBusiness" or ev.data.get("onlineMeeting") or ev.reads_until_join > 0:
            return
        if self.join_url_after_reads > 0:
            ev.data["onlineMeeting"] = None
            ev.reads_until_join = self.join_url_after_reads
        else:
            self._fill_join_url(mb, ev)

    def _fill_join_url(self, mb: _Mailbox, ev: _Event) -> None:
        thread = base64.urlsafe_b64encode(secrets.token_bytes(27)).decode()
        context = quote(
            json.dumps({"Tid": self.tenant_id, "Oid": mb.user_id}, separators=(",", ":")), safe=""
        )
        ev.data["onlineMeeting"] = {
            "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context={context}",
            "conferenceId": str(secrets.randbelow(10**9)).zfill(9),
            "tollNumber": "+44 20 3321 5200",
        }
        ev.reads_until_join = 0

    def _create(self, mb: _Mailbox, body: dict[str, Any], *, seeding: bool) -> tuple[_Event, bool]:
        """Create an event; returns (event, created). ``transactionId`` makes a repeat return the first event."""
        body = dict(body)
        txn = body.get("transactionId") or body.get("TransactionId")
        if txn and txn in mb.transactions and mb.transactions[txn] in mb.events:
            return mb.events[mb.transactions[txn]], False
        if "start" not in {_lower_camel(k) for k in body} or "end" not in {_lower_camel(k) for k in body}:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. The start and end times are required.",
            )
        now = self.now()
        event_id = str(body.pop("id")) if seeding and body.get("id") else _new_event_id()
        uid = "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper()
        data: dict[str, Any] = {
            "createdDateTime": fmt_instant(now),
            "lastModifiedDateTime": fmt_instant(now),
            "changeKey": _change_key(),
            "categories": [],
            "transactionId": txn or None,
            "originalStartTimeZone": "UTC",
            "originalEndTimeZone": "UTC",
            "iCalUId": uid,
            "uid": uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": "",
            "bodyPreview": "",
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "seriesMasterId": None,
            "showAs": "busy",
            "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={quote(event_id)}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "recurrence": None,
            "responseStatus": {"response": "organizer", "time": NEVER},
            "body": {"contentType": "html", "content": ""},
            "location": {
                "displayName": "",
                "locationType": "default",
                "uniqueIdType": "unknown",
                "address": {},
                "coordinates": {},
            },
            "locations": [],
            "attendees": [],
            "organizer": {"emailAddress": {"name": mb.display_name, "address": mb.upn}},
            "onlineMeeting": None,
        }
        ev = _Event(id=event_id, data=data, start=now, end=now)
        self._apply(mb, ev, body, seeding=seeding, creating=True)
        if txn:
            mb.transactions[txn] = ev.id
        mb.events[ev.id] = ev
        mb.tombstones.pop(ev.id, None)
        self._touch(mb, ev, "created")
        return ev, True

    def _update(
        self, mb: _Mailbox, event_id: str, changes: dict[str, Any], *, seeding: bool = False
    ) -> _Event:
        ev = self._get_event(mb, event_id)
        self._apply(mb, ev, changes, seeding=seeding, creating=False)
        self._touch(mb, ev, "updated")
        return ev

    def _delete(self, mb: _Mailbox, event_id: str) -> None:
        ev = self._get_event(mb, event_id)
        del mb.events[event_id]
        ev.deleted = True
        mb.tombstones[event_id] = ev
        self._touch(mb, ev, "deleted")

    # ------------------------------------------------------------------ events: test controls

    def seed_event(
        self,
        mailbox: str,
        *,
        start: Any,
        end: Any,
        subject: str = "Busy",
        show_as: str = "busy",
        **fields: Any,
    ) -> dict[str, Any]:
        """Put an event in a mailbox as if it were already there (notifies subscribers: ``created``).

        ``start``/``end``: aware datetimes, ISO strings (UTC if no offset) or Graph ``{"dateTime", "timeZone"}``.
        ``fields``: any Graph event properties (camelCase), including ``id``, ``isOrganizer``, ``attendees``
        with ``status``, ``sensitivity``.
        """
        body = {"subject": subject, "showAs": show_as, **fields, "start": start, "end": end}
        return self.seed_event_json(mailbox, body)

    def seed_event_json(self, mailbox: str, body: dict[str, Any]) -> dict[str, Any]:
        mb = self._mailbox(mailbox)
        ev, _ = self._create(mb, body, seeding=True)
        return self._render(mb, ev)

    def set_response(
        self, mailbox: str, event_id: str, attendee: str, response: str, comment: str | None = None
    ) -> dict[str, Any]:
        """An attendee answers: the organizer's copy changes (``updated`` notification), as in Graph."""
        if response not in RESPONSES:
            raise ValueError(f"response must be one of {RESPONSES}")
        mb = self._mailbox(mailbox)
        ev = self._get_event(mb, event_id)
        for entry in ev.data.get("attendees", []):
            if str(entry["emailAddress"]["address"]).lower() == attendee.lower():
                entry["status"] = {"response": response, "time": fmt_instant(self.now())}
                if comment is not None:
                    entry["emulator.comment"] = comment
                break
        else:
            raise KeyError(f"{attendee} is not an attendee of {event_id}")
        self._touch(mb, ev, "updated")
        return self._render(mb, ev)

    def move_event(self, mailbox: str, event_id: str, start: Any, end: Any) -> dict[str, Any]:
        """The officer drags the event in Outlook (``updated``); attendees' answers are cleared."""
        mb = self._mailbox(mailbox)
        return self._render(mb, self._update(mb, event_id, {"start": start, "end": end}))

    def update_event(self, mailbox: str, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """The officer edits the event in Outlook (any Graph properties; ``updated``)."""
        mb = self._mailbox(mailbox)
        return self._render(mb, self._update(mb, event_id, changes, seeding=True))

    def delete_event(self, mailbox: str, event_id: str) -> None:
        """The officer deletes the event in Outlook (``deleted``)."""
        self._delete(self._mailbox(mailbox), event_id)

    def provision_join_urls(self, mailbox: str | None = None) -> int:
        """Fill every join URL still pending now (as if Teams had caught up); returns how many."""
        filled = 0
        boxes = [self._mailbox(mailbox)] if mailbox else list(self._mailboxes.values())
        for mb in boxes:
            for ev in mb.events.values():
                if ev.reads_until_join > 0:
                    self._fill_join_url(mb, ev)
                    self._touch(mb, ev, "updated")
                    filled += 1
        return filled

    def expire_delta_tokens(self) -> None:
        """Make every delta/skip token issued so far answer 410 (the client must resync)."""
        self._epoch = secrets.token_hex(4)
        self._delta_rounds.clear()

    # ------------------------------------------------------------------ faults and counters

    def inject_fault(
        self,
        method: str = "*",
        path: str = ".*",
        *,
        status: int | None = 503,
        count: int = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        after_perform: bool = False,
        code: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """The next ``count`` Graph requests matching ``method`` ("*" any) and ``path`` (a regex searched in the
        decoded path, e.g. ``r"/users/[^/]+/events$"``) wait ``delay`` seconds, then are answered ``status``
        (``Retry-After: retry_after`` if given; 429 gets 1 s unless told) — after being carried out when
        ``after_perform``. ``status=None`` only delays. Faults are tried in the order injected."""
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            id=uuid.uuid4().hex[:12],
            method=method.upper(),
            path=path,
            status=status,
            count=count,
            retry_after=retry_after,
            delay=delay,
            after_perform=after_perform,
            code=code,
            message=message,
        )
        re.compile(path)
        self._faults.append(fault)
        return fault

    def throttle(
        self, method: str = "*", path: str = ".*", *, count: int = 1, retry_after: float = 1
    ) -> Fault:
        return self.inject_fault(method, path, status=429, count=count, retry_after=retry_after)

    def fail(
        self,
        method: str = "*",
        path: str = ".*",
        *,
        status: int = 503,
        count: int = 1,
        after_perform: bool = False,
        retry_after: float | None = None,
    ) -> Fault:
        return self.inject_fault(
            method, path, status=status, count=count, after_perform=after_perform, retry_after=retry_after
        )

    def slow(self, method: str = "*", path: str = ".*", *, seconds: float, count: int = 1) -> Fault:
        return self.inject_fault(method, path, status=None, count=count, delay=seconds)

    def faults(self) -> list[Fault]:
        return [f for f in self._faults if f.count > 0]

    def clear_faults(self) -> None:
        self._faults.clear()

    def counters(self) -> dict[tuple[str, str], int]:
        """Graph requests received per (method, route template), e.g. ``("POST", "/v1.0/users/{user}/events")``.
        Faulted requests count too: each is a call Graph would have billed against the throttling budget."""
        return dict(self._counters)

    def count(self, method: str | None = None, template: str | None = None) -> int:
        return sum(
            n
            for (m, t), n in self._counters.items()
            if (method is None or m == method.upper()) and (template is None or t == template)
        )

    def reset_counters(self) -> None:
        self._counters.clear()
        for mb in self._mailboxes.values():
            mb.peak_in_flight = mb.in_flight

    def peak_in_flight(self, mailbox: str) -> int:
        """The most Graph requests for ``mailbox`` (in the URL path) in flight at once since the last reset."""
        return self._mailbox(mailbox).peak_in_flight

    # ------------------------------------------------------------------ subscriptions and notifications

    def subscriptions(self) -> list[dict[str, Any]]:
        return [self._render_subscription(s) for s in self._subscriptions.values()]

    def _render_subscription(self, sub: _Subscription) -> dict[str, Any]:
        return {
            "id": sub.id,
            "resource": sub.resource,
            "applicationId": self.application_id,
            "changeType": sub.change_type,
            "clientState": sub.client_state,
            "notificationUrl": sub.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": sub.lifecycle_url,
            "expirationDateTime": fmt_instant(sub.expiration),
            "creatorId": self.application_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def _notify(self, mb: _Mailbox, ev: _Event, change: str) -> None:
        now = self.now()
        for sub in self._subscriptions.values():
            if sub.mailbox_key != mb.key or change not in sub.change_types or sub.expiration <= now:
                continue
            resource = f"Users/{mb.user_id}/Events/{ev.id}"
            resource_data: dict[str, Any] = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource}
            if change != "deleted":
                resource_data["@odata.etag"] = f'W/"{ev.data.get("changeKey", "")}"'
            resource_data["id"] = ev.id
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": fmt_instant(sub.expiration),
                "changeType": change,
                "resource": resource,
                "resourceData": resource_data,
                "clientState": sub.client_state,
                "tenantId": self.tenant_id,
            }
            sub.queue.put_nowait((sub.notification_url, {"value": [item]}, "change"))

    def send_lifecycle_event(self, subscription_id: str, event: str = "reauthorizationRequired") -> None:
        """Send a lifecycle notification to the subscription's lifecycleNotificationUrl; ``subscriptionRemoved``
        also deletes the subscription (its queued change notifications still go out)."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"event must be one of {LIFECYCLE_EVENTS}")
        sub = self._subscriptions[subscription_id]
        if not sub.lifecycle_url:
            raise ValueError("the subscription has no lifecycleNotificationUrl")
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": fmt_instant(sub.expiration),
            "tenantId": self.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        sub.queue.put_nowait((sub.lifecycle_url, {"value": [item]}, "lifecycle"))
        if event == "subscriptionRemoved":
            del self._subscriptions[sub.id]
            sub.queue.put_nowait(None)  # the worker ends after what is queued

    async def drain(self, within: float = 10.0) -> None:
        """Wait until every queued notification has been delivered (or given up)."""
        queues = [s.queue for s in self._subscriptions.values()]
        await asyncio.wait_for(asyncio.gather(*(q.join() for q in queues)), within)

    async def wait_notifications(
        self, count: int, within: float = 10.0, *, ok_only: bool = True
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` notification POSTs (successful ones, unless told) have been made."""
        deadline = time.monotonic() + within
        while True:
            done = [n for n in self.notifications if n["ok"] or not ok_only]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {count} notifications after {within} s")
            await asyncio.sleep(0.02)

    async def _deliver_loop(self, sub: _Subscription) -> None:
        while True:
            job = await sub.queue.get()
            try:
                if job is None:
                    return
                url, payload, kind = job
                await self._deliver(sub.id, url, payload, kind)
            except asyncio.CancelledError:
                raise
            except Exception:  # a delivery bug must not kill the worker
                log.exception("notification delivery failed")
            finally:
                sub.queue.task_done()

    async def _deliver(self, subscription_id: str, url: str, payload: dict[str, Any], kind: str) -> None:
        assert self._session is not None
        delays = (0.0, *self.notification_retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            entry: dict[str, Any] = {
                "subscriptionId": subscription_id,
                "url": url,
                "payload": payload,
                "kind": kind,
                "attempt": attempt,
                "status": None,
                "ok": False,
                "error": None,
                "time": fmt_instant(self.now()),
            }
            started = time.monotonic()
            try:
                async with self._session.post(
                    url,
                    data=json.dumps(payload),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=aiohttp.ClientTimeout(total=self.notification_timeout),
                ) as resp:
                    await resp.read()
                    entry["status"] = resp.status
                    entry["ok"] = 200 <= resp.status < 300
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["seconds"] = round(time.monotonic() - started, 3)
            self.notifications.append(entry)
            if entry["ok"]:
                return

    async def _validate_endpoint(self, url: str) -> str | None:
        """Graph's handshake: POST url?validationToken=...; wants 200, text/plain, the token, within the timeout.
        Returns None when it passed, else why not."""
        assert self._session is not None
        token = (
            f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        )
        target = url + ("&" if "?" in url else "?") + urlencode({"validationToken": token})
        try:
            async with self._session.post(
                target,
                data=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=self.validation_timeout),
            ) as resp:
                text = await resp.text()
                if resp.status != 200:
                    return "Notification endpoint must respond with 200 OK to validation request."
                if not resp.content_type.startswith("text/plain"):
                    return "Notification endpoint must respond with a text/plain body to validation request."
                if text != token:
                    return "Response must exactly match validationToken query parameter."
        except TimeoutError:
            return "The operation has timed out."
        except (aiohttp.ClientError, OSError) as exc:
            return f"Notification endpoint could not be reached: {type(exc).__name__}."
        return None

    # ------------------------------------------------------------------ HTTP: Graph dispatch

    async def _dispatch(self, request: web.Request) -> web.Response:
        rel = request.path[len(GRAPH_PREFIX) :]
        route = match = None
        path_exists = False
        for candidate in _ROUTES:
            found = candidate.regex.fullmatch(rel)
            if found:
                path_exists = True
                if candidate.method == request.method:
                    route, match = candidate, found
                    break
        client_request_id = request.headers.get("client-request-id")
        request_id = str(uuid.uuid4())
        if route is None or match is None:
            if path_exists:
                return _error_response(
                    405,
                    "Request_BadRequest",
                    f"The HTTP method '{request.method}' is not allowed.",
                    request_id=request_id,
                    client_request_id=client_request_id,
                )
            segment = rel.strip("/").split("/")[-1]
            return _error_response(
                400,
                "BadRequest",
                f"Resource not found for the segment '{segment}'.",
                request_id=request_id,
                client_request_id=client_request_id,
            )
        self._counters[(request.method, route.template)] += 1
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        entry = {
            "method": request.method,
            "path": request.path,
            "route": route.template,
            "query": dict(request.query),
            "body": body,
            "retryAttempt": request.headers.get("Retry-Attempt"),
            "clientRequestId": client_request_id,
            "status": None,
            "time": fmt_instant(self.now()),
        }
        self.requests.append(entry)
        params = match.groupdict()
        resp = await self._handle(request, route, params, request_id, client_request_id)
        resp.headers.setdefault("request-id", request_id)
        if client_request_id:
            resp.headers.setdefault("client-request-id", client_request_id)
        entry["status"] = resp.status
        return resp

    async def _handle(
        self,
        request: web.Request,
        route: _Route,
        params: dict[str, str],
        request_id: str,
        client_request_id: str | None,
    ) -> web.Response:
        fault = next((f for f in self._faults if f.matches(request.method, request.path)), None)
        if fault:
            fault.count -= 1
        mb = self._mailbox(params["user"]) if "user" in params else None
        counted = False
        try:
            # A request is in flight for its mailbox from arrival to answer, slow (fault delay) answers included.
            if mb is not None:
                if self.mailbox_concurrency is not None and mb.in_flight >= self.mailbox_concurrency:
                    raise GraphError(
                        429,
                        "ApplicationThrottled",
                        "Application is over its MailboxConcurrency limit.",
                        {"Retry-After": "1"},
                    )
                mb.in_flight += 1
                mb.peak_in_flight = max(mb.peak_in_flight, mb.in_flight)
                counted = True
            if fault and fault.delay:
                await asyncio.sleep(fault.delay)
            if mb is not None and mb.forbidden:
                raise GraphError(403, "ErrorAccessDenied", RAOP_MESSAGE)
            if fault and fault.status and not fault.after_perform:
                return self._fault_response(fault, request_id, client_request_id)
            resp = await getattr(self, route.handler)(request, params)
            if fault and fault.status and fault.after_perform:
                return self._fault_response(fault, request_id, client_request_id)
            return resp
        except GraphError as err:
            return _error_response(
                err.status, err.code, err.message, err.headers, request_id, client_request_id
            )
        finally:
            if counted and mb is not None:
                mb.in_flight -= 1

    def _fault_response(self, fault: Fault, request_id: str, client_request_id: str | None) -> web.Response:
        status = fault.status or 503
        code, message = _DEFAULT_FAULT_ERRORS.get(status, ("UnknownError", "Injected fault."))
        headers = (
            {"Retry-After": _retry_after_text(fault.retry_after)} if fault.retry_after is not None else {}
        )
        return _error_response(
            status, fault.code or code, fault.message or message, headers, request_id, client_request_id
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type "
                "header is set and payload is of valid JSON format.",
            ) from exc
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
        return body

    def _base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{GRAPH_PREFIX}"

    def _tz(self, request: web.Request) -> str:
        name = _prefer(request).get("outlook.timezone")
        if not name:
            return "UTC"
        try:
            zone(name)
        except BadTimeZone:
            return "UTC"
        return name

    def _page_size(self, request: web.Request, default: int) -> int:
        pref = _prefer(request).get("odata.maxpagesize")
        top = request.query.get("$top")
        try:
            if top:
                return max(1, min(1000, int(top)))
            if pref:
                return max(1, min(1000, int(pref)))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid page size.") from exc
        return default

    @staticmethod
    def _select(request: web.Request) -> set[str] | None:
        sel = request.query.get("$select")
        return {s.strip() for s in sel.split(",") if s.strip()} if sel else None

    # ------------------------------------------------------------------ Graph handlers

    async def _h_get_user(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        return _json_response(
            {
                "@odata.context": f"{self._base(request)}/$metadata#users/$entity",
                "id": mb.user_id,
                "userPrincipalName": mb.upn,
                "mail": mb.upn,
                "displayName": mb.display_name,
            }
        )

    async def _h_get_schedule(self, request: web.Request, p: dict[str, str]) -> web.Response:
        # Graph documents camelCase; msgraph-sdk sends PascalCase. OData action parameters are matched
        # case-insensitively, so both work.
        body = {k.lower(): v for k, v in (await self._body(request)).items()}
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) for s in schedules):
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "The parameter 'Schedules' must be a non-empty list of SMTP addresses.",
            )
        if len(schedules) > MAX_SCHEDULES:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                f"The number of schedules requested ({len(schedules)}) exceeds the limit of {MAX_SCHEDULES}.",
            )
        try:
            start, _ = parse_dttz(body.get("starttime"))
            end, _ = parse_dttz(body.get("endtime"))
        except BadTimeZone as exc:
            raise GraphError(
                400,
                "TimeZoneNotSupportedException",
                f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{exc}'.",
            ) from exc
        except (ValueError, TypeError) as exc:
            raise GraphError(
                400, "ErrorInvalidParameter", "The parameters 'StartTime' and 'EndTime' are required."
            ) from exc
        try:
            interval = int(body.get("availabilityviewinterval") or 30)
        except (TypeError, ValueError) as exc:
            raise GraphError(
                400, "ErrorInvalidParameter", "AvailabilityViewInterval must be a number of minutes."
            ) from exc
        if not 5 <= interval <= 1440:
            raise GraphError(
                400, "ErrorInvalidParameter", "AvailabilityViewInterval must be between 5 and 1440 minutes."
            )
        if end <= start:
            raise GraphError(
                400,
                "ErrorInvalidTimeInterval",
                "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
            )
        if end - start > MAX_SCHEDULE_WINDOW:
            days = math.ceil((end - start) / timedelta(days=1))
            raise GraphError(
                400,
                "ErrorTimeIntervalTooBig",
                "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. "
                f"The allowed limit = 62 days; the actual limit = {days} days.",
            )
        tz_name = self._tz(request)
        step = timedelta(minutes=interval)
        slots = math.ceil((end - start) / step)
        value = []
        for schedule_id in schedules:
            mb = self._mailbox(schedule_id)
            if mb.forbidden:
                # Emulator's choice: a per-schedule error, as Graph reports other per-mailbox failures.
                value.append(
                    {
                        "scheduleId": schedule_id,
                        "availabilityView": "",
                        "error": {"message": RAOP_MESSAGE, "responseCode": "ErrorAccessDenied"},
                        "scheduleItems": [],
                        "workingHours": None,
                    }
                )
                continue
            events = sorted(
                (
                    e
                    for e in mb.events.values()
                    if e.start < end and e.end > start and not e.data.get("isCancelled")
                ),
                key=lambda e: (e.start, e.id),
            )
            items = []
            for ev in events:
                private = ev.data.get("sensitivity") in ("private", "confidential")
                item: dict[str, Any] = {"isPrivate": private, "status": ev.data.get("showAs") or "busy"}
                if not private:
                    item["subject"] = ev.data.get("subject") or ""
                    item["location"] = (ev.data.get("location") or {}).get("displayName") or ""
                item["start"] = fmt_dttz(ev.start, tz_name)
                item["end"] = fmt_dttz(ev.end, tz_name)
                items.append(item)
            view = []
            for i in range(slots):
                s0, s1 = start + i * step, min(start + (i + 1) * step, end)
                best = "free"
                for ev in events:
                    status = ev.data.get("showAs") or "busy"
                    if ev.start < s1 and ev.end > s0 and _RANK.get(status, 0) > _RANK[best]:
                        best = status
                view.append(
                    {
                        "free": "0",
                        "tentative": "1",
                        "busy": "2",
                        "oof": "3",
                        "workingElsewhere": self.working_elsewhere_digit,
                    }.get(best, "0")
                )
            value.append(
                {
                    "scheduleId": schedule_id,
                    "availabilityView": "".join(view),
                    "scheduleItems": items,
                    "workingHours": copy.deepcopy(mb.working_hours),
                }
            )
        return _json_response(
            {
                "@odata.context": f"{self._base(request)}/$metadata#Collection(microsoft.graph.scheduleInformation)",
                "value": value,
            }
        )

    async def _h_create_event(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        body = await self._body(request)
        ev, _created = self._create(mb, body, seeding=False)
        out = self._render(mb, ev, self._tz(request))
        out = {
            "@odata.context": f"{self._base(request)}/$metadata#users('{quote(mb.upn)}')/events/$entity",
            **out,
        }
        return _json_response(out, status=201)

    async def _h_list_events(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        events = sorted(mb.events.values(), key=lambda e: (e.start, e.id))
        return self._page(request, mb, events, f"$metadata#users('{quote(mb.upn)}')/events")

    def _page(self, request: web.Request, mb: _Mailbox, events: list[_Event], context: str) -> web.Response:
        size = self._page_size(request, self.page_size)
        try:
            skip = int(request.query.get("$skip", "0"))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $skip.") from exc
        chunk = events[skip : skip + size]
        tz_name = self._tz(request)
        select = self._select(request)
        out: dict[str, Any] = {
            "@odata.context": f"{self._base(request)}/{context}",
            "value": [self._render(mb, e, tz_name, select) for e in chunk],
        }
        if skip + size < len(events):
            query = dict(request.query)
            query["$skip"] = str(skip + size)
            out["@odata.nextLink"] = (
                f"{self._base(request)}{request.path[len(GRAPH_PREFIX) :]}?{urlencode(query)}"
            )
        return _json_response(out)

    async def _h_get_event(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        ev = self._get_event(mb, p["event"])
        if ev.reads_until_join > 0:
            ev.reads_until_join -= 1
            if ev.reads_until_join == 0:
                self._fill_join_url(mb, ev)
                self._touch(mb, ev, "updated")
        out = self._render(mb, ev, self._tz(request), self._select(request))
        out = {
            "@odata.context": f"{self._base(request)}/$metadata#users('{quote(mb.upn)}')/events/$entity",
            **out,
        }
        return _json_response(out)

    async def _h_patch_event(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        ev = self._update(mb, p["event"], await self._body(request))
        out = self._render(mb, ev, self._tz(request))
        out = {
            "@odata.context": f"{self._base(request)}/$metadata#users('{quote(mb.upn)}')/events/$entity",
            **out,
        }
        return _json_response(out)

    async def _h_delete_event(self, request: web.Request, p: dict[str, str]) -> web.Response:
        self._delete(self._mailbox(p["user"]), p["event"])
        return web.Response(status=204)

    async def _h_cancel_event(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        ev = self._get_event(mb, p["event"])
        body = {k.lower(): v for k, v in (await self._body(request)).items()}  # the SDK sends "Comment"
        if not ev.data.get("isOrganizer", True):
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        self.cancellations.append(
            {
                "mailbox": mb.upn,
                "eventId": ev.id,
                "comment": body.get("comment"),
                "attendees": [a["emailAddress"]["address"] for a in ev.data.get("attendees", [])],
            }
        )
        # The organizer's copy goes (to Deleted Items); attendees get a cancellation.
        self._delete(mb, ev.id)
        return web.Response(status=202)

    async def _h_send_mail(self, request: web.Request, p: dict[str, str]) -> web.Response:
        """``POST /users/{id}/sendMail``: Graph answers 202 with no body and sends the message from that mailbox.
        Refused as Graph does: no message (400 ErrorInvalidArgument), no recipient (400 ErrorInvalidRecipients), an
        attachment without contentBytes (400), a mailbox outside the app's Mail.Send scope (403, as for events:
        ``set_forbidden``)."""
        mb = self._mailbox(p["user"])
        body = await self._body(request)
        message = body.get("message") or body.get("Message")
        if not isinstance(message, dict):
            raise GraphError(400, "ErrorInvalidArgument", "The message is missing from the request body.")
        recipients = [
            r for key in ("toRecipients", "ccRecipients", "bccRecipients") for r in message.get(key) or []
        ]
        if not recipients or not all(
            isinstance(r, dict) and (r.get("emailAddress") or {}).get("address") for r in recipients
        ):
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient is not valid., A message can't be "
                "sent because it contains no recipients.",
            )
        for a in message.get("attachments") or []:
            if a.get("@odata.type") == "#microsoft.graph.fileAttachment":
                try:
                    base64.b64decode(a.get("contentBytes") or "", validate=True)
                except ValueError as exc:
                    raise GraphError(
                        400, "ErrorInvalidRequest", "The attachment's contentBytes is not base64."
                    ) from exc
                if not a.get("contentBytes"):
                    raise GraphError(400, "ErrorInvalidRequest", "A file attachment needs contentBytes.")
        self.sent_mail.append(
            {
                "mailbox": mb.upn,
                "message": copy.deepcopy(message),
                "saveToSentItems": body.get("saveToSentItems", True),
                "time": fmt_instant(self.now()),
            }
        )
        return web.Response(status=202)

    def _window(self, request: web.Request) -> tuple[datetime, datetime]:
        q = {k.lower(): v for k, v in request.query.items()}
        if "startdatetime" not in q or "enddatetime" not in q:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query "
                "string parameters StartDateTime and EndDateTime.",
            )
        try:
            return parse_iso(q["startdatetime"]), parse_iso(q["enddatetime"])
        except ValueError as exc:
            raise GraphError(
                400, "ErrorInvalidParameter", "StartDateTime and EndDateTime must be ISO 8601 date-times."
            ) from exc

    async def _h_calendar_view(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        start, end = self._window(request)
        events = sorted(
            (e for e in mb.events.values() if e.start < end and e.end > start), key=lambda e: (e.start, e.id)
        )
        return self._page(request, mb, events, f"$metadata#users('{quote(mb.upn)}')/calendarView")

    def _delta_token(self, start: datetime, end: datetime, since: int) -> str:
        raw = json.dumps({"s": start.isoformat(), "e": end.isoformat(), "q": since, "x": self._epoch})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    async def _h_delta(self, request: web.Request, p: dict[str, str]) -> web.Response:
        mb = self._mailbox(p["user"])
        q = {k.lower(): v for k, v in request.query.items()}
        skip_token = q.get("$skiptoken")
        delta_token = q.get("$deltatoken")
        if skip_token:
            round_ = self._delta_rounds.get(skip_token)
            if round_ is None or round_["mailbox"] != mb.key:
                raise GraphError(
                    410, "SyncStateNotFound", "The sync state generation is not found. Please resync."
                )
            del self._delta_rounds[skip_token]
        else:
            if delta_token:
                try:
                    padded = delta_token + "=" * (-len(delta_token) % 4)
                    state = json.loads(base64.urlsafe_b64decode(padded))
                    start, end, since = (
                        datetime.fromisoformat(state["s"]),
                        datetime.fromisoformat(state["e"]),
                        int(state["q"]),
                    )
                    valid = state.get("x") == self._epoch
                except (ValueError, KeyError, TypeError):
                    valid = False
                if not valid:
                    raise GraphError(
                        410, "SyncStateNotFound", "The sync state generation is not found. Please resync."
                    )
            else:
                start, end = self._window(request)
                since = 0
            entries: list[tuple[str, str]] = []
            candidates = [e for e in list(mb.events.values()) + list(mb.tombstones.values()) if e.seq > since]
            for ev in sorted(candidates, key=lambda e: (e.seq, e.id)):
                inside = ev.start < end and ev.end > start
                if ev.deleted:
                    if since and inside:
                        entries.append((ev.id, "deleted"))
                elif inside:
                    entries.append((ev.id, "event"))
                elif since:
                    entries.append((ev.id, "changed"))  # moved out of the window: gone from this view
            round_ = {"mailbox": mb.key, "start": start, "end": end, "upto": self._seq, "entries": entries}
        size = self._page_size(request, self.page_size)
        chunk, rest = round_["entries"][:size], round_["entries"][size:]
        tz_name = self._tz(request)
        value = []
        for event_id, kind in chunk:
            ev = mb.events.get(event_id)
            if kind == "event" and ev is not None:
                value.append({"@odata.type": "#microsoft.graph.event", **self._render(mb, ev, tz_name)})
            else:
                reason = "changed" if kind == "changed" else "deleted"
                value.append(
                    {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": reason}}
                )
        link_base = f"{self._base(request)}/users/{quote(p['user'], safe='@')}/calendarView/delta"
        out: dict[str, Any] = {"@odata.context": f"{self._base(request)}/$metadata#Collection(event)"}
        if rest:
            key = secrets.token_urlsafe(24)
            self._delta_rounds[key] = {**round_, "entries": rest}
            out["@odata.nextLink"] = f"{link_base}?$skiptoken={key}"
        else:
            token = self._delta_token(round_["start"], round_["end"], round_["upto"])
            out["@odata.deltaLink"] = f"{link_base}?$deltatoken={token}"
        out["value"] = value
        return _json_response(out)

    async def _h_create_subscription(self, request: web.Request, p: dict[str, str]) -> web.Response:
        body = {_lower_camel(k): v for k, v in (await self._body(request)).items()}
        change_type = str(body.get("changeType") or "")
        types = [t.strip() for t in change_type.split(",") if t.strip()]
        if not types or any(t not in CHANGE_TYPES for t in types):
            raise GraphError(400, "ValidationError", f"Invalid changeType '{change_type}'.")
        url = body.get("notificationUrl")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise GraphError(
                400,
                "ValidationError",
                "The Subscription.NotificationUrl is required and must be an absolute URL.",
            )
        if self.require_https and not url.startswith("https://"):
            raise GraphError(400, "ValidationError", "The Subscription.NotificationUrl must be an HTTPS URL.")
        resource = str(body.get("resource") or "")
        found = _RESOURCE.match(resource)
        if not found:
            raise GraphError(
                400,
                "ExtensionError",
                f"Resource '{resource}' is not supported by this emulator (use users/{{id}}/events).",
            )
        mb = self._mailbox(found.group("user"))
        if mb.forbidden:
            raise GraphError(403, "ErrorAccessDenied", RAOP_MESSAGE)
        expiration = self._expiration(body.get("expirationDateTime"))
        lifecycle = body.get("lifecycleNotificationUrl")
        for target in [url] + ([lifecycle] if lifecycle else []):
            problem = await self._validate_endpoint(target)
            if problem:
                raise GraphError(400, "ValidationError", f"Subscription validation request failed. {problem}")
        sub = _Subscription(
            id=str(uuid.uuid4()),
            resource=resource,
            mailbox_key=mb.key,
            change_type=change_type,
            notification_url=url,
            lifecycle_url=lifecycle,
            client_state=body.get("clientState"),
            expiration=expiration,
        )
        sub.worker = asyncio.get_running_loop().create_task(self._deliver_loop(sub))
        self._workers.add(sub.worker)
        sub.worker.add_done_callback(self._workers.discard)
        self._subscriptions[sub.id] = sub
        out = {
            "@odata.context": f"{self._base(request)}/$metadata#subscriptions/$entity",
            **self._render_subscription(sub),
        }
        return _json_response(out, status=201)

    def _expiration(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise GraphError(400, "ValidationError", "The Subscription.ExpirationDateTime is required.")
        try:
            expiration = parse_iso(value)
        except ValueError as exc:
            raise GraphError(
                400, "ValidationError", "The Subscription.ExpirationDateTime is not a date-time."
            ) from exc
        now = self.now()
        if expiration <= now:
            raise GraphError(400, "ExtensionError", "Subscription expiration must be in the future.")
        if expiration > now + timedelta(minutes=MAX_SUBSCRIPTION_MINUTES):
            raise GraphError(
                400,
                "ExtensionError",
                f"Subscription expiration can only be {MAX_SUBSCRIPTION_MINUTES} minutes in the future.",
            )
        return expiration

    def _subscription(self, sub_id: str) -> _Subscription:
        sub = self._subscriptions.get(sub_id)
        if sub is None or sub.expiration <= self.now():
            raise GraphError(404, "ResourceNotFound", f"The object was not found: subscription '{sub_id}'.")
        return sub

    async def _h_list_subscriptions(self, request: web.Request, p: dict[str, str]) -> web.Response:
        now = self.now()
        return _json_response(
            {
                "@odata.context": f"{self._base(request)}/$metadata#subscriptions",
                "value": [
                    self._render_subscription(s) for s in self._subscriptions.values() if s.expiration > now
                ],
            }
        )

    async def _h_get_subscription(self, request: web.Request, p: dict[str, str]) -> web.Response:
        sub = self._subscription(p["subscription"])
        return _json_response(
            {
                "@odata.context": f"{self._base(request)}/$metadata#subscriptions/$entity",
                **self._render_subscription(sub),
            }
        )

    async def _h_patch_subscription(self, request: web.Request, p: dict[str, str]) -> web.Response:
        sub = self._subscription(p["subscription"])
        body = {_lower_camel(k): v for k, v in (await self._body(request)).items()}
        if "expirationDateTime" in body:
            sub.expiration = self._expiration(body["expirationDateTime"])
        if "notificationUrl" in body:
            problem = await self._validate_endpoint(str(body["notificationUrl"]))
            if problem:
                raise GraphError(400, "ValidationError", f"Subscription validation request failed. {problem}")
            sub.notification_url = str(body["notificationUrl"])
        return _json_response(
            {
                "@odata.context": f"{self._base(request)}/$metadata#subscriptions/$entity",
                **self._render_subscription(sub),
            }
        )

    async def _h_delete_subscription(self, request: web.Request, p: dict[str, str]) -> web.Response:
        sub = self._subscription(p["subscription"])
        del self._subscriptions[sub.id]
        sub.queue.put_nowait(None)
        return web.Response(status=204)

    # ------------------------------------------------------------------ HTTP: test-control API

    def _add_control_routes(self, app: web.Application) -> None:
        r = app.router
        c = CONTROL_PREFIX
        r.add_get(c, self._c_index)
        r.add_post(c + "/reset", self._c_reset)
        r.add_get(c + "/config", self._c_get_config)
        r.add_patch(c + "/config", self._c_patch_config)
        r.add_get(c + "/mailboxes/{mailbox}/events", self._c_list_events)
        r.add_post(c + "/mailboxes/{mailbox}/events", self._c_seed_events)
        r.add_get(c + "/mailboxes/{mailbox}/events/{event}", self._c_get_event)
        r.add_patch(c + "/mailboxes/{mailbox}/events/{event}", self._c_update_event)
        r.add_delete(c + "/mailboxes/{mailbox}/events/{event}", self._c_delete_event)
        r.add_post(c + "/mailboxes/{mailbox}/events/{event}/move", self._c_move_event)
        r.add_post(c + "/mailboxes/{mailbox}/events/{event}/responses", self._c_set_response)
        r.add_put(c + "/mailboxes/{mailbox}/forbidden", self._c_forbidden)
        r.add_put(c + "/mailboxes/{mailbox}/workingHours", self._c_working_hours)
        r.add_post(c + "/joinUrls/provision", self._c_provision)
        r.add_post(c + "/delta/expire", self._c_expire_delta)
        r.add_get(c + "/faults", self._c_list_faults)
        r.add_post(c + "/faults", self._c_add_fault)
        r.add_delete(c + "/faults", self._c_clear_faults)
        r.add_get(c + "/counters", self._c_counters)
        r.add_delete(c + "/counters", self._c_reset_counters)
        r.add_get(c + "/requests", self._c_requests)
        r.add_get(c + "/subscriptions", self._c_subscriptions)
        r.add_post(c + "/subscriptions/{subscription}/lifecycle", self._c_lifecycle)
        r.add_get(c + "/notifications", self._c_notifications)
        r.add_get(c + "/cancellations", self._c_cancellations)
        r.add_get(c + "/mail", self._c_sent_mail)
        r.add_post(c + "/clock/advance", self._c_advance)

    @staticmethod
    async def _c_body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
            ) from exc

    @staticmethod
    def _c_error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def _c_index(self, request: web.Request) -> web.Response:
        routes = sorted(
            {
                f"{res.canonical}"
                for res in request.app.router.resources()
                if res.canonical.startswith(CONTROL_PREFIX)
            }
        )
        return web.json_response({"graph": self._base(request), "control": routes})

    async def _c_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    def _config(self) -> dict[str, Any]:
        return {
            "joinUrlAfterReads": self.join_url_after_reads,
            "tenantId": self.tenant_id,
            "validationTimeout": self.validation_timeout,
            "notificationTimeout": self.notification_timeout,
            "notificationRetryDelays": list(self.notification_retry_delays),
            "workingElsewhereDigit": self.working_elsewhere_digit,
            "mailboxConcurrency": self.mailbox_concurrency,
            "pageSize": self.page_size,
            "requireHttps": self.require_https,
            "resetResponsesOnMove": self.reset_responses_on_move,
        }

    async def _c_get_config(self, request: web.Request) -> web.Response:
        return web.json_response(self._config())

    async def _c_patch_config(self, request: web.Request) -> web.Response:
        body = await self._c_body(request)
        names = {
            "joinUrlAfterReads": "join_url_after_reads",
            "tenantId": "tenant_id",
            "validationTimeout": "validation_timeout",
            "notificationTimeout": "notification_timeout",
            "notificationRetryDelays": "notification_retry_delays",
            "workingElsewhereDigit": "working_elsewhere_digit",
            "mailboxConcurrency": "mailbox_concurrency",
            "pageSize": "page_size",
            "requireHttps": "require_https",
            "resetResponsesOnMove": "reset_responses_on_move",
        }
        unknown = set(body) - set(names)
        if unknown:
            return self._c_error(400, f"unknown settings: {sorted(unknown)}")
        for key, value in body.items():
            setattr(self, names[key], tuple(value) if key == "notificationRetryDelays" else value)
        return web.json_response(self._config())

    async def _c_list_events(self, request: web.Request) -> web.Response:
        include = request.query.get("includeDeleted", "").lower() in ("1", "true", "yes")
        return web.json_response(
            {"value": self.events(request.match_info["mailbox"], include_deleted=include)}
        )

    async def _c_seed_events(self, request: web.Request) -> web.Response:
        body = await self._c_body(request)
        items = (
            body if isinstance(body, list) else body.get("events", [body]) if isinstance(body, dict) else None
        )
        if not isinstance(items, list):
            return self._c_error(400, 'send an event, a list of events or {"events": [...]}')
        try:
            created = [self.seed_event_json(request.match_info["mailbox"], item) for item in items]
        except GraphError as err:
            return self._c_error(err.status, err.message)
        return web.json_response({"value": created}, status=201)

    async def _c_get_event(self, request: web.Request) -> web.Response:
        ev = self.event(request.match_info["mailbox"], request.match_info["event"])
        return web.json_response(ev) if ev else self._c_error(404, "no such event")

    async def _c_update_event(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(
                self.update_event(
                    request.match_info["mailbox"], request.match_info["event"], await self._c_body(request)
                )
            )
        except GraphError as err:
            return self._c_error(err.status, err.message)

    async def _c_delete_event(self, request: web.Request) -> web.Response:
        try:
            self.delete_event(request.match_info["mailbox"], request.match_info["event"])
        except GraphError as err:
            return self._c_error(err.status, err.message)
        return web.Response(status=204)

    async def _c_move_event(self, request: web.Request) -> web.Response:
        body = await self._c_body(request)
        try:
            return web.json_response(
                self.move_event(
                    request.match_info["mailbox"],
                    request.match_info["event"],
                    body.get("start"),
                    body.get("end"),
                )
            )
        except GraphError as err:
            return self._c_error(err.status, err.message)

    async def _c_set_response(self, request: web.Request) -> web.Response:
        body = await self._c_body(request)
        try:
            return web.json_response(
                self.set_response(
                    request.match_info["mailbox"],
                    request.match_info["event"],
                    str(body.get("attendee", "")),
                    str(body.get("response", "")),
                    body.get("comment"),
                )
            )
        except GraphError as err:
            return self._c_error(err.status, err.message)
        except (KeyError, ValueError) as exc:
            return self._c_error(400, str(exc))

    async def _c_forbidden(self, request: web.Request) -> web.Response:
        body = await self._c_body(request)
        self.set_forbidden(request.match_info["mailbox"], bool(body.get("forbidden", True)))
        return web.json_response(
            {"mailbox": request.match_info["mailbox"], "forbidden": bool(body.get("forbidden", True))}
        )

    async def _c_working_hours(self, request: web.Request) -> web.Response:
        self.set_working_hours(request.match_info["mailbox"], await self._c_body(request))
        return web.json_response(self._mailbox(request.match_info["mailbox"]).working_hours)

    async def _c_provision(self, request: web.Request) -> web.Response:
        mailbox = (await self._c_body(request)).get("mailbox")
        return web.json_response({"filled": self.provision_join_urls(mailbox)})

    async def _c_expire_delta(self, request: web.Request) -> web.Response:
        self.expire_delta_tokens()
        return web.json_response({"ok": True})

    async def _c_list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"value": [f.as_dict() for f in self.faults()]})

    async def _c_add_fault(self, request: web.Request) -> web.Response:
        b = await self._c_body(request)
        try:
            fault = self.inject_fault(
                b.get("method", "*"),
                b.get("path", ".*"),
                status=b.get("status", 503),
                count=int(b.get("count", 1)),
                retry_after=b.get("retryAfter"),
                delay=float(b.get("delay", 0)),
                after_perform=bool(b.get("afterPerform", False)),
                code=b.get("code"),
                message=b.get("message"),
            )
        except (re.error, TypeError, ValueError) as exc:
            return self._c_error(400, str(exc))
        return web.json_response(fault.as_dict(), status=201)

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.Response(status=204)

    async def _c_counters(self, request: web.Request) -> web.Response:
        rows = [{"method": m, "route": t, "count": n} for (m, t), n in sorted(self._counters.items())]
        return web.json_response({"value": rows, "total": sum(self._counters.values())})

    async def _c_reset_counters(self, request: web.Request) -> web.Response:
        self.reset_counters()
        return web.Response(status=204)

    async def _c_requests(self, request: web.Request) -> web.Response:
        return web.json_response({"value": list(self.requests)})

    async def _c_subscriptions(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self.subscriptions()})

    async def _c_lifecycle(self, request: web.Request) -> web.Response:
        event = (await self._c_body(request)).get("lifecycleEvent", "reauthorizationRequired")
        try:
            self.send_lifecycle_event(request.match_info["subscription"], event)
        except KeyError:
            return self._c_error(404, "no such subscription")
        except ValueError as exc:
            return self._c_error(400, str(exc))
        return web.json_response({"ok": True}, status=202)

    async def _c_notifications(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self.notifications})

    async def _c_cancellations(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self.cancellations})

    async def _c_sent_mail(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self.sent_mail})

    async def _c_advance(self, request: web.Request) -> web.Response:
        seconds = float((await self._c_body(request)).get("seconds", 0))
        self.advance_time(seconds)
        return web.json_response({"now": fmt_instant(self.now())})


async def serve_forever(host: str, port: int, **options: Any) -> None:
    emulator = GraphEmulator(**options)
    base = await emulator.start(host, port)
    print(f"Graph emulator: {base}{GRAPH_PREFIX}  (test controls: {base}{CONTROL_PREFIX})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await emulator.stop()
