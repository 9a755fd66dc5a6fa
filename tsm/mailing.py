"""Email as a delivery channel: a :class:`~tsm.messaging.MessengerPort` that turns a message into an email, and the
per-recipient choice between Teams and email.

- :class:`EmailChannel` finds the person's address (a school contact's or an officer's), renders the message (its
  text, also the subject, and its Adaptive Card) as a plain-text and an HTML part, says who sent it and why, and
  hands it to the mail port (``tsm.adapters.mail``). A card with actions (Accept, Book, pick a time...) cannot be
  clicked in an email: the email carries a sign-in link to the web page instead, from the :class:`SignInIssuer`
  the composition root gives (none: no link). Every piece of text is HTML-escaped; nothing but what the message
  already holds goes in (messages never carry pupil data).
- :class:`ChannelChoice` decides per recipient: Teams when the person has a working conversation with the bot,
  otherwise email (``teams_then_email``, the default); or email for everyone; or Teams only. A message emailed is
  *sent* in the delivery ledger, so it is not held for a late install of the app; a person with neither a
  conversation nor an address keeps Teams' answer (undeliverable), and gets the message if they install the app.

Built in ``tsm.composition`` and nowhere else.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Literal, Protocol

from .adapters.db.directory import LA, Officer, School, SchoolContact
from .adapters.db.engine import Database
from .adapters.db.meetings import Meeting, MeetingAttendee
from .adapters.mail import MailPort, MailStatus
from .domain.text import hold_escapes, release_escapes
from .messaging import Invitation, Message, MessengerPort, Recipient, SendResult, SendStatus

log = logging.getLogger(__name__)

Delivery = Literal["teams_then_email", "email", "teams"]
ROLE_WORDS = {"attendance_lead": "attendance lead", "senior_leader": "senior leader", "other": "staff member"}
CLICKABLE = ("Action.Execute", "Action.Submit", "Action.ShowCard", "Action.ToggleVisibility")


class SignInIssuer(Protocol):
    """A sign-in link to the web page for ``recipient`` (``card``: what the link should open on), or None when the
    page is off or the person has no address. ``tsm.services.signin.SignInLinks`` is the product's."""

    async def issue(self, recipient: Recipient, *, card: dict | None = None) -> str | None: ...


# ---------------------------------------------------------------------- who


@dataclass(frozen=True)
class Addressee:
    name: str
    email: str
    why: str  # "You receive this as the attendance lead of Oak Primary, ..." (who sent it and why)
    reply_to: str = ""  # a school contact's link officer: a reply reaches a person
    la_name: str = ""
    la_code: str = ""  # whose LA: its own sender, when it has one (issue 15)


async def addressee(db: Database, recipient: Recipient) -> Addressee | None:
    """The person's name, address and why they are written to; None when there is no active person with an
    address."""
    async with db.reader() as s:
        if recipient.kind == "contact":
            c = await s.get(SchoolContact, recipient.id)
            if c is None or not c.active or not (c.email or "").strip():
                return None
            school = await s.get(School, c.school_id)
            officer = (
                await s.get(Officer, school.link_officer_id) if school and school.link_officer_id else None
            )
            la = await s.get(LA, school.la_id) if school else None
            la_name = la.name if la else "the local authority"
            why = (
                f"You receive this as the {ROLE_WORDS.get(c.role, 'staff member')} of {school.name if school else 'your school'} "
                f"for Targeting Support Meetings (TSMs) with {la_name}."
            )
            if officer is not None:
                why += f" Your link officer is {officer.name} ({officer.email}): reply to this email to reach them."
            return Addressee(
                c.name, c.email.strip(), why, officer.email if officer else "", la_name, la.code if la else ""
            )
        if recipient.kind == "attendee":  # whoever a meeting invites, school contact or not: its invitation
            a = await s.get(MeetingAttendee, recipient.id)
            if a is None or not (a.email or "").strip():
                return None
            m = await s.get(Meeting, a.meeting_id)
            officer = await s.get(Officer, m.officer_id) if m is not None else None
            la = await s.get(LA, officer.la_id) if officer is not None else None
            why = "You receive this because you are invited to this Targeting Support Meeting."
            if officer is not None:
                why += f" Reply to this email to reach {officer.name}, the LA link officer."
            return Addressee(
                a.name,
                a.email.strip(),
                why,
                officer.email if officer else "",
                la.name if la else "",
                la.code if la else "",
            )
        if recipient.kind == "officer":
            o = await s.get(Officer, recipient.id)
            if o is None or not o.active or not (o.email or "").strip():
                return None
            la = await s.get(LA, o.la_id)
            la_name = la.name if la else "the local authority"
            return Addressee(
                o.name,
                o.email.strip(),
                f"You receive this as a link officer of {la_name} for Targeting Support Meetings (TSMs).",
                "",
                la_name,
                la.code if la else "",
            )
    return None


