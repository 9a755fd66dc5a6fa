"""Files a reply carries (the ``.ics`` invitation with the local calendar), served by the bot itself.

Why a link served by the bot rather than an attachment: in a personal chat, Teams renders inline base64
(``data:`` URI) attachments only for images, and a bot can hand over any other file only through the
file-consent flow (``supportsFiles`` in the manifest, the user accepts, the bot uploads to their OneDrive)
or by Graph. An ``Action.OpenUrl`` button to ``GET /files/<token>/<name>`` on the bot's own host works in
every Teams client, on the web and in the Agents Playground, and needs no extra permission.

The token is 192 random bits; files live in memory for ``ttl`` (7 days by default) and at most
``max_files`` are kept. The local calendar (the only one that produces ``.ics`` replies) is a single-process
set-up; with Graph, invitations arrive by email and no file is attached.
"""

from __future__ import annotations

import contextvars
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

# The origin (scheme://host[:port]) of the request being handled, when no public URL is configured.
REQUEST_ORIGIN: contextvars.ContextVar[str] = contextvars.ContextVar("tsm_request_origin", default="")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    data: bytes
    at: float


class FileStore:
    def __init__(self, *, public_url: str = "", ttl: float = 7 * 24 * 3600.0, max_files: int = 2000,
                 clock=time.monotonic) -> None:
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl
        self.max_files = max_files
        self.clock = clock
        self._files: OrderedDict[str, StoredFile] = OrderedDict()

    def put(self, name: str, content_type: str, data: bytes) -> str:
        """Keep the file; return the absolute URL it is served at."""
        token = secrets.token_urlsafe(24)
        safe = _SAFE_NAME.sub("-", name).strip("-.") or "file"
        self._files[token] = StoredFile(safe, content_type, data, self.clock())
        while len(self._files) > self.max_files:
            self._files.popitem(last=False)
        base = self.public_url or REQUEST_ORIGIN.get() or "http://127.0.0.1:3978"
        return f"{base}/files/{token}/{safe}"

    def get(self, token: str) -> StoredFile | None:
        f = self._files.get(token)
        if f is None:
            return None
        if self.clock() - f.at > self.ttl:
            self._files.pop(token, None)
            return None
        return f

    async def handle(self, request: web.Request) -> web.Response:
        f = self.get(request.match_info.get("token", ""))
        if f is None or request.match_info.get("name") != f.name:
            return web.json_response({"error": "This link has expired or does not exist."}, status=404)
        return web.Response(body=f.data, content_type=f.content_type.split(";")[0],
                            headers={"Content-Disposition": f'attachment; filename="{f.name}"',
                                     "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/files/{token}/{name}", self.handle)]


def ics_card(name: str, url: str) -> dict:
    """A small card with a button that downloads the file (an invitation: 'Add to my calendar')."""
    is_ics = name.lower().endswith(".ics")
    title = "Add it to your calendar" if is_ics else "Your file"
    hint = ("Open the invitation to add the meeting to Outlook or any other calendar."
            if is_ics else f"Download {name}.")
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
                     {"type": "TextBlock", "text": hint, "wrap": True, "isSubtle": True}],
            "actions": [{"type": "Action.OpenUrl", "title": f"Download {name}", "url": url}]}
