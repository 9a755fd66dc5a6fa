"""Officers' Outlook calendars through Microsoft Graph (msgraph-sdk, app-only): the only module importing msgraph.

- :class:`GraphCalendar` implements the calendar port: free/busy with ``getSchedule`` (≤20 mailboxes a call,
  windows cut under 62 days, cached per officer until a change notification says otherwise), events created
  with a ``transactionId`` derived from the meeting's iCalendar UID and sequence, moved with PATCH, cancelled
  with ``/cancel`` and a comment; attendees' answers read back.
- :class:`GraphWatcher` keeps the database in step with Outlook: it owns the subscriptions
  (:meth:`GraphWatcher.renew_subscriptions`), handles change notifications (``accepts``/``handle``, mounted by
  :func:`tsm.web.graph_notifications.graph_routes`) and runs the ``calendarView/delta`` fallback sweep
  (:meth:`GraphWatcher.sweep_delta`). It turns Graph JSON into :class:`~tsm.ports.CalendarChange` objects for
  :class:`~tsm.services.calendar_changes.CalendarChanges`, which knows no SDK.

Throttling: at most ``graph_max_concurrent_per_mailbox`` (4) requests in flight per mailbox; the SDK's retry
middleware is kept and honours ``Retry-After`` on 429 and backs off on 503/504; what still fails becomes a
:class:`~tsm.ports.CalendarError` (401/403 not retryable, with a message a person can act on).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendee import Attendee as GraphAttendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.location import Location
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import CancelPostRequestBody
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler
from sqlalchemy import delete
from sqlmodel import select

from ..domain.model import Interval
from ..ports import CalendarChange, CalendarError, CalendarRef, EventDetails, EventResult
from ..settings import Settings
from .calendar_per_la import PerLaCalendar  # one Graph calendar per LA (issue 15), asked the same
from .db.calendars import GraphDeltaState, GraphSubscription
from .db.directory import Officer
from .db.engine import Database
from .db.meetings import Meeting

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAX_SCHEDULES = 20  # getSchedule: at most 20 mailboxes a call
MAX_WINDOW = timedelta(days=61)  # getSchedule refuses windows of 62 days or more
CACHE_PAD = timedelta(days=1)  # fetch a little more than asked, so a day inside a listed term is a cache hit
BLOCKING = {FreeBusyStatus.Busy, FreeBusyStatus.Tentative, FreeBusyStatus.Oof}  # not free, workingElsewhere
CHANGE_TYPES = "created,updated,deleted"
_TXN_NAMESPACE = uuid.UUID("5b0d8a53-7a0e-4f43-9a43-1f3c2d0e6a11")
_PREFER_UTC = 'outlook.timezone="UTC"'
OWN_VERSIONS_KEPT = 5000
HEALTH_TTL = 60.0  # seconds an answer of GraphCalendar.health is reused
HEALTH_TIMEOUT = 3.0  # seconds the health check waits for Graph (the SDK's retries included)
T = TypeVar("T")


class GraphConfigError(ValueError):
    """The Graph settings cannot work; the message names the setting to fix."""


def transaction_id(ical_uid: str, sequence: int) -> str:
    """The create's ``transactionId``: the same for every retry of one outbox row (same meeting, same sequence),
    so neither the SDK's retries nor the outbox's can make a second event."""
    return str(uuid.uuid5(_TXN_NAMESPACE, f"{ical_uid}#{sequence}"))


# ---------------------------------------------------------------------- building the SDK client


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credential(settings: Settings):
    """azure-identity's async credential from the settings (client secret or certificate)."""
    from azure.identity.aio import CertificateCredential, ClientSecretCredential

    missing = [
        name
        for name, value in (
            ("TSM_GRAPH_TENANT_ID", settings.graph_tenant_id),
            ("TSM_GRAPH_CLIENT_ID", settings.graph_client_id),
        )
        if not value
    ]
    if missing:
        raise GraphConfigError(
            f"TSM_CALENDAR_BACKEND=graph needs {' and '.join(missing)} (the Entra app registration)."
        )
    if settings.graph_certificate_path:
        password = settings.graph_certificate_password.get_secret_value() or None
        return CertificateCredential(
            settings.graph_tenant_id,
            settings.graph_client_id,
            certificate_path=settings.graph_certificate_path,
            password=password,
        )
    secret = settings.graph_client_secret.get_secret_value()
    if not secret:
        raise GraphConfigError(
            "TSM_CALENDAR_BACKEND=graph needs TSM_GRAPH_CLIENT_SECRET or TSM_GRAPH_CERTIFICATE_PATH."
        )
    return ClientSecretCredential(settings.graph_tenant_id, settings.graph_client_id, secret)


class GraphObserver(Protocol):
    def graph_request(
        self,
        method: str,
        status: int | None,
        seconds: float,
        *,
        error: BaseException | None = None,
        retry_after: str = "",
    ) -> None:
        """One HTTP attempt to Graph got ``status`` after ``seconds``, or no answer (``status`` None, ``error``)."""