# ---------------------------------------------------------------------- what


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(.+?)_(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def plain(text: str) -> str:
    """Markdown as Teams shows it, as plain words: **bold**, _italic_, [title](url) -> title (url); what someone
    typed (escaped by tsm.domain.text.plain) comes out as they typed it."""
    text = hold_escapes(text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _BOLD.sub(r"\1", text)
    return release_escapes(_ITALIC.sub(r"\1", text).replace("  \n", "\n"))


def markup(text: str) -> str:
    """The same markdown as HTML, every character of the text escaped first (what someone typed, escaped by
    tsm.domain.text.plain, is only text: never a link or emphasis)."""
    out = html.escape(hold_escapes(text), quote=True)
    out = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return release_escapes(out.replace("  \n", "<br>").replace("\n", "<br>"), html=True)


_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def _subject(text: str) -> str:
    """The first line, without any address: a subject is shown and logged everywhere a link must not be."""
    first = plain(text).strip().splitlines()[0] if text.strip() else ""
    first = (
        re.sub(r"\s+", " ", _URL.sub("", first)).strip().rstrip(":").strip()
        or "A message from the TSM service"
    )
    known = "tsm" in first.lower() or "targeting support meeting" in first.lower()
    return first[:150] if known else ("TSM: " + first)[:150]


class _Walk:
    """The readable parts of an Adaptive Card, in order: text, facts, links; and whether it has actions to click."""

    def __init__(self) -> None:
        self.blocks: list[
            tuple[str, Any]
        ] = []  # ("text", (str, bold)) | ("facts", [(t, v)]) | ("link", (t, url))
        self.clickable = False

    def element(self, el: Any) -> None:
        if not isinstance(el, dict):
            return
        kind = el.get("type")
        if kind == "TextBlock" and isinstance(el.get("text"), str):
            self.blocks.append(("text", (el["text"], el.get("weight") == "Bolder")))
        elif kind == "RichTextBlock":
            words = "".join(
                i.get("text", "") if isinstance(i, dict) else str(i) for i in el.get("inlines", [])
            )
            self.blocks.append(("text", (words, False)))
        elif kind == "FactSet":
            facts = [
                (str(f.get("title", "")), str(f.get("value", "")))
                for f in el.get("facts", [])
                if isinstance(f, dict)
            ]
            if facts:
                self.blocks.append(("facts", facts))
        elif kind and kind.startswith("Input."):
            self.clickable = True  # a form: answered on the page
        elif kind == "ActionSet":
            self.actions(el.get("actions", []))
        for key in ("items", "columns"):
            for child in el.get(key, []) or []:
                self.element(child)

    def actions(self, actions: Any) -> None:
        for a in actions or []:
            if not isinstance(a, dict):
                continue
            if (
                a.get("type") == "Action.OpenUrl"
                and isinstance(a.get("url"), str)
                and a["url"].startswith(("https://", "http://"))
            ):
                self.blocks.append(("link", (str(a.get("title") or a["url"]), a["url"])))
            elif a.get("type") in CLICKABLE:
                self.clickable = True


def _link_ours(html_text: str, origin: str) -> str:
    """In escaped HTML, the addresses under ``origin`` (the service's own: a sign-in link in the text) as links;
    any other address stays text, as everything someone typed does."""
    if not origin:
        return html_text
    start = html.escape(origin.rstrip("/") + "/", quote=True)
    return re.sub(
        r"https?://[^\s<>\"']+",
        lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>' if m.group(0).startswith(start) else m.group(0),
        html_text,
    )


def render(message: Message, addressee: Addressee, link: str | None, *, origin: str = "") -> Rendered:
    """The email's subject, plain text and HTML for ``message`` to ``addressee`` (``link``: the sign-in link)."""
    walk = _Walk()
    if message.card:
        for el in message.card.get("body", []) or []:
            walk.element(el)
        walk.actions(message.card.get("actions"))
    text_lines = [f"Dear {addressee.name},", "", plain(message.text).strip()]
    html_parts = [
        f"<p>Dear {html.escape(addressee.name)},</p>",
        f"<p>{_link_ours(markup(message.text.strip()), origin)}</p>",
    ]
    for kind, value in walk.blocks:
        if kind == "text":
            words, bold = value
            if words.strip() == message.text.strip():
                continue
            text_lines += ["", plain(words)]
            inner = markup(words)
            html_parts.append(f"<p><strong>{inner}</strong></p>" if bold else f"<p>{inner}</p>")
        elif kind == "facts":
            text_lines.append("")
            text_lines += [f"{plain(t)}: {plain(v)}" for t, v in value]
            rows = "".join(
                f'<tr><th scope="row" style="text-align:left;padding-right:1em">{markup(t)}</th>'
                f"<td>{markup(v)}</td></tr>"
                for t, v in value
            )
            html_parts.append(f"<table>{rows}</table>")
        else:
            title, url = value
            text_lines += ["", f"{plain(title)}: {url}"]
            html_parts.append(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(title)}</a></p>')
    if walk.clickable:
        if link:
            text_lines += [
                "",
                "To answer or act on this, open the TSM page (the link signs you in once and expires):",
                link,
            ]
            html_parts.append(
                f'<p><a href="{html.escape(link, quote=True)}"><strong>Open the TSM page</strong></a> '
                "to answer or act on this (the link signs you in once and expires).</p>"
            )
        elif message.card:
            text_lines += [
                "",
                "You can answer in the TSM app in Microsoft Teams, or by replying to this email.",
            ]
            html_parts.append(
                "<p>You can answer in the TSM app in Microsoft Teams, or by replying to this email.</p>"
            )
    footer = (
        f"{addressee.why} Sent by the TSM booking service of {addressee.la_name}."
        if addressee.la_name
        else addressee.why
    )
    text_lines += ["", "--", footer]
    html_parts.append(f'<hr><p style="color:#555;font-size:small">{html.escape(footer)}</p>')
    body_html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(_subject(message.text))}</title></head><body>" + "".join(html_parts) + "</body></html>"
    )
    return Rendered(_subject(message.text), "\n".join(text_lines).strip() + "\n", body_html)


