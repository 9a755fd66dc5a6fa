"""One settings object, read from the environment (prefix ``TSM_``) or a ``.env`` file. Secrets never logged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSM_", env_file=".env", extra="ignore")

    # The clock (tsm.clock): unset = the machine's time; an instant with its offset (2026-11-10T09:00:00+00:00)
    # starts the service's clock there and lets it run on, so a demo or an end-to-end test behaves the same on
    # any day. Never set it in production.
    clock_start: datetime | None = None

    # Storage: SQLite file by default (embedded, zero set-up); postgresql://user@host/db in production.
    database_url: str = "sqlite:///var/tsm.db"
    # Slow clients (tsm/web/slow_clients.py): a request's headers must arrive within the first (aiohttp's keep-alive
    # timer, which also closes idle connections), its body within the second after its headers.
    http_header_timeout: float = Field(default=15.0, gt=0, le=600)
    http_body_timeout: float = Field(default=30.0, gt=0, le=600)
    # How long a SQLite write waits for another writer before the request is answered 503 (Retry-After).
    sqlite_busy_timeout: float = Field(default=10.0, gt=0, le=60)
    # How long a PostgreSQL statement waits for a lock another transaction holds, then the same 503.
    postgres_lock_timeout: float = Field(default=10.0, gt=0, le=60)
    # The default LA: its GIAS code and policy profile (bundled name or a .toml path).
    la_code: str = "999"
    policy: str = "demo"

    # Calendars: "local" keeps events in the database and writes .ics invitations; "graph" uses Outlook.
    calendar_backend: Literal["local", "graph"] = "local"
    invitations_dir: Path = Path("var/invitations")
    # The .ics files written there (attendees' names and emails) are deleted this many days after they were
    # written, by the daily housekeeping and `tsm report purge`.
    invitations_retention_days: int = Field(default=30, ge=1, le=3650)
    # Several LAs on one deployment (issue 15): a TOML file of each LA's own Microsoft tenant and credentials for its
    # officers' Outlook calendars (tsm.la_settings); LAs not in it use the graph_* settings below.
    la_settings_file: str = ""
    graph_tenant_id: str = ""
    graph_client_id: str = ""
    graph_client_secret: SecretStr = SecretStr("")
    graph_certificate_path: str = ""
    graph_certificate_password: SecretStr = SecretStr("")
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    # Change notifications: the public HTTPS URL of POST /api/graph/notifications, and the clientState secret
    # Graph echoes in every notification (a long random string; notifications without it are ignored).
    graph_notification_url: str = ""
    graph_client_state: SecretStr = SecretStr("")
    graph_subscription_minutes: int = Field(
        default=4200, ge=45, le=4230
    )  # Graph's maximum for events is 4230
    # Throttling and retries: Graph allows 4 concurrent requests per app per mailbox.
    graph_max_concurrent_per_mailbox: int = Field(default=4, ge=1, le=4)
    graph_retry_max: int = Field(default=3, ge=0, le=10)  # the SDK's retries on 429/503/504
    graph_retry_delay: float = Field(default=3.0, ge=0, le=180)  # base delay added to the SDK's backoff
    graph_timeout_seconds: float = 30.0
    # Free/busy cache per officer, invalidated by change notifications; this age is the safety net.
    graph_busy_cache_seconds: float = 600.0
    # A Teams meeting's join URL can arrive after the create: re-read the event this many times.
    graph_join_url_reads: int = Field(default=3, ge=0, le=10)
    graph_join_url_read_delay: float = 1.0
    # The delta sweep watches this many days ahead (re-initialised when half of it has passed).
    graph_delta_days: int = Field(default=400, ge=30, le=1000)

    # Bot Framework (empty app id = local no-auth mode, for development only).
    microsoft_app_id: str = ""
    microsoft_app_password: SecretStr = SecretStr("")
    microsoft_app_tenant_id: str = ""
    # No longer read (issue 12): the tenants allowed are kept in the database, each tied to the LA, a trust or a
    # school (`tsm tenants add`). Set, it stops `tsm run` with a message saying what to do instead.
    allowed_tenants: list[str] = Field(default_factory=list)
    # The only serviceUrls an activity may name (the bot posts its replies there): Teams' public cloud by default;
    # in the local no-auth mode loopback addresses too (bot/service_urls.py).
    teams_service_urls: list[str] = Field(default_factory=lambda: ["https://smba.trafficmanager.net/"])
    host: str = "127.0.0.1"
    port: int = 3978
    # Without an app id the bot authenticates nobody, so it listens only on a loopback address unless this is set:
    # for a closed test network only, never in production.
    insecure_no_auth_on_public_address: bool = False
    # The bot's public origin (https://bot.example.org) for links it serves (.ics invitations), never the Host
    # header of a request: required with an app id; empty in the local mode = http://TSM_HOST:TSM_PORT.
    # run_scheduler: run the sweeps inside the bot process (`tsm run`).
    public_url: str = ""
    run_scheduler: bool = True

    # The web page for school staff and officers (tsm/web/page.py, under /web/ on the bot's server): off, no sign-in
    # links are issued. A link is single use and lasts web_link_days; the session it opens lasts web_session_hours.
    # Sign-in requests ("email me a link") are limited per address and per client, per hour.
    web_page: bool = True
    web_link_days: int = Field(default=7, ge=1, le=30)
    web_session_hours: int = Field(default=12, ge=1, le=720)
    web_signin_per_address_hour: int = Field(default=3, ge=1, le=100)
    web_signin_per_client_hour: int = Field(default=20, ge=1, le=10_000)
    # Behind a reverse proxy that appends the client's address to X-Forwarded-For (nginx: $proxy_add_x_forwarded_for):
    # the per-client limit counts the address the proxy saw (the header's last entry), not the proxy's own.
    web_forwarded_for: bool = False

    # Email (issue 11): how emails leave. "files": each email an .eml under mail_dir (the embedded default; in local
    # mode /dev/mail lists them), "smtp": an SMTP relay, "graph": Graph sendMail from the LA's shared mailbox.
    mail_backend: Literal["files", "smtp", "graph"] = "files"
    mail_dir: Path = Path("var/mail")
    mail_from: str = "tsm@localhost"  # the sender address (with graph: the shared mailbox, unless set below)
    mail_from_name: str = "TSM bookings"
    mail_graph_mailbox: str = ""  # the shared mailbox sendMail is called on (UPN); empty = mail_from
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = (
        "starttls"  # tls: implicit TLS (465); none: a local relay
    )
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_ca_file: str = ""  # a private CA's certificate for the relay (empty: the system's trust store)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Which channel reaches a person: Teams when they have a working conversation with the bot, else email
    # (teams_then_email); email for everyone; or Teams only (undelivered until they install the app).
    delivery: Literal["teams_then_email", "email", "teams"] = "teams_then_email"

    # Calendar outbox retries.
    outbox_max_attempts: int = 6

    # Scheduler (issue 5): when officers' agendas go, how long before chasers, rebooking and end-of-meeting waits.
    scheduler_agenda_hour: int = Field(
        default=16, ge=0, le=23
    )  # local hour the next working day's agenda goes
    scheduler_chaser_after_weeks: int = Field(
        default=3, ge=1, le=12
    )  # weeks into term before chasing a school
    scheduler_leader_rebook_hours: int = Field(
        default=48, ge=1, le=336
    )  # then the officer is nudged to rearrange
    scheduler_meeting_end_margin_minutes: int = Field(
        default=30, ge=0, le=240
    )  # timer fallback after the end
    # A worker's claim on a message lasts this long (renewed right before the send); a worker that dies mid-send
    # has its claims taken over by another after it, by the retry sweep that runs this often.
    scheduler_lease_seconds: int = Field(default=300, ge=2, le=3600)
    scheduler_retry_sweep_seconds: int = Field(default=30, ge=1, le=3600)
    scheduler_reminder_sweep_seconds: int = Field(
        default=60, ge=1, le=3600
    )  # how often reminders due are looked for

    # Feedback (issue 6): evaluation comments and TSM records are kept this many days after the meeting, then
    # purged (comments and the author link go, anonymous ratings stay for the trends; records and actions go).
    feedback_retention_days: int = Field(default=730, ge=30, le=3650)
    # History (issue 15): meetings with their schools, attendees, status changes and calendar entries, domain events
    # and ledger rows are deleted this many years after the meeting's end (the rows' time), by the daily sweep; the
    # audit log is kept as long as the LA's policy profile says ([retention] audit_years).
    retention_years: int = Field(default=6, ge=1, le=100)
    evaluation_reminder_days: int = Field(default=3, ge=1, le=30)  # one reminder this long after the request
    action_reminder_lead_days: int = Field(
        default=7, ge=0, le=60
    )  # open actions remind their owner from then

    # Production: logs, metrics, abuse protection (issue 7).
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for a log collector
    metrics_token: SecretStr = SecretStr("")  # when set, GET /metrics needs "Authorization: Bearer <token>"
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535
    )  # `tsm worker` serves /metrics, /healthz here (0: off)
    # Per-user chat rate limit (each bot process): at most N turns in any window of T seconds; 0 turns it off.
    chat_burst_turns: int = Field(default=20, ge=0)
    chat_burst_seconds: float = Field(default=10.0, gt=0)
    chat_sustained_turns: int = Field(default=300, ge=0)
    chat_sustained_seconds: float = Field(default=600.0, gt=0)
