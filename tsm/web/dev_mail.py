"""The local mailbox page (``/dev/mail``): the emails the embedded default wrote under ``var/mail``, listed and shown,
so a person trying the product can open a message and click its link.

Served **in local mode only** (no ``TSM_MICROSOFT_APP_ID``, mail backend ``files``) and only to the machine itself
(a loopback client): these emails hold everyone's sign-in links. ``GET /dev/mail`` lists the messages, newest first;
``GET /dev/mail/{name}`` shows one (headers, the text with its links clickable, its attachments);
``/dev/mail/{name}/html`` serves its HTML part in a sandbox (no script runs); ``/dev/mail/{name}/{n}`` downloads
attachment ``n`` (an ``.ics``). Every piece of the emails is HTML-escaped here.
"""

from __future__ import annotations

import email
import html
import ipaddress
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiohttp import web

from ..adapters.mail.files import NAME

URL = re.compile(r"https?://[^\s<>\"')\]]+")
PAGE_HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;"
    "padding:0 1rem;color:#1b1b1b}}a{{color:#0b57d0}}a:focus{{outline:3px solid #f4b400}}"
    "table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.3rem .5rem;"
    "border-bottom:1px solid #ccc;vertical-align:top}}pre{{white-space:pre-wrap;background:#f6f6f6;"
    "padding:1rem}}</style></head><body>"
)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _linked(text: str) -> str:
    """``text`` escaped, with each http(s) address a link."""
    out, last = [], 0
    for m in URL.finditer(text):
        out.append(html.escape(text[last : m.start()]))
        url = m.group(0)
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


class DevMailbox:
    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dev/mail", self.index),
            web.get("/dev/mail/{name}", self.show),
            web.get("/dev/mail/{name}/html", self.show_html),
            web.get("/dev/mail/{name}/{n:\\d+}", self.attachment),
        ]

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted((p for p in self.folder.iterdir() if NAME.match(p.name)), reverse=True)

    def _read(self, request: web.Request) -> tuple[str, EmailMessage]:
        if not _loopback(request):
            raise web.HTTPNotFound()
        name = request.match_info["name"]
        path = self.folder / name
        if not NAME.match(name) or not path.is_file():
            raise web.HTTPNotFound(text="No such message.")
        return name, email.message_from_bytes(path.read_bytes(), policy=policy.default)

    @staticmethod
    def _page(title: str, body: str) -> web.Response:
        return web.Response(
            text=PAGE_HEAD.format(title=html.escape(title)) + body + "</body></html>",
            content_type="text/html",
            headers={
                "Content-Security-Policy": CSP,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def index(self, request: web.Request) -> web.Response:
        if not _loopback(request):
            raise web.HTTPNotFound()
        rows = []
        for path in self._files()[:500]:
            m = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            rows.append(
                f"<tr><td>{html.escape(str(m.get('Date', '')))}</td><td>{html.escape(str(m.get('To', '')))}"
                f'</td><td><a href="/dev/mail/{path.name}">{html.escape(str(m.get("Subject", "")) or "(no subject)")}'
                "</a></td></tr>"
            )
        table = (
            (
                '<table><thead><tr><th scope="col">Date</th><th scope="col">To</th><th scope="col">Subject</th>'
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            )
            if rows
            else "<p>No email yet. Book a TSM, or send a school its link (<code>tsm invite --urn ...</code>).</p>"
        )
        return self._page(
            "Local mailbox",
            "<h1>Local mailbox</h1><p>Every email the TSM service sent in local mode "
            f"(written under <code>{html.escape(str(self.folder))}</code>), newest first.</p>" + table,
        )

    async def show(self, request: web.Request) -> web.Response:
        name, m = self._read(request)
        headers = "".join(
            f'<tr><th scope="row">{h}</th><td>{html.escape(str(m.get(h, "")))}</td></tr>'
            for h in ("Subject", "From", "To", "Reply-To", "Date")
            if m.get(h)
        )
        text = m.get_body(("plain",))
        body = f"<pre>{_linked(text.get_content())}</pre>" if text is not None else "<p>(no text part)</p>"
        extra = []
        if m.get_body(("html",)) is not None:
            extra.append(
                f'<li><a href="/dev/mail/{name}/html">The HTML part, as a mail client shows it</a></li>'
            )
        for n, part in enumerate(m.iter_attachments()):
            label = part.get_filename() or part.get_content_type()
            extra.append(
                f'<li><a href="/dev/mail/{name}/{n}" download>{html.escape(label)}</a> '
                f"({html.escape(part.get_content_type())})</li>"
            )
        return self._page(
            str(m.get("Subject", "Message")),
            f'<p><a href="/dev/mail">All messages</a></p><h1>{html.escape(str(m.get("Subject", "")))}'
            f"</h1><table>{headers}</table>{body}" + (f"<ul>{''.join(extra)}</ul>" if extra else ""),
        )

    async def show_html(self, request: web.Request) -> web.Response:
        _name, m = self._read(request)
        part = m.get_body(("html",))
        if part is None:
            raise web.HTTPNotFound(text="This message has no HTML part.")
        # The email's own HTML in a sandbox: no script, no form, no request anywhere but a link the person follows.
        return web.Response(
            text=part.get_content(),
            content_type="text/html",
            headers={
                "Content-Security-Policy": "sandbox allow-popups allow-top-navigation-by-user-"
                "activation; " + CSP,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def attachment(self, request: web.Request) -> web.Response:
        _name, m = self._read(request)
        parts = list(m.iter_attachments())
        n = int(request.match_info["n"])
        if n >= len(parts):
            raise web.HTTPNotFound(text="No such attachment.")
        part = parts[n]
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", part.get_filename() or f"attachment-{n}")
        return web.Response(
            body=part.get_payload(decode=True) or b"",
            content_type=part.get_content_type(),
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )


def dev_mail_enabled(settings) -> bool:
    """Local mode (no Bot Framework app id) with the ``.eml`` files backend."""
    return not settings.microsoft_app_id and settings.mail_backend == "files"
