"""Files a reply carries (the ``.ics`` invitation with the local calendar, a report's CSV), served by the bot itself.

Why a link served by the bot rather than an attachment: in a personal chat, Teams renders inline base64
(``data:`` URI) attachments only for images, and a bot can hand over any other file only through the
file-consent flow (``supportsFiles`` in the manifest, the user accepts, the bot uploads to their OneDrive)
or by Graph. An ``Action.OpenUrl`` button to ``GET /files/<token>/<name>`` on the bot's own host works in
every Teams client, on the web and in the Agents Playground, and needs no extra permission.

The database is the source of truth (table ``bot_file``): the file is written there where the link is made, so
any bot instance behind a load balancer serves it, and a restart loses nothing. The token is 192 random bits
and only its SHA-256 is stored. A link works for ``ttl`` (7 days); after that it answers 410 with a clear text,
and the scheduler's daily housekeeping deletes the row (an invitation names the attendees: it is not kept
longer than needed). An unknown token or a name that does not match answers 404.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import select

from tsm.adapters.db.meetings import Meeting
from tsm.adapters.db.teams import BotFile

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_UID = re.compile(rb"^UID:([^\r\n]{1,120})\r?$", re.MULTILINE)
TTL = timedelta(days=7)
MAX_BYTES = 5 * 1024 * 1024  # an invitation is a few KB, a report's CSV some hundreds

EXPIRED_TEXT = (
    'This download link has expired: links last {days} days. Ask the TSM bot again (say "my meetings", '
    "or run the report again) to get a new one.\n"
)
UNKNOWN_TEXT = (
    "This download link does not exist, or it expired and was deleted. Ask the TSM bot again (say "
    '"my meetings", or run the report again) to get a new one.\n'
)


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    data: bytes
    created_at: datetime
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def safe_name(name: str) -> str:
    return (_SAFE_NAME.sub("-", name).strip("-.") or "file")[:200]


def _now() -> datetime:
    return datetime.now(UTC)


class FileStore:
    def __init__(
        self, db: Any, *, public_url: str, ttl: timedelta = TTL, clock: Callable[[], datetime] = _now
    ) -> None:
        """``public_url``: the origin links are made with (``TSM_PUBLIC_URL``), never a request's Host header,
        which whoever sends the request chooses."""
        if not public_url.startswith(("https://", "http://")):
            raise ValueError(
                "download links need the bot's public URL (TSM_PUBLIC_URL), e.g. https://tsm.la.gov.uk"
            )
        self.db = db
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl
        self.clock = clock

    async def put(self, name: str, content_type: str, data: bytes, *, actor: Any = None) -> str:
        """Keep the file in the database; return the absolute URL it is served at (by any instance).

        ``actor`` (tsm.services.actors.Actor) is who the file was made for; an ``.ics`` file's meeting is found by
        its UID. Both are recorded to know what a link was, never to let someone else fetch it."""
        if len(data) > MAX_BYTES:
            raise ValueError(f"a file to download is at most {MAX_BYTES // (1024 * 1024)} MB")
        token = secrets.token_urlsafe(24)
        safe = safe_name(name)
        now = self.clock()
        async with self.db.transaction() as s:
            meeting_id = None
            uid = _UID.search(data) if safe.lower().endswith(".ics") else None
            if uid is not None:
                meeting_id = (
                    await s.exec(
                        select(Meeting.id).where(
                            Meeting.ical_uid == uid.group(1).decode("utf-8", "replace").strip()
                        )
                    )
                ).first()
            s.add(
                BotFile(
                    token_hash=token_hash(token),
                    name=safe,
                    content_type=content_type[:100],
                    data=data,
                    size=len(data),
                    meeting_id=meeting_id,
                    made_for=(getattr(actor, "key", "") or "")[:80],
                    school_id=getattr(actor, "school_id", None),
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        return f"{self.public_url}/files/{token}/{safe}"

    async def get(self, token: str) -> StoredFile | None:
        """The file behind a token (expired or not), or None when there is none."""
        if not _TOKEN.match(token or ""):
            return None
        async with self.db.reader() as s:
            row = (
                await s.exec(
                    select(
                        BotFile.name,
                        BotFile.content_type,
                        BotFile.data,
                        BotFile.created_at,
                        BotFile.expires_at,
                    ).where(BotFile.token_hash == token_hash(token))
                )
            ).first()
        if row is None:
            return None
        return StoredFile(row[0], row[1], bytes(row[2]), row[3], row[4])

    async def handle(self, request: web.Request) -> web.Response:
        f = await self.get(request.match_info.get("token", ""))
        if f is None or request.match_info.get("name") != f.name:
            return _text(404, UNKNOWN_TEXT)
        if self.clock() >= f.expires_at:
            return _text(410, EXPIRED_TEXT.format(days=max(1, round(self.ttl / timedelta(days=1)))))
        return web.Response(
            body=f.data,
            content_type=f.content_type.split(";")[0],
            headers={
                "Content-Disposition": f'attachment; filename="{f.name}"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/files/{token}/{name}", self.handle)]


def _text(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def ics_card(name: str, url: str) -> dict:
    """A small card with a button that downloads the file (an invitation: 'Add to my calendar')."""
    is_ics = name.lower().endswith(".ics")
    title = "Add it to your calendar" if is_ics else "Your file"
    hint = (
        "Open the invitation to add the meeting to Outlook or any other calendar. The link works for 7 days."
        if is_ics
        else f"Download {name}. The link works for 7 days."
    )
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": hint, "wrap": True, "isSubtle": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": f"Download {name}", "url": url}],
    }