def compose_email(
    rendered: Rendered, addressee: Addressee, *, sender: str, invitation: Invitation | None = None
) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = rendered.subject
    email["From"] = sender
    email["To"] = formataddr((addressee.name, addressee.email))
    if addressee.reply_to:
        email["Reply-To"] = addressee.reply_to
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office answers to a notification
    email.set_content(rendered.text)
    email.add_alternative(rendered.html, subtype="html")
    if (
        invitation is not None
    ):  # RFC 6047: text/calendar with the iTIP method, which mail clients offer to add
        email.add_attachment(
            invitation.ics,
            maintype="text",
            subtype="calendar",
            params={"method": invitation.method, "charset": "utf-8"},
            filename="cancel.ics" if invitation.method == "CANCEL" else "invite.ics",
        )
    return email


# ---------------------------------------------------------------------- the channels


class EmailChannel:
    """The delivery port over email (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        mail: MailPort,
        *,
        sender: str,
        signin: SignInIssuer | None = None,
        origin: str = "",
        by_la: Mapping[str, tuple[str, MailPort]] | None = None,
    ) -> None:
        self.origin = (
            origin  # the service's public origin: its own links in a message's text are made clickable
        )
        self.db = db
        self.mail = mail
        self.sender = sender
        self.signin = signin
        # LA code -> (sender, mail port): an LA with its own sender and mailbox writes to its people from them.
        self.by_la = dict(by_la or {})

    async def send(self, recipient: Recipient, message: Message) -> SendResult:
        who = await addressee(self.db, recipient)
        if who is None:
            return SendResult(SendStatus.NO_CONVERSATION, "no email address")
        link = None
        if self.signin is not None and message.card is not None:
            try:
                link = await self.signin.issue(recipient, card=message.card)
            except Exception:  # noqa: BLE001 - the email still goes, without a link
                log.exception("no sign-in link for %s %s", recipient.kind, recipient.id)
        sender, mail = self.by_la.get(who.la_code, (self.sender, self.mail))
        email = compose_email(
            render(message, who, link, origin=self.origin),
            who,
            sender=sender,
            invitation=message.invitation,
        )
        result = await mail.send(email)
        if result.status is MailStatus.SENT:
            return SendResult(SendStatus.SENT, "email")
        if result.status is MailStatus.RETRY:
            return SendResult(SendStatus.RETRY, f"email: {result.detail}", retry_after=result.retry_after)
        return SendResult(SendStatus.FAILED, f"email: {result.detail}")

    async def close(self) -> None:
        return None  # the mail port is the App's: closed with it


FALL_BACK = (SendStatus.NO_CONVERSATION, SendStatus.BLOCKED)


class ChannelChoice:
    """Per recipient: Teams when the person has a working conversation with the bot, else email (see the module
    docstring). ``teams`` is the Teams messenger (None: no Teams in this process), ``email`` the email channel."""

    def __init__(
        self,
        teams: MessengerPort | None,
        email: MessengerPort | None,
        delivery: Delivery = "teams_then_email",
    ) -> None:
        if teams is None and email is None:
            raise ValueError("a delivery channel needs Teams or email")
        self.teams = teams
        self.email = email
        self.delivery = delivery

    @property
    def owns_pool(self) -> bool:
        return bool(getattr(self.teams, "owns_pool", False))

    async def send(self, recipient: Recipient, message: Message) -> SendResult:
        # A calendar invitation, or a sign-in link someone asked for by giving their address: email only.
        if message.invitation is not None or recipient.kind == "attendee" or message.email_only:
            if self.email is None:
                return SendResult(SendStatus.FAILED, "no email channel for an invitation")
            return await self.email.send(recipient, message)
        if self.teams is None:
            return await self.email.send(recipient, message)  # type: ignore[union-attr]
        if self.delivery == "email" and self.email is not None:
            mailed = await self.email.send(recipient, message)
            if mailed.status is not SendStatus.NO_CONVERSATION:
                return mailed
            # no address: Teams, if they have a conversation with the bot
        result = await self.teams.send(recipient, message)
        if self.delivery == "teams" or self.email is None or result.status not in FALL_BACK:
            return result
        mailed = await self.email.send(recipient, message)
        # No address either: Teams' answer stands (undeliverable, sent if they install the app while still useful).
        return result if mailed.status is SendStatus.NO_CONVERSATION else mailed

    async def close(self) -> None:
        for channel in (self.teams, self.email):
            close = getattr(channel, "close", None)
            if close is not None:
                await close()