class ObservingHandler(BaseMiddleware):
    """The last middleware of the Graph client's pipeline (below the SDK's retry handler): it sees every HTTP
    attempt, the SDK's own retries included, and tells its observer the method, status and time taken."""

    def __init__(self, observer: GraphObserver) -> None:
        super().__init__()
        self.observer = observer

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await super().send(request, transport)
        except Exception as exc:
            self.observer.graph_request(request.method, None, time.perf_counter() - started, error=exc)
            raise
        self.observer.graph_request(
            request.method,
            response.status_code,
            time.perf_counter() - started,
            retry_after=response.headers.get("Retry-After", ""),
        )
        return response


def graph_middleware(settings: Settings, observer: GraphObserver | None = None) -> list[BaseMiddleware]:
    """The SDK's default middleware (``GraphClientFactory.create_with_default_middleware``'s list: Kiota's
    defaults, the retry handler configured from the settings, Graph's telemetry handler), then
    :class:`ObservingHandler` last when there is an observer."""
    retry = RetryHandlerOption(delay=settings.graph_retry_delay, max_retries=settings.graph_retry_max)
    middleware = KiotaClientFactory.get_default_middleware({retry.get_key(): retry})
    middleware.append(GraphTelemetryHandler())
    if observer is not None:
        middleware.append(ObservingHandler(observer))
    return middleware


def make_graph_client(
    settings: Settings,
    *,
    base_url: str | None = None,
    anonymous: bool | None = None,
    observer: GraphObserver | None = None,
) -> tuple[GraphServiceClient, Callable[[], Awaitable[None]]]:
    """A GraphServiceClient with the SDK's default middleware (retry handler included, configured from the
    settings), an :class:`ObservingHandler` for ``observer`` (the App's metrics), and a close function.
    ``anonymous`` (no token) is only for a local emulator on loopback."""
    base_url = (base_url or settings.graph_base_url).rstrip("/")
    if anonymous is None:
        anonymous = not settings.graph_tenant_id and _is_loopback(base_url)
    if anonymous and not _is_loopback(base_url):
        raise GraphConfigError(
            "Graph without credentials is only for a local emulator (a loopback TSM_GRAPH_BASE_URL)."
        )
    http = GraphClientFactory.create_with_custom_middleware(
        graph_middleware(settings, observer), client=httpx.AsyncClient(timeout=settings.graph_timeout_seconds)
    )
    credential = None
    if anonymous:
        auth = AnonymousAuthenticationProvider()
    else:
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )

        credential = _credential(settings)
        auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = base_url

    async def close() -> None:
        await http.aclose()
        if credential is not None:
            await credential.close()

    return GraphServiceClient(request_adapter=adapter), close


def build_graph_calendar(
    settings: Settings, db: Database | None = None, *, observer: GraphObserver | None = None
) -> GraphCalendar:
    """The composition root's Graph calendar (``db``: where :meth:`GraphCalendar.health` finds an officer's mailbox;
    ``observer``: what hears of every HTTP attempt, the App's metrics)."""
    client, close = make_graph_client(settings, observer=observer)
    return GraphCalendar(client, settings=settings, close=close, db=db)


# ---------------------------------------------------------------------- Graph JSON <-> plain values


def _dttz(value: datetime) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC")


