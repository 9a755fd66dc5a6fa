"""Signing in to the web page with a link: single-use links sent by email, exchanged for a session.

- :meth:`SignInLinks.issue` makes a link for one school contact or officer (``Recipient``), optionally with a
  card to show once they are signed in (an emailed proposal opens as the same card, with working buttons). The
  token is 256 bits from :mod:`secrets`; only its SHA-256 is stored (``signin_link``). A link works once, until it
  expires (``TSM_WEB_LINK_DAYS``), and only for an active person.
- :meth:`SignInLinks.exchange` spends a link (atomically: two presses of one link give one session) and opens a
  session (``web_session``: again only the hash of the cookie's token), which expires (``TSM_WEB_SESSION_HOURS``)
  and can be revoked (``tsm sessions revoke --email ...``).
- :meth:`SignInLinks.actor` is the session's actor, re-read from the directory on every request: a person marked
  inactive or removed since is signed out.
- :meth:`SignInLinks.request` is "email me a link": it records a ``signin_requested`` event for a known, active
  address (``tsm.notifications`` sends the link through the delivery path) and says nothing about whether the
  address is known: the page answers the same either way.

Nothing here knows HTTP: the page (``tsm/web/page.py``) sets the cookie and checks the CSRF token derived here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from ..adapters.db.directory import Officer, School, SchoolContact
from ..adapters.db.engine import Database
from ..adapters.db.history import AuditLog
from ..adapters.db.signin import SignInLink, WebSession
from ..domain.errors import InvalidInput
from ..messaging import Recipient
from .actors import Actor, contact_actor, officer_actor
from .booking import now_utc
from .directory import normalise_email
from .events import EventKind, record

MAX_CARD_BYTES = 60_000  # a card stored with a link (a proposal is a few KB)
Refusal = Literal["unknown", "used", "expired", "inactive"]

REFUSALS: dict[str, str] = {
    "unknown": "This sign-in link is not valid. Check that the whole link was copied, or ask for a new one.",
    "used": "This sign-in link has been used already: each link works once. Ask for a new one below.",
    "expired": "This sign-in link has expired. Ask for a new one below.",
    "inactive": "This sign-in link belongs to someone who can no longer use the TSM service. Please ask your LA "
    "link officer or the LA attendance team.",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _plausible(token: str) -> bool:
    return 20 <= len(token or "") <= 100 and all(c.isalnum() or c in "-_" for c in token)


@dataclass(frozen=True)
class LinkState:
    """What a link is, without spending it (the page shows "Sign in as ..." before the press)."""

    ok: bool
    refusal: Refusal | None = None
    name: str = ""


@dataclass(frozen=True)
class Exchanged:
    """A link spent: the new session's token (for the cookie), its expiry, and the card the link carried."""

    session_token: str
    expires_at: datetime
    card: dict[str, Any] | None


@dataclass(frozen=True)
class Session:
    id: int
    person_kind: str
    person_id: int
    expires_at: datetime
    view: dict[str, Any] | None


