"""The web page for school staff and officers (``/web/``), opened from a sign-in link: another transport for the
one router.

What Teams does with a card action, the page does with a form post: the pressed button's verb and data and the
card's inputs become an :class:`~tsm.chat.router.Incoming` (a typed command becomes ``Incoming(text=...)``), go
through ``Router.dispatch`` (rate limit -> identify -> role check -> handler), and the :class:`~tsm.chat.router.Reply`
is rendered back (``tsm/web/render.py``: the same Adaptive Cards, as HTML forms). So every rule, verb, server-side
offer and role check is the Teams one; what a form sends is untrusted, as a card's data is.

Signing in (``tsm/services/signin.py``):

- ``GET /web/link/<token>`` shows whose link it is and a button; only the ``POST`` spends it (a mail scanner that
  opens links does not sign anyone in), opens a session and sets its cookie (HttpOnly, SameSite=Lax, Secure behind
  HTTPS, expiring; only its hash is stored server-side; revocable with ``tsm sessions revoke --email``);
- ``GET/POST /web/signin``: "email me a link", limited per address and per client; the answer is the same
  whether the address is known or not;
- the session's person is read again on every request: someone marked inactive is signed out.

Every state-changing request carries a CSRF token: the session's (derived from its secret), or before sign-in a
random one that must match its cookie. After a post the page redirects (303) to ``GET /web/view``, which shows the
reply kept with the session, so a reload never posts twice. No script of our own; the CSS is a package file.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from importlib import resources
from typing import Any

from aiohttp import web

from ..chat.router import Incoming, Reply, Router, Who
from ..domain.text import days_words
from ..ratelimit import KeyedLimiters, SlidingWindow
from ..services.actors import Actor
from ..services.events import recorded_in_this_task
from ..services.signin import REFUSALS, Session, SignInLinks
from .render import ACTION_FIELD, form_data, render_card, render_text

log = logging.getLogger(__name__)

COOKIE = "tsm_session"
PRE_COOKIE = "tsm_pre"  # the CSRF token of the forms shown before sign-in (double submit)
CSRF_FIELD = "csrf"
MAX_FORM = 64 * 1024
PREFIX = "/web"

PutFile = Callable[
    ..., Awaitable[str]
]  # (name, content_type, data, *, actor) -> absolute URL (bot/files.FileStore)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a sign-in link's token never leaves in a Referer
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

SCHOOL_NAV = (("Book a TSM", "book.start"), ("My meetings", "meeting.list"), ("Help", "help.show"))
OFFICER_NAV = (
    ("My week", "officer.week"),
    ("My schools", "officer.schools"),
    ("Book for a school", "officer.book_start"),
    ("Help", "help.show"),
)
SIGNIN_SENT = (
    "If that address belongs to a school contact or an officer we know, a sign-in link is on its way to "
    "it. It works once, for {days}. Nothing arrived? Check the junk folder, or ask your LA link "
    "officer to check the address they have for you."
)


class WebPage:
    def __init__(
        self,
        *,
        router: Router,
        services: Any,
        signin: SignInLinks,
        clock: Callable[[], datetime],
        put_file: PutFile | None = None,
        on_change: Callable[[], None] | None = None,
        per_address_hour: int = 3,
        per_client_hour: int = 20,
        secure: bool | None = None,
        forwarded_for: bool = False,
    ) -> None:
        self.router = router
        self.services = services
        self.signin = signin
        self.clock = clock
        self.put_file = put_file
        self.on_change = on_change
        self.secure = secure  # None: from the public URL / the request's scheme
        self.forwarded_for = forwarded_for  # trust the proxy's X-Forwarded-For for the per-client limit
        self.per_address = KeyedLimiters(((per_address_hour, 3600.0),), kind=SlidingWindow)
        self.per_client = KeyedLimiters(((per_client_hour, 3600.0),), kind=SlidingWindow)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}", self.redirect_home),
            web.get(f"{PREFIX}/", self.home),
            web.get(f"{PREFIX}/view", self.view),
            web.post(f"{PREFIX}/act", self.act),
            web.post(f"{PREFIX}/say", self.say),
            web.get(f"{PREFIX}/signin", self.signin_form),
            web.post(f"{PREFIX}/signin", self.signin_request),
            web.get(PREFIX + "/link/{token}", self.link_form),
            web.post(PREFIX + "/link/{token}", self.link_exchange),
            web.post(f"{PREFIX}/signout", self.signout),
            web.get(f"{PREFIX}/page.css", self.css),
        ]

    # ------------------------------------------------------------------ pages for a signed-in person

    async def redirect_home(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{PREFIX}/")

    async def home(self, request: web.Request) -> web.Response:
        auth = await self._signed_in(request)
        if isinstance(auth, web.Response):
            return auth
        session, token, actor = auth
        parts = [f"<h1>Hello {escape((actor.name or '').split(' ')[0] or 'there')}</h1>"]
        if actor.kind == "contact" and self.services.notifications is not None:
            waiting = await self.services.notifications.waiting(actor)
            if waiting:
                parts.append(
                    '<section aria-labelledby="waiting"><h2 id="waiting">Waiting for your answer</h2>'
                )
                parts += [
                    self._reply_html(Reply(text=m.text, card=m.card), token, heading_level=3) for m in waiting
                ]
                parts.append("</section>")
        verb = "officer.week" if actor.is_officer else "meeting.list"
        reply = await self._dispatch(actor, Incoming(who=self._who(actor), verb=verb, data={"verb": verb}))
        parts.append(
            f'<section aria-label="{"Your week" if actor.is_officer else "Your meetings"}">'
            f"{self._reply_html(reply, token, heading_level=2)}</section>"
        )
        return self._page("Home", "".join(parts), actor=actor, token=token)

    async def view(self, request: web.Request) -> web.Response:
        auth = await self._signed_in(request)
        if isinstance(auth, web.Response):
            return auth
        session, token, actor = auth
        if not session.view:
            raise web.HTTPSeeOther(f"{PREFIX}/")
        v = session.view
        reply = Reply(
            text=v.get("text"),
            card=v.get("card") if isinstance(v.get("card"), dict) else None,
            error=bool(v.get("error")),
        )
        body = self._reply_html(reply, token, heading_level=1)
        for f in v.get("files") or []:
            hint = (
                "Open it to add the meeting to Outlook or any other calendar."
                if f["name"].lower().endswith(".ics")
                else ""
            )
            body += (
                f'<p class="download"><a class="button" href="{escape(f["url"])}" download>'
                f'Download {escape(f["name"])}</a> <span class="subtle">{hint} The link works for 7 days.</span></p>'
            )
        return self._page("TSM", body, actor=actor, token=token)

    async def act(self, request: web.Request) -> web.Response:
        auth, form = await self._post(request)
        if isinstance(auth, web.Response):
            return auth
        session, token, actor = auth
        raw = form.get(ACTION_FIELD, [""])[-1]
        try:
            action = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested deep enough to exhaust the parser
            action = None
        if (
            not isinstance(action, dict)
            or not isinstance(action.get("verb"), str)
            or not isinstance(action.get("data", {}), dict)
        ):
            return self._refusal(
                400,
                "That button sent something this page can't read. Nothing was changed.",
                actor=actor,
                token=token,
            )
        data = form_data(action, form)
        data["verb"] = action["verb"]
        reply = await self._dispatch(actor, Incoming(who=self._who(actor), verb=action["verb"], data=data))
        return await self._show(session, actor, reply)

    async def say(self, request: web.Request) -> web.Response:
        auth, form = await self._post(request)
        if isinstance(auth, web.Response):
            return auth
        session, token, actor = auth
        text = " ".join(form.get("text", [""])[-1].split())[:500]
        if not text:
            raise web.HTTPSeeOther(f"{PREFIX}/")
        reply = await self._dispatch(actor, Incoming(who=self._who(actor), text=text))
        return await self._show(session, actor, reply)

    async def signout(self, request: web.Request) -> web.Response:
        auth, _form = await self._post(request)
        if isinstance(auth, web.Response):
            return auth
        _session, token, _actor = auth
        await self.signin.end(token)
        response = self._page(
            "Signed out",
            "<h1>You are signed out</h1><p>To come back, open a new sign-in link "
            f'or <a href="{PREFIX}/signin">ask for one</a>.</p>',
        )
        response.del_cookie(COOKIE, path=f"{PREFIX}/")
        return response

    # ------------------------------------------------------------------ signing in

    async def signin_form(
        self, request: web.Request, *, note: str = "", status: int = 200, email: str = ""
    ) -> web.Response:
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
        body = (
            f"<h1>Sign in to book your TSM</h1>{note}"
            "<p>Give your work email address (your school's, or your local authority's for officers). We will "
            "email you a link that signs you in.</p>"
            f'<form method="post" action="{PREFIX}/signin" class="card">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(pre)}">'
            '<div class="field"><label for="email">Work email</label>'
            f'<input type="email" id="email" name="email" autocomplete="email" required maxlength="254" '
            f'value="{escape(email)}"></div>'
            '<div class="actions"><button type="submit" class="button positive">Email me a link</button></div>'
            "</form>"
        )
        response = self._page("Sign in", body, status=status)
        self._set_pre(request, response, pre)
        return response

    async def signin_request(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        if not self._pre_ok(request, form):
            return await self.signin_form(
                request,
                status=403,
                note=_alert(
                    "This form had expired or did not come from this page, so nothing was sent. Please try again."
                ),
            )
        email = " ".join(form.get("email", [""])[-1].split()).lower()[:254]
        if "@" not in email:
            return await self.signin_form(
                request,
                status=400,
                email=email,
                note=_alert("Please give your work email address, such as name@school.example."),
            )
        client = self._client(request)
        wait = max(
            self.per_client.get(f"client:{client}").wait(), self.per_address.get(f"addr:{email}").wait()
        )
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return await self.signin_form(
                request,
                status=429,
                email=email,
                note=_alert(
                    f"Too many links have been asked for just now. Please try again in about {minutes} minutes; the last "
                    "link sent still works."
                ),
            )
        self.per_client.get(f"client:{client}").hit()
        self.per_address.get(f"addr:{email}").hit()
        before = recorded_in_this_task()
        await self.signin.request(email)  # the answer below is the same either way
        self._changed(before)
        days = max(1, round(self.signin.link_ttl.total_seconds() / 86400))
        return self._page(
            "Check your email",
            f'<h1>Check your email</h1><p role="status">{escape(SIGNIN_SENT.format(days=days_words(days)))}</p>',
        )

    async def link_form(self, request: web.Request) -> web.Response:
        token = request.match_info.get("token", "")
        state = await self.signin.peek(token)
        if not state.ok:
            return await self._link_refused(request, state.refusal or "unknown")
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
        body = (
            f"<h1>Sign in as {escape(state.name)}</h1>"
            "<p>This link signs you in to the TSM booking page on this device. It works once.</p>"
            f'<form method="post" action="{PREFIX}/link/{escape(token)}" class="card">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(pre)}">'
            '<div class="actions"><button type="submit" class="button positive">Continue</button></div></form>'
            f'<p class="subtle">Not {escape(state.name)}? Close this page: nothing happens until you press '
            "Continue.</p>"
        )
        response = self._page("Sign in", body)
        self._set_pre(request, response, pre)
        return response

    async def link_exchange(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        token = request.match_info.get("token", "")
        if not self._pre_ok(request, form):
            return self._page(
                "Sign in",
                "<h1>Please press Continue again</h1>"
                + _alert(
                    "This form had expired or did not come from this page, so you were not signed in and the link was "
                    f'not used. <a href="{PREFIX}/link/{escape(token)}">Open the link again</a>.'
                ),
                status=403,
            )
        result = await self.signin.exchange(token)
        if isinstance(result, str):
            return await self._link_refused(request, result)
        previous = request.cookies.get(COOKIE)
        if previous:  # this browser was signed in (perhaps as someone else): that session ends here
            await self.signin.end(previous)
        response = web.HTTPSeeOther(f"{PREFIX}/view" if result.card else f"{PREFIX}/")
        response.set_cookie(
            COOKIE,
            result.session_token,
            path=f"{PREFIX}/",
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
            max_age=max(60, int((result.expires_at - self.clock()).total_seconds())),
        )
        response.headers.update(SECURITY_HEADERS)
        raise response

    async def _link_refused(self, request: web.Request, refusal: str) -> web.Response:
        status = {"unknown": 404, "used": 410, "expired": 410, "inactive": 403}.get(refusal, 400)
        return await self.signin_form(
            request, status=status, note=_alert(REFUSALS.get(refusal, REFUSALS["unknown"]))
        )

    # ------------------------------------------------------------------ the turn

    async def _dispatch(self, actor: Actor, incoming: Incoming) -> Reply:
        async def identify(_who: Who) -> Actor | None:
            return actor  # read from the directory for this request (_signed_in); never from the form

        before = recorded_in_this_task()
        reply = await self.router.dispatch(
            incoming, identify=identify, services=self.services, clock=self.clock
        )
        self._changed(before)
        return reply

    def _changed(self, before: int) -> None:
        """The turn recorded events: wake their delivery now rather than at the next sweep (only a wake-up)."""
        if self.on_change is not None and recorded_in_this_task() > before:
            self.on_change()

    async def _show(self, session: Session, actor: Actor, reply: Reply) -> web.Response:
        files = []
        for name, content_type, data in reply.files:
            if self.put_file is not None:
                url = await self.put_file(name, content_type, data, actor=actor)
                # Served by this same server: keep the path, so the link works whatever origin the page was opened on.
                path = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url
                files.append({"name": name, "url": path})
        await self.signin.set_view(
            session.id, {"text": reply.text, "card": reply.card, "error": reply.error, "files": files}
        )
        raise web.HTTPSeeOther(f"{PREFIX}/view")

    @staticmethod
    def _who(actor: Actor) -> Who:
        """What the rate limit keys on: the session's person (the web transport vouches for it)."""
        return Who(name=actor.name, channel_user_id=f"web:{actor.key}")

    # ------------------------------------------------------------------ sessions, forms, CSRF

    async def _signed_in(self, request: web.Request) -> tuple[Session, str, Actor] | web.Response:
        token = request.cookies.get(COOKIE, "")
        session = await self.signin.session(token)
        if session is None:
            if token:
                response = await self.signin_form(
                    request,
                    status=401,
                    note=_alert(
                        "Your session has ended (it expired, you signed out, or it was closed). Please sign in again."
                    ),
                )
                response.del_cookie(COOKIE, path=f"{PREFIX}/")
                return response
            return await self.signin_form(request, status=401)
        actor = await self.signin.actor(session)
        if actor is None:
            await self.signin.end(token)
            response = self._page(
                "Signed out",
                "<h1>You are signed out</h1>"
                + _alert(
                    "Your address is no longer on the list of school contacts and officers of the TSM service. If that is "
                    "a mistake, ask your LA link officer or the LA attendance team."
                ),
                status=403,
            )
            response.del_cookie(COOKIE, path=f"{PREFIX}/")
            return response
        return session, token, actor

    async def _post(self, request: web.Request) -> tuple[tuple[Session, str, Actor] | web.Response, dict]:
        form = await self._form(request)
        if isinstance(form, web.Response):
            return form, {}
        auth = await self._signed_in(request)
        if isinstance(auth, web.Response):
            return auth, {}
        _session, token, actor = auth
        if not SignInLinks.csrf_ok(token, form.get(CSRF_FIELD, [""])[-1]):
            return self._refusal(
                403,
                "This form had expired or did not come from this page, so nothing was changed. "
                "Please go back, reload the page and try again.",
                actor=actor,
                token=token,
            ), {}
        return auth, form

    @staticmethod
    async def _form(request: web.Request) -> dict[str, list[str]] | web.Response:
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return _plain(415, "This page takes forms only.")
        if (request.content_length or 0) > MAX_FORM:
            return _plain(413, "That form is too large.")
        try:
            data = await request.post()
        except (ValueError, web.HTTPException):
            return _plain(400, "That form could not be read.")
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(value, str):
                out.setdefault(key, []).append(value)
        return out

    @staticmethod
    def _pre_ok(request: web.Request, form: dict[str, list[str]]) -> bool:
        cookie = request.cookies.get(PRE_COOKIE, "")
        given = form.get(CSRF_FIELD, [""])[-1]
        return bool(cookie) and len(cookie) >= 20 and secrets.compare_digest(cookie, given)

    def _set_pre(self, request: web.Request, response: web.Response, pre: str) -> None:
        response.set_cookie(
            PRE_COOKIE,
            pre,
            path=f"{PREFIX}/",
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
            max_age=3600 * 24,
        )

    def _client(self, request: web.Request) -> str:
        """Whom the per-client limit counts: the peer, or behind our proxy the address it appended last (earlier
        entries are whatever the client sent, so they are never trusted)."""
        if self.forwarded_for:
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
            if hops:
                return hops[-1][:64]
        return request.remote or "unknown"

    def _secure(self, request: web.Request) -> bool:
        if self.secure is not None:
            return self.secure
        return self.signin.base_url.startswith("https://") or request.scheme == "https"

    # ------------------------------------------------------------------ HTML

    def _reply_html(self, reply: Reply, token: str, *, heading_level: int) -> str:
        out = ""
        if reply.text and (
            reply.card is None or reply.text not in json.dumps(reply.card, ensure_ascii=False)
        ):
            role = ' role="alert"' if reply.error else ' role="status"'
            out += (
                f'<div class="reply{" error" if reply.error else ""}"{role}>{render_text(reply.text)}</div>'
            )
        if reply.card is not None:
            out += render_card(
                reply.card,
                action_url=f"{PREFIX}/act",
                hidden={CSRF_FIELD: SignInLinks.csrf_token(token)},
                heading_level=heading_level,
            )
        return out

    def _refusal(self, status: int, text: str, *, actor: Actor, token: str) -> web.Response:
        return self._page(
            "Not done",
            "<h1>Nothing was changed</h1>"
            + _alert(escape(text))
            + f'<p><a href="{PREFIX}/">Back to the home page</a></p>',
            actor=actor,
            token=token,
            status=status,
        )

    def _page(
        self, title: str, main: str, *, actor: Actor | None = None, token: str = "", status: int = 200
    ) -> web.Response:
        nav = ""
        if actor is not None and token:
            csrf = escape(SignInLinks.csrf_token(token))
            buttons = "".join(
                f'<button type="submit" class="navbutton" name="{ACTION_FIELD}" formnovalidate value="'
                f'{escape(json.dumps({"verb": v, "data": {"verb": v}, "inputs": False}))}">{escape(t)}</button>'
                for t, v in (OFFICER_NAV if actor.is_officer else SCHOOL_NAV)
            )
            nav = (
                f'<nav aria-label="Main"><a class="navbutton" href="{PREFIX}/">Home</a>'
                f'<form method="post" action="{PREFIX}/act" class="inline"><input type="hidden" name="{CSRF_FIELD}" '
                f'value="{csrf}">{buttons}</form>'
                f'<form method="post" action="{PREFIX}/signout" class="inline"><input type="hidden" '
                f'name="{CSRF_FIELD}" value="{csrf}"><button type="submit" class="navbutton">Sign out</button></form>'
                "</nav>"
            )
            main += (
                f'<form method="post" action="{PREFIX}/say" class="say"><input type="hidden" name="{CSRF_FIELD}" '
                f'value="{csrf}"><label for="say">Or type what you want (for example <em>book 3 December</em>, '
                '<em>my meetings</em>, <em>help</em>)</label><div class="sayrow">'
                '<input type="text" id="say" name="text" maxlength="500" autocomplete="off">'
                '<button type="submit" class="button">Send</button></div></form>'
            )
        who = f'<p class="who">Signed in as {escape(actor.name)}</p>' if actor is not None else ""
        html = (
            '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · TSM bookings</title>"
            f'<link rel="stylesheet" href="{PREFIX}/page.css"></head><body>'
            '<a class="skip" href="#main">Skip to the content</a>'
            f'<header><p class="brand">TSM bookings</p>{who}{nav}</header>'
            f'<main id="main" tabindex="-1">{main}</main>'
            "<footer><p>Targeting Support Meetings with your local authority. No pupil data is asked for or "
            "kept here.</p></footer></body></html>"
        )
        return web.Response(
            status=status, text=html, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    async def css(self, request: web.Request) -> web.Response:
        text = resources.files("tsm.web").joinpath("page.css").read_text(encoding="utf-8")
        return web.Response(
            text=text,
            content_type="text/css",
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


def _alert(html: str) -> str:
    return f'<div class="reply error" role="alert"><p>{html}</p></div>'


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain", headers=SECURITY_HEADERS)