def parse_dttz(value: DateTimeTimeZone | None) -> datetime | None:
    """Graph's ``{"dateTime": "2026-11-02T09:00:00.0000000", "timeZone": "UTC"}`` as an aware UTC datetime."""
    if value is None or not value.date_time:
        return None
    text = value.date_time
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    naive = datetime.fromisoformat(text.rstrip("Z"))
    tz_name = value.time_zone or "UTC"
    try:
        tz = UTC if tz_name.upper() in ("UTC", "Z") else ZoneInfo(tz_name)
    except (
        Exception
    ):  # a Windows zone name: we always ask for UTC (Prefer: outlook.timezone), so this is unexpected
        log.warning("Graph answered in time zone %r; treating it as UTC", tz_name)
        tz = UTC
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _responses(event: Event | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in (event.attendees or []) if event else []:
        address = a.email_address.address if a.email_address else None
        if address:
            response = a.status.response if a.status and a.status.response else None
            out[address.lower()] = getattr(response, "value", None) or "none"
    return out


def _join_url(event: Event | None) -> str | None:
    meeting = event.online_meeting if event else None
    return (meeting.join_url or None) if meeting else None


def _change_from_event(officer_id: int, event: Event) -> CalendarChange:
    if event.is_cancelled:
        return CalendarChange(officer_id, event.id, "deleted")
    return CalendarChange(
        officer_id,
        event.id,
        "updated",
        start=parse_dttz(event.start),
        end=parse_dttz(event.end),
        attendee_responses=_responses(event),
        join_url=_join_url(event),
    )


def _windows(window: Interval) -> list[Interval]:
    out, start = [], window.start
    while start < window.end:
        end = min(start + MAX_WINDOW, window.end)
        out.append(Interval(start, end))
        start = end
    return out or [window]


# ---------------------------------------------------------------------- the calendar port


@dataclass
class _Cached:
    window: Interval
    busy: list[Interval]
    fetched_at: float


class _NotFound(Exception):
    pass


class GraphCalendar:
    """CalendarPort over Outlook calendars. ``client`` is a GraphServiceClient with the SDK's default middleware."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        settings: Settings | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        db: Database | None = None,
    ) -> None:
        settings = settings or Settings(calendar_backend="graph")
        self.db = db
        self._health: tuple[float, dict[str, Any]] | None = (
            None  # (checked at, answer): /healthz reuses it a while
        )
        self._health_lock = asyncio.Lock()
        self.client = client
        self.settings = settings
        self.per_mailbox = settings.graph_max_concurrent_per_mailbox
        self.cache_seconds = settings.graph_busy_cache_seconds
        self.join_url_reads = settings.graph_join_url_reads
        self.join_url_read_delay = settings.graph_join_url_read_delay
        self._close = close
        self._monotonic = monotonic
        self._sleep = sleep
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._cache: dict[str, _Cached] = {}
        self._generation: dict[str, int] = {}
        self._own_versions: dict[str, str] = {}  # event id -> changeKey of the version our own write produced
        self.stats = {"cache_hits": 0, "cache_misses": 0}

    async def close(self) -> None:
        if self._close is not None:
            await self._close()

    # ------------------------------------------------------------------ health (for /healthz)

    async def health(self, mailbox: str | None = None) -> dict[str, Any]:
        """Whether Graph answers this application now: one ``GET /users/{mailbox}/events?$top=1&$select=id`` for
        an officer's mailbox (a token from Entra ID, the network, and the ``Calendars.ReadWrite`` consent with the
        application access policy, all in one cheap call), bounded by ``HEALTH_TIMEOUT``.

        The answer is kept ``HEALTH_TTL`` seconds (concurrent callers share one request), so a load balancer
        polling /healthz cannot hammer Graph. Returns ``{"ok": bool, "detail": str, "checked_at": ISO time,
        "ms": round trip}``; never raises, and never names the mailbox (the officer's address is personal data).
        """
        cached = self._health
        if cached is not None and self._monotonic() - cached[0] < HEALTH_TTL:
            return cached[1]
        async with self._health_lock:
            cached = self._health
            if cached is not None and self._monotonic() - cached[0] < HEALTH_TTL:
                return cached[1]
            answer = await self._check_health(mailbox)
            self._health = (self._monotonic(), answer)
            return answer

    async def _check_health(self, mailbox: str | None) -> dict[str, Any]:
        started = time.perf_counter()
        checked_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                mailbox = mailbox or await self._health_mailbox()
                if not mailbox:
                    return {"ok": True, "detail": "no officer mailbox to check yet", "checked_at": checked_at}
                config = RequestConfiguration(
                    query_parameters=EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
                        top=1, select=["id"]
                    ),
                    options=[RetryHandlerOption(delay=0, max_retries=0, should_retry=False)],
                )  # one attempt: a probe
                await self._call(
                    mailbox, "check the connection", lambda: self._user(mailbox).events.get(config)
                )
            detail, ok = "ok", True
        except TimeoutError:
            detail, ok = f"no answer within {HEALTH_TIMEOUT:g} s", False
        except CalendarError as exc:
            detail, ok = ("unreachable" if exc.retryable else "refused"), False
            log.warning("Graph health check failed (%s)", "retryable" if exc.retryable else "not retryable")
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            detail, ok = type(exc).__name__, False
        return {
            "ok": ok,
            "detail": detail,
            "checked_at": checked_at,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def _health_mailbox(self) -> str | None:
        """A mailbox to check: one this process has already called, else the first active officer's."""
        if self._semaphores:
            return next(reversed(self._semaphores))
        if self.db is None:
            return None
        async with self.db.reader() as s:
            return (
                await s.exec(
                    select(Officer.mailbox)
                    .where(Officer.active == True, Officer.mailbox != "")  # noqa: E712
                    .order_by(Officer.id)
                    .limit(1)
                )
            ).first()

    # ------------------------------------------------------------------ our own writes, echoed by notifications

    def _remember(self, event: Event | None) -> None:
        if event is not None and event.id and event.change_key:
            self._own_versions.pop(event.id, None)
            self._own_versions[event.id] = event.change_key
            while len(self._own_versions) > OWN_VERSIONS_KEPT:
                self._own_versions.pop(next(iter(self._own_versions)))

    def is_own_version(self, event_id: str, etag: object) -> bool:
        """Whether a notification's ``resourceData["@odata.etag"]`` (``W/"changeKey"``) is the version of the event
        our own create/PATCH produced in this process: then its content is already in the database and reading
        the event again would be a wasted call."""
        if not isinstance(etag, str) or not event_id:
            return False
        key = etag.removeprefix("W/").strip('"')
        return bool(key) and self._own_versions.get(event_id) == key

    # ------------------------------------------------------------------ calls

    def _user(self, mailbox: str):
        if not mailbox:
            raise CalendarError(
                "This officer has no Outlook mailbox in the TSM bot: an LA admin must set it "
                "(tsm import officers, column mailbox).",
                retryable=False,
            )
        return self.client.users.by_user_id(mailbox)

    async def _call(
        self, mailbox: str, what: str, call: Callable[[], Awaitable[T]], *, not_found: bool = False
    ) -> T:
        """One Graph request for ``mailbox``: ≤ N in flight per mailbox, SDK retries inside, errors made plain."""
        sem = self._semaphores.get(mailbox.lower())
        if sem is None:
            sem = self._semaphores[mailbox.lower()] = asyncio.Semaphore(self.per_mailbox)
        async with sem:
            try:
                return await call()
            except APIError as exc:
                status = exc.response_status_code
                if status == 404 and not_found:
                    raise _NotFound() from None
                raise _calendar_error(exc, mailbox, what) from None
            except (httpx.HTTPError, OSError, TimeoutError) as exc:
                raise CalendarError(
                    f"Could not reach Microsoft Graph to {what} for {mailbox} ({type(exc).__name__}).",
                    retryable=True,
                ) from None
            except CalendarError:
                raise
            except Exception as exc:  # azure-identity's ClientAuthenticationError and friends
                if type(exc).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError"):
                    raise CalendarError(
                        "Microsoft Entra ID refused the application's credentials: check "
                        "TSM_GRAPH_TENANT_ID, TSM_GRAPH_CLIENT_ID and the client secret or certificate.",
                        retryable=False,
                    ) from None
                raise CalendarError(
                    f"Microsoft Graph failed to {what} for {mailbox} ({type(exc).__name__}).", retryable=True
                ) from None

    @staticmethod
    def _utc_config() -> RequestConfiguration:
        config = RequestConfiguration()
        config.headers.add("Prefer", _PREFER_UTC)
        return config

    # ------------------------------------------------------------------ free/busy

    def invalidate(self, mailbox: str | None = None) -> None:
        """Forget cached free/busy (of one mailbox, or all): called on every change notification."""
        keys = [mailbox.lower()] if mailbox else list(self._cache)
        for key in keys:
            self._cache.pop(key, None)
            self._generation[key] = self._generation.get(key, 0) + 1

    def _cached(self, mailbox: str, window: Interval) -> list[Interval] | None:
        entry = self._cache.get(mailbox.lower())
        if entry is None or self._monotonic() - entry.fetched_at > self.cache_seconds:
            return None
        if entry.window.start <= window.start and window.end <= entry.window.end:
            return [b for b in entry.busy if b.overlaps(window)]
        return None

    async def busy(self, calendars: Sequence[CalendarRef], window: Interval) -> dict[int, list[Interval]]:
        out: dict[int, list[Interval]] = {}
        missing: list[CalendarRef] = []
        for ref in calendars:
            if not ref.mailbox:  # no Outlook calendar to read: only the bot's own meetings count
                out[ref.officer_id] = []
                continue
            hit = self._cached(ref.mailbox, window)
            if hit is None:
                missing.append(ref)
            else:
                out[ref.officer_id] = hit
        self.stats["cache_hits"] += len(out)
        self.stats["cache_misses"] += len(missing)
        if missing:
            wide = Interval(window.start - CACHE_PAD, window.end + CACHE_PAD)
            mailboxes = list(dict.fromkeys(ref.mailbox.lower() for ref in missing))
            generations = {m: self._generation.get(m, 0) for m in mailboxes}
            fetched = await self._schedules(mailboxes, wide)
            now = self._monotonic()
            for m in mailboxes:
                if self._generation.get(m, 0) == generations[m]:  # no notification arrived meanwhile
                    self._cache[m] = _Cached(wide, fetched[m], now)
            for ref in missing:
                out[ref.officer_id] = [b for b in fetched[ref.mailbox.lower()] if b.overlaps(window)]
        return out

    async def _schedules(self, mailboxes: list[str], window: Interval) -> dict[str, list[Interval]]:
        batches = [mailboxes[i : i + MAX_SCHEDULES] for i in range(0, len(mailboxes), MAX_SCHEDULES)]
        jobs = [self._schedule_call(batch, part) for batch in batches for part in _windows(window)]
        out: dict[str, list[Interval]] = {m: [] for m in mailboxes}
        for result in await asyncio.gather(*jobs):
            for mailbox, intervals in result.items():
                out[mailbox].extend(intervals)
        for m in out:
            out[m] = sorted(set(out[m]))
        return out

    async def _schedule_call(self, batch: list[str], window: Interval) -> dict[str, list[Interval]]:
        body = GetSchedulePostRequestBody(
            schedules=batch,
            start_time=_dttz(window.start),
            end_time=_dttz(window.end),
            availability_view_interval=1440,
        )
        answer = await self._call(
            batch[0],
            "read free/busy",
            lambda: self._user(batch[0]).calendar.get_schedule.post(body, self._utc_config()),
        )
        out: dict[str, list[Interval]] = {m: [] for m in batch}
        problems = []
        for info in (answer.value if answer else None) or []:
            key = (info.schedule_id or "").lower()
            if key not in out:
                continue
            if info.error is not None:
                problems.append(f"{info.schedule_id} ({info.error.response_code or 'error'})")
                continue
            for item in info.schedule_items or []:
                if item.status in BLOCKING:
                    start, end = parse_dttz(item.start), parse_dttz(item.end)
                    if start and end and end > start:
                        out[key].append(Interval(start, end))
        if problems:
            denied = any("AccessDenied" in p for p in problems)
            raise CalendarError(
                f"Outlook did not give free/busy for {', '.join(problems)}"
                + (": the mailbox is outside the application access policy." if denied else "."),
                retryable=not denied,
            )
        return out

    # ------------------------------------------------------------------ events

    def _event(self, details: EventDetails, *, create: bool) -> Event:
        event = Event(
            subject=details.subject,
            body=ItemBody(content_type=BodyType.Text, content=details.body_text),
            start=_dttz(details.start),
            end=_dttz(details.end),
            attendees=[
                GraphAttendee(
                    email_address=EmailAddress(address=a.email, name=a.name),
                    type=AttendeeType.Required if a.required else AttendeeType.Optional,
                )
                for a in details.attendees
            ],
            location=Location(display_name="" if details.online else details.location),
        )
        if create:
            event.transaction_id = transaction_id(details.ical_uid, details.sequence)
            event.allow_new_time_proposals = False  # a new time goes through the bot, which knows the rules
            event.response_requested = True
            if details.online:
                event.is_online_meeting = True
                event.online_meeting_provider = OnlineMeetingProviderType.TeamsForBusiness
        return event

    async def create_event(self, details: EventDetails) -> EventResult:
        mailbox = details.organizer.mailbox
        body = self._event(details, create=True)
        created = await self._call(
            mailbox, "create the meeting", lambda: self._user(mailbox).events.post(body, self._utc_config())
        )
        if created is None or not created.id:
            raise CalendarError(f"Graph created no event in {mailbox}'s calendar.", retryable=True)
        self._remember(created)
        join_url = _join_url(created)
        if details.online and not join_url:
            join_url = await self._read_join_url(mailbox, created.id)
        return EventResult(event_id=created.id, join_url=join_url, attendee_responses=_responses(created))

    async def _read_join_url(self, mailbox: str, event_id: str) -> str | None:
        """The Teams join URL can be empty right after the create: read the event again, a bounded number of times.
        If it is still empty, the change notification or delta sweep that follows brings it later."""
        for attempt in range(self.join_url_reads):
            if attempt and self.join_url_read_delay:
                await self._sleep(self.join_url_read_delay * attempt)
            event = await self._get(mailbox, event_id)
            join_url = _join_url(event)
            if join_url:
                self._remember(event)  # the version with the join URL is what the outbox is about to store
                return join_url
        log.info("join URL not yet available for an event in %s's calendar", mailbox)
        return None

    async def _get(self, mailbox: str, event_id: str) -> Event | None:
        return await self._call(
            mailbox,
            "read the meeting",
            lambda: self._user(mailbox).events.by_event_id(event_id).get(self._utc_config()),
            not_found=True,
        )

    async def update_event(self, event_id: str | None, details: EventDetails) -> EventResult:
        mailbox = details.organizer.mailbox
        if not event_id:
            return await self.create_event(details)
        body = self._event(details, create=False)
        try:
            patched = await self._call(
                mailbox,
                "move the meeting",
                lambda: self._user(mailbox).events.by_event_id(event_id).patch(body, self._utc_config()),
                not_found=True,
            )
        except _NotFound:
            log.info("event gone from %s's calendar; creating it again", mailbox)
            return await self.create_event(details)
        self._remember(patched)
        self.invalidate(mailbox)
        return EventResult(
            event_id=event_id, join_url=_join_url(patched), attendee_responses=_responses(patched)
        )

    async def cancel_event(self, event_id: str | None, details: EventDetails, message: str) -> EventResult:
        mailbox = details.organizer.mailbox
        if not event_id:
            return EventResult(event_id="")
        body = CancelPostRequestBody(comment=message)
        try:
            await self._call(
                mailbox,
                "cancel the meeting",
                lambda: self._user(mailbox).events.by_event_id(event_id).cancel.post(body),
                not_found=True,
            )
        except _NotFound:
            log.info("event already gone from %s's calendar", mailbox)
        self.invalidate(mailbox)
        return EventResult(event_id=event_id)

    async def attendee_responses(self, ref: CalendarRef, event_id: str) -> dict[str, str]:
        """Attendees' answers (email -> accepted/declined/tentativelyAccepted/none/notResponded); {} if gone."""
        try:
            return _responses(await self._get(ref.mailbox, event_id))
        except _NotFound:
            return {}

    async def read_change(self, ref: CalendarRef, event_id: str) -> CalendarChange:
        """The event as it is now, as a plain change (``deleted`` when it is gone)."""
        try:
            event = await self._get(ref.mailbox, event_id)
        except _NotFound:
            return CalendarChange(ref.officer_id, event_id, "deleted")
        if event is None:
            return CalendarChange(ref.officer_id, event_id, "deleted")
        return _change_from_event(ref.officer_id, event)

    # ------------------------------------------------------------------ delta

    async def delta(
        self, ref: CalendarRef, link: str | None, window: Interval | None
    ) -> tuple[list[CalendarChange], str]:
        """Changes since ``link`` (or everything in ``window`` when starting over) and the next deltaLink.
        Raises ``_DeltaGone`` (a CalendarError) when Graph no longer knows the link (410): start over."""
        if link is None:
            assert window is not None
            query = urlencode(
                {
                    "startDateTime": window.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDateTime": window.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
            link = f"{self.client.request_adapter.base_url}/users/{quote(ref.mailbox, safe='@')}/calendarView/delta?{query}"
        changes: list[CalendarChange] = []
        url: str | None = link
        builder = self._user(ref.mailbox).calendar_view.delta
        while url:
            page = await self._call(
                ref.mailbox,
                "read calendar changes",
                lambda u=url: builder.with_url(u).get(self._utc_config()),
            )
            for event in (page.value if page else None) or []:
                removed = (event.additional_data or {}).get("@removed")
                if removed is not None:
                    if (removed or {}).get("reason") == "deleted":
                        changes.append(CalendarChange(ref.officer_id, event.id, "deleted"))
                    else:  # "changed": out of the window (moved far away); read it to know
                        changes.append(await self.read_change(ref, event.id))
                else:
                    changes.append(_change_from_event(ref.officer_id, event))
            if page and page.odata_next_link:
                url = page.odata_next_link
            elif page and page.odata_delta_link:
                return changes, page.odata_delta_link
            else:
                raise CalendarError(
                    "Graph's calendar delta answered with neither a next nor a delta link.", retryable=True
                )
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ subscriptions

    async def create_subscription(
        self, ref: CalendarRef, notification_url: str, client_state: str, expires: datetime
    ) -> tuple[str, datetime]:
        body = Subscription(
            change_type=CHANGE_TYPES,
            notification_url=notification_url,
            lifecycle_notification_url=notification_url,
            resource=f"users/{ref.mailbox}/events",
            expiration_date_time=expires,
            client_state=client_state,
        )
        sub = await self._call(
            ref.mailbox, "subscribe to calendar changes", lambda: self.client.subscriptions.post(body)
        )
        return sub.id, sub.expiration_date_time or expires

    async def renew_subscription(
        self, ref: CalendarRef, subscription_id: str, expires: datetime
    ) -> datetime | None:
        """The new expiry, or None when Graph no longer knows the subscription (create a new one)."""
        body = Subscription(expiration_date_time=expires)
        try:
            sub = await self._call(
                ref.mailbox,
                "renew the calendar subscription",
                lambda: self.client.subscriptions.by_subscription_id(subscription_id).patch(body),
                not_found=True,
            )
        except _NotFound:
            return None
        return (sub.expiration_date_time if sub else None) or expires

    async def delete_subscription(self, ref: CalendarRef, subscription_id: str) -> None:
        try:
            await self._call(
                ref.mailbox,
                "delete the calendar subscription",
                lambda: self.client.subscriptions.by_subscription_id(subscription_id).delete(),
                not_found=True,
            )
        except _NotFound:
            pass


def _calendar_error(exc: APIError, mailbox: str, what: str) -> CalendarError:
    status = exc.response_status_code
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    if status == 403:
        return CalendarError(
            f"Outlook refused to {what} in the mailbox {mailbox} (403 {code}): the mailbox is outside the application "
            "access policy, or the app lacks Calendars.ReadWrite with admin consent. Ask IT to add this officer "
            "to the TSM officers' group.",
            retryable=False,
        )
    if status == 401:
        return CalendarError(
            f"Microsoft Graph did not accept the application's token (401 {code}) to {what}: "
            "check the app registration's permission and admin consent.",
            retryable=False,
        )
    if status == 410:
        return _DeltaGone(f"Graph no longer knows this delta link ({code}).")
    if status == 429:
        return CalendarError(
            f"Microsoft Graph is throttling requests for {mailbox} (429); will retry later.", retryable=True
        )
    return CalendarError(
        f"Microsoft Graph failed to {what} for {mailbox} ({status} {code}).".replace(" )", ")"),
        retryable=True,
    )


class _DeltaGone(CalendarError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


# ---------------------------------------------------------------------- keeping the database in step


class GraphWatcher:
    """Subscriptions, change notifications and the delta sweep for every active officer's calendar.

    ``changes`` is a :class:`tsm.services.calendar_changes.CalendarChanges` (it knows the meetings).
    """

    def __init__(
        self,
        db: Database,
        calendar: GraphCalendar | PerLaCalendar,
        changes,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.calendar = calendar
        self.changes = changes
        self.settings = settings
        self.clock = clock
        self.lifetime = timedelta(minutes=settings.graph_subscription_minutes)
        self._client_state = settings.graph_client_state.get_secret_value()
        self._officer_locks: dict[int, asyncio.Lock] = {}

    @property
    def notifications_configured(self) -> bool:
        return bool(self.settings.graph_notification_url and self._client_state)

    # ------------------------------------------------------------------ notifications (see tsm.web.graph_notifications)

    def accepts(self, client_state: object) -> bool:
        """Whether a notification carries our clientState (compared in constant time)."""
        if not self._client_state or not isinstance(client_state, str):
            return False
        return hmac.compare_digest(client_state.encode(), self._client_state.encode())

    async def handle(self, items: list[dict[str, Any]]) -> dict[str, int]:
        """Process notifications already acknowledged (202): invalidate the officer's free/busy, bring the
        changed meetings' events into the database; lifecycle events trigger a renewal or a delta sweep."""
        counts = {"changes": 0, "applied": 0, "own_writes": 0, "unknown_subscription": 0, "lifecycle": 0}
        subs = await self._subscriptions_by_id({str(i.get("subscriptionId", "")) for i in items})
        todo: dict[tuple[int, str], str] = {}
        for item in items:
            sub = subs.get(str(item.get("subscriptionId", "")))
            if sub is None:
                counts["unknown_subscription"] += 1
                log.warning("Graph notification for an unknown subscription ignored")
                continue
            lifecycle = item.get("lifecycleEvent")
            if lifecycle:
                self.calendar.invalidate(sub.mailbox)
                counts["lifecycle"] += 1
                await self._lifecycle(sub, str(lifecycle))
                continue
            data = item.get("resourceData") if isinstance(item.get("resourceData"), dict) else {}
            event_id = str(data.get("id") or "")
            change_type = str(item.get("changeType") or "updated")
            if change_type != "deleted" and self.calendar.is_own_version(event_id, data.get("@odata.etag")):
                # The echo of our own create/PATCH: nothing new to read, and the cached free/busy stays valid
                # (our meeting's own time is taken from the database; a PATCH already invalidated the cache).
                counts["own_writes"] += 1
                continue
            self.calendar.invalidate(sub.mailbox)
            if event_id:
                todo[(sub.officer_id, event_id)] = change_type
        for (officer_id, event_id), _change_type in todo.items():
            counts["changes"] += 1
            if await self.changes.meeting_for_event(officer_id, event_id) is None:
                continue  # not one of our meetings: the cache invalidation was all it needed
            sub = next(s for s in subs.values() if s.officer_id == officer_id)
            ref = CalendarRef(officer_id, sub.mailbox)
            try:
                # Whatever the notification says (a forged "deleted" with the right clientState once cancelled a
                # meeting whose event still existed), the event is read back from Graph: only what Graph answers
                # is applied. A 404 there is the deletion.
                change = await self.calendar.read_change(ref, event_id)
            except CalendarError as exc:
                log.warning("could not read a changed event of officer %s: %s", officer_id, exc)
                continue
            if await self.changes.apply(change) != "unchanged":
                counts["applied"] += 1
        return counts

    async def _lifecycle(self, sub: GraphSubscription, event: str) -> None:
        log.info("Graph lifecycle event %s for officer %s", event, sub.officer_id)
        if event == "reauthorizationRequired":
            try:
                await self._renew_one(CalendarRef(sub.officer_id, sub.mailbox), sub, self.clock(), force=True)
            except CalendarError as exc:
                log.warning("could not renew the subscription of officer %s: %s", sub.officer_id, exc)
        elif event == "subscriptionRemoved":
            async with self.db.transaction() as s:
                await s.exec(delete(GraphSubscription).where(GraphSubscription.officer_id == sub.officer_id))
        await self.sweep_delta([sub.officer_id])  # "missed" and "subscriptionRemoved": catch up now

    async def _subscriptions_by_id(self, ids: set[str]) -> dict[str, GraphSubscription]:
        async with self.db.reader() as s:
            rows = await s.exec(select(GraphSubscription).where(GraphSubscription.subscription_id.in_(ids)))
            return {r.subscription_id: r for r in rows}

    # ------------------------------------------------------------------ subscriptions

    async def _officers(self, officer_ids: Sequence[int] | None = None) -> list[Officer]:
        async with self.db.reader() as s:
            q = select(Officer).where(Officer.active == True, Officer.mailbox != "")  # noqa: E712
            if officer_ids is not None:
                q = q.where(Officer.id.in_(list(officer_ids)))
            return list(await s.exec(q.order_by(Officer.id)))

    async def renew_subscriptions(self) -> dict[str, int]:
        """Create missing subscriptions, renew those with less than a third of their life left, drop those of
        officers no longer active. Call it from the scheduler every hour or so (and at start-up)."""
        counts = {"created": 0, "renewed": 0, "kept": 0, "deleted": 0, "failed": 0}
        if not self.notifications_configured:
            # Not fatal: the delta sweep still brings Outlook's changes, only later (and free/busy is cached for
            # graph_busy_cache_seconds at most).
            log.warning(
                "Outlook change notifications are off: set TSM_GRAPH_NOTIFICATION_URL (the public HTTPS URL "
                "of /api/graph/notifications) and TSM_GRAPH_CLIENT_STATE (a long random secret)."
            )
            return counts
        now = self.clock()
        officers = await self._officers()
        async with self.db.reader() as s:
            rows = {r.officer_id: r for r in await s.exec(select(GraphSubscription))}
        for officer in officers:
            ref = CalendarRef(officer.id, officer.mailbox)
            row = rows.pop(officer.id, None)
            try:
                if row is not None and row.mailbox.lower() != officer.mailbox.lower():
                    await self.calendar.delete_subscription(
                        CalendarRef(officer.id, row.mailbox), row.subscription_id
                    )
                    row = None
                counts[await self._renew_one(ref, row, now)] += 1
            except CalendarError as exc:
                counts["failed"] += 1
                log.warning("calendar subscription for officer %s failed: %s", officer.id, exc)
        for row in rows.values():  # officers gone or inactive
            try:
                await self.calendar.delete_subscription(
                    CalendarRef(row.officer_id, row.mailbox), row.subscription_id
                )
            except CalendarError as exc:
                log.warning("could not delete the subscription of officer %s: %s", row.officer_id, exc)
            async with self.db.transaction() as s:
                await s.exec(delete(GraphSubscription).where(GraphSubscription.officer_id == row.officer_id))
            counts["deleted"] += 1
        return counts

    async def _renew_one(
        self, ref: CalendarRef, row: GraphSubscription | None, now: datetime, *, force: bool = False
    ) -> str:
        wanted = now + self.lifetime
        if row is not None and row.expires_at > now + timedelta(minutes=1):
            if not force and row.expires_at - now > self.lifetime / 3:
                return "kept"
            expires = await self.calendar.renew_subscription(ref, row.subscription_id, wanted)
            if expires is not None:
                async with self.db.transaction() as s:
                    stored = await s.get(GraphSubscription, ref.officer_id)
                    if stored is not None:  # (a subscriptionRemoved may have dropped it meanwhile)
                        stored.expires_at, stored.renewed_at = expires.astimezone(UTC), now
                        s.add(stored)
                return "renewed"
        sub_id, expires = await self.calendar.create_subscription(
            ref, self.settings.graph_notification_url, self._client_state, wanted
        )
        async with self.db.transaction() as s:
            await s.exec(delete(GraphSubscription).where(GraphSubscription.officer_id == ref.officer_id))
            s.add(
                GraphSubscription(
                    officer_id=ref.officer_id,
                    subscription_id=sub_id,
                    mailbox=ref.mailbox,
                    expires_at=expires.astimezone(UTC),
                    created_at=now,
                )
            )
        # Changes made while there was no subscription were not notified: catch up.
        if row is not None:
            await self.sweep_delta([ref.officer_id])
        return "created"

    # ------------------------------------------------------------------ delta sweep

    async def sweep_delta(self, officer_ids: Sequence[int] | None = None) -> dict[str, int]:
        """The fallback when notifications were missed: every officer's calendar changes since the stored
        deltaLink, applied to the database. Call it from the scheduler (e.g. every 15 minutes)."""
        counts = {"officers": 0, "changes": 0, "applied": 0, "failed": 0}
        for officer in await self._officers(officer_ids):
            lock = self._officer_locks.setdefault(officer.id, asyncio.Lock())
            async with lock:
                try:
                    changes = await self._delta_one(CalendarRef(officer.id, officer.mailbox))
                except CalendarError as exc:
                    counts["failed"] += 1
                    log.warning("calendar delta for officer %s failed: %s", officer.id, exc)
                    continue
            counts["officers"] += 1
            counts["changes"] += len(changes)
            if changes:
                self.calendar.invalidate(officer.mailbox)
            for change in changes:
                if await self.changes.apply(change) not in ("unchanged", "untracked"):
                    counts["applied"] += 1
        return counts

    async def _missing_from_full_sync(
        self, ref: CalendarRef, window: Interval, listed: list[CalendarChange]
    ) -> list[CalendarChange]:
        """A full sync (first sweep, or Graph forgot the delta state) lists only the events that exist, so a
        meeting's event deleted meanwhile would never be reported: read each active meeting's event that the
        listing lacks (normally none) to learn whether it was deleted or moved out of the window."""
        seen = {c.event_id for c in listed}
        async with self.db.reader() as s:
            rows = await s.exec(
                select(Meeting.calendar_event_id).where(
                    Meeting.officer_id == ref.officer_id,
                    Meeting.calendar_event_id.is_not(None),
                    Meeting.status.in_(("booked", "moved")),
                    Meeting.end > window.start,
                    Meeting.start < window.end,
                )
            )
            missing = [event_id for event_id in rows if event_id and event_id not in seen]
        return [await self.calendar.read_change(ref, event_id) for event_id in missing]

    async def _delta_one(self, ref: CalendarRef) -> list[CalendarChange]:
        now = self.clock()
        async with self.db.reader() as s:
            state = await s.get(GraphDeltaState, ref.officer_id)
        horizon = timedelta(days=self.settings.graph_delta_days)
        link = None
        if state is not None and state.window_end - now > horizon / 2:
            link = state.delta_link
        window = Interval(now - timedelta(days=1), now + horizon)
        try:
            changes, new_link = await self.calendar.delta(ref, link, None if link else window)
        except _DeltaGone:
            link = None
            changes, new_link = await self.calendar.delta(ref, None, window)
        if link is None:
            changes += await self._missing_from_full_sync(ref, window, changes)
        async with self.db.transaction() as s:
            row = await s.get(GraphDeltaState, ref.officer_id)
            if row is None:
                row = GraphDeltaState(
                    officer_id=ref.officer_id,
                    delta_link=new_link,
                    window_start=window.start,
                    window_end=window.end,
                    updated_at=now,
                )
            row.delta_link, row.updated_at = new_link, now
            if link is None:
                row.window_start, row.window_end = window.start, window.end
            s.add(row)
        return changes


def build_graph_watcher(app, *, clock: Callable[[], datetime] | None = None) -> GraphWatcher:
    """The watcher for a built :class:`tsm.bootstrap.App` whose calendar is a GraphCalendar (or one per LA)."""
    from ..services.calendar_changes import CalendarChanges

    if not isinstance(app.calendar, GraphCalendar | PerLaCalendar):
        raise GraphConfigError("The Graph watcher needs TSM_CALENDAR_BACKEND=graph.")
    clock = clock or app.booking.clock
    return GraphWatcher(
        app.db, app.calendar, CalendarChanges(app.db, app.booking, clock=clock), app.settings, clock=clock
    )