class SignInLinks:
    def __init__(
        self,
        db: Database,
        *,
        base_url: str,
        enabled: bool = True,
        link_ttl: timedelta = timedelta(days=7),
        session_ttl: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.db = db
        self.base_url = base_url.rstrip("/")
        self.enabled = enabled
        self.link_ttl = link_ttl
        self.session_ttl = session_ttl
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Any, db: Database, *, clock: Callable[[], datetime] = now_utc
    ) -> SignInLinks:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        return cls(
            db,
            base_url=settings.public_url or f"http://{host}:{settings.port}",
            enabled=settings.web_page,
            link_ttl=timedelta(days=settings.web_link_days),
            session_ttl=timedelta(hours=settings.web_session_hours),
            clock=clock,
        )

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/web/"

    # ------------------------------------------------------------------ links

    async def issue(self, recipient: Recipient, *, card: dict | None = None) -> str | None:
        """A sign-in link for ``recipient`` (absolute, under the public URL), with ``card`` shown after sign-in; None
        when the page is off, or the person is unknown, inactive or has no address."""
        if not self.enabled:
            return None
        if card is not None and len(repr(card)) > MAX_CARD_BYTES:
            card = None  # too big to keep: the person lands on their home page, which lists what is waiting
        async with self.db.transaction() as s:
            if await self._person(s, recipient.kind, recipient.id) is None:
                return None
            token = secrets.token_urlsafe(32)
            now = self.clock()
            s.add(
                SignInLink(
                    token_hash=token_hash(token),
                    person_kind=recipient.kind,
                    person_id=recipient.id,
                    card=card,
                    created_at=now,
                    expires_at=now + self.link_ttl,
                )
            )
        return f"{self.base_url}/web/link/{token}"

    async def peek(self, token: str) -> LinkState:
        if not _plausible(token):
            return LinkState(False, "unknown")
        async with self.db.reader() as s:
            link = (
                await s.exec(select(SignInLink).where(SignInLink.token_hash == token_hash(token)))
            ).first()
            refusal = self._refusal(link)
            if refusal is not None:
                return LinkState(False, refusal)
            person = await self._person(s, link.person_kind, link.person_id)
            if person is None:
                return LinkState(False, "inactive")
            return LinkState(True, None, person.name)

    async def exchange(self, token: str) -> Exchanged | Refusal:
        """Spend the link and open a session; a refusal (nothing changed) when it is unknown, used, expired or its
        person is no longer active."""
        if not _plausible(token):
            return "unknown"
        now = self.clock()
        async with self.db.transaction() as s:
            link = (
                await s.exec(select(SignInLink).where(SignInLink.token_hash == token_hash(token)))
            ).first()
            refusal = self._refusal(link)
            if refusal is not None:
                return refusal
            if await self._person(s, link.person_kind, link.person_id) is None:
                return "inactive"
            spent = await s.exec(
                update(SignInLink)
                .where(SignInLink.id == link.id, col(SignInLink.used_at).is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:
                return "used"  # pressed twice at once: the other press won
            session_token = secrets.token_urlsafe(32)
            expires = now + self.session_ttl
            s.add(
                WebSession(
                    token_hash=token_hash(session_token),
                    person_kind=link.person_kind,
                    person_id=link.person_id,
                    created_at=now,
                    expires_at=expires,
                    view={"card": link.card} if link.card else None,
                )
            )
            s.add(
                AuditLog(
                    at=now,
                    actor=f"{link.person_kind}:{link.person_id}",
                    action="web.signin",
                    entity="signin_link",
                    entity_id=str(link.id),
                )
            )
            return Exchanged(session_token, expires, link.card)

    def _refusal(self, link: SignInLink | None) -> Refusal | None:
        if link is None:
            return "unknown"
        if link.used_at is not None:
            return "used"
        if self.clock() >= link.expires_at:
            return "expired"
        return None

    # ------------------------------------------------------------------ sessions

    async def session(self, token: str | None) -> Session | None:
        """The live session behind a cookie's token: not expired, not revoked; None otherwise."""
        if not token or not _plausible(token):
            return None
        async with self.db.reader() as s:
            row = (await s.exec(select(WebSession).where(WebSession.token_hash == token_hash(token)))).first()
        if row is None or row.revoked_at is not None or self.clock() >= row.expires_at:
            return None
        return Session(row.id, row.person_kind, row.person_id, row.expires_at, row.view)

    async def actor(self, session: Session) -> Actor | None:
        """The session's person as an actor, read now: None when they are inactive or gone."""
        async with self.db.reader() as s:
            person = await self._person(s, session.person_kind, session.person_id)
            school = await s.get(School, person.school_id) if isinstance(person, SchoolContact) else None
        if person is None:
            return None
        if isinstance(person, Officer):
            return officer_actor(person)
        assert school is not None  # _person answers a contact only with their school
        return contact_actor(person.id, person.school_id, person.name, school.la_id)

    async def set_view(self, session_id: int, view: dict[str, Any] | None) -> None:
        async with self.db.transaction() as s:
            await s.exec(
                update(WebSession)
                .where(WebSession.id == session_id)
                .values(view=view)
                .execution_options(synchronize_session=False)
            )

    async def end(self, token: str) -> None:
        """Sign out: the session is revoked (the cookie alone no longer works)."""
        async with self.db.transaction() as s:
            await s.exec(
                update(WebSession)
                .where(WebSession.token_hash == token_hash(token), col(WebSession.revoked_at).is_(None))
                .values(revoked_at=self.clock())
                .execution_options(synchronize_session=False)
            )

    async def revoke(self, email: str, *, actor: str = "admin:cli") -> tuple[int, int]:
        """Every live session and unused link of the people with this address ends now: (sessions, links). Each
        person's revocation is in the audit log."""
        people = await self.people(email, active_only=False)
        now = self.clock()
        sessions = links = 0
        async with self.db.transaction() as s:
            for r in people:
                ended = await s.exec(
                    update(WebSession)
                    .where(
                        WebSession.person_kind == r.kind,
                        WebSession.person_id == r.id,
                        col(WebSession.revoked_at).is_(None),
                        WebSession.expires_at > now,
                    )
                    .values(revoked_at=now)
                    .execution_options(synchronize_session=False)
                )
                stopped = await s.exec(
                    update(SignInLink)
                    .where(
                        SignInLink.person_kind == r.kind,
                        SignInLink.person_id == r.id,
                        col(SignInLink.used_at).is_(None),
                        SignInLink.expires_at > now,
                    )
                    .values(expires_at=SignInLink.created_at)
                    .execution_options(synchronize_session=False)
                )
                n_sessions, n_links = ended.rowcount or 0, stopped.rowcount or 0
                sessions, links = sessions + n_sessions, links + n_links
                s.add(
                    AuditLog(
                        at=now,
                        actor=actor,
                        action="web.revoke",
                        entity=r.kind,
                        entity_id=str(r.id),
                        detail={"sessions": n_sessions, "links": n_links},
                    )
                )
        return sessions, links

    async def purge(self, *, after: timedelta = timedelta(days=1)) -> int:
        """Housekeeping (the scheduler, daily): links spent or expired, and sessions ended or expired, over ``after``
        ago are deleted (a session keeps the last card it showed, which may name people)."""
        cutoff = self.clock() - after
        async with self.db.transaction() as s:
            links = await s.exec(
                delete(SignInLink)
                .where(
                    (SignInLink.expires_at < cutoff)
                    | (col(SignInLink.used_at).is_not(None) & (SignInLink.used_at < cutoff))
                )
                .execution_options(synchronize_session=False)
            )
            sessions = await s.exec(
                delete(WebSession)
                .where(
                    (WebSession.expires_at < cutoff)
                    | (col(WebSession.revoked_at).is_not(None) & (WebSession.revoked_at < cutoff))
                )
                .execution_options(synchronize_session=False)
            )
            return (links.rowcount or 0) + (sessions.rowcount or 0)

    @staticmethod
    def csrf_token(session_token: str) -> str:
        """The form token of a session: derived from its secret, so only a page the session loaded can know it."""
        return hmac.new(session_token.encode(), b"tsm-web-csrf", hashlib.sha256).hexdigest()

    @classmethod
    def csrf_ok(cls, session_token: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(cls.csrf_token(session_token), given or "")

    # ------------------------------------------------------------------ "email me a link"

    async def people(self, email: str, *, active_only: bool = True) -> list[Recipient]:
        """The officer, else the school contacts, with this address."""
        try:
            e = normalise_email(email)
        except InvalidInput:
            return []
        async with self.db.reader() as s:
            q = select(Officer.id).where(func.lower(Officer.email) == e)
            if active_only:
                q = q.where(Officer.active == True)  # noqa: E712
            officers = [Recipient("officer", i) for i in await s.exec(q)]
            q = (
                select(SchoolContact.id)
                .where(func.lower(SchoolContact.email) == e)
                .order_by(SchoolContact.id)
            )
            if active_only:
                q = q.where(SchoolContact.active == True)  # noqa: E712
            contacts = [Recipient("contact", i) for i in await s.exec(q)]
        return officers + contacts

    async def request(self, email: str) -> bool:
        """Record a ``signin_requested`` event for an active person with this address (an officer first, else their
        first school contact, as ``Directory.identify`` chooses); True when one was recorded. The caller's answer
        must not depend on it."""
        if not self.enabled:
            return False
        people = await self.people(email)
        if not people:
            return False
        who = people[0]
        async with self.db.transaction() as s:
            school_id = None
            if who.kind == "contact":
                c = await s.get(SchoolContact, who.id)
                school_id = c.school_id if c is not None else None
            record(
                s,
                EventKind.SIGNIN_REQUESTED,
                "web:signin",
                self.clock(),
                school_id=school_id,
                person=f"{who.kind}:{who.id}",
            )
        return True

    # ------------------------------------------------------------------ people

    @staticmethod
    async def _person(s, kind: str, ident: int) -> Officer | SchoolContact | None:
        if kind == "officer":
            o = await s.get(Officer, ident)
            return o if o is not None and o.active and o.email else None
        if kind == "contact":
            c = await s.get(SchoolContact, ident)
            if c is None or not c.active or not c.email:
                return None
            school = await s.get(School, c.school_id)
            return c if school is not None else None
        return None
