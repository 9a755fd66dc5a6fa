"""What the email tests share: an App on the embedded default (local calendar, ``.eml`` files under a folder of the
test's own), the product's channel choice over a Teams stand-in, and readers for the emails written."""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

from factories import World, local, make_world
from fakes.messenger import ScriptedMessenger

from scheduler.jobs import Jobs
from scheduler.service import build_jobs
from tsm.adapters.mail.files import NAME
from tsm.bootstrap import App, build_app
from tsm.clock import FixedClock
from tsm.composition import delivery_channel
from tsm.messaging import Recipient
from tsm.settings import Settings

NOW = local(2026, 1, 5, 8)  # Monday before Norfolk's spring term (factories.TERMS)


class FakeIssuer:
    """The sign-in link port (``tsm.mailing.SignInIssuer``) as the web page's ``SignInLinks`` answers it."""

    def __init__(self, base: str = "https://tsm.la.example/web/signin") -> None:
        self.base = base
        self.issued: list[tuple[Recipient, dict | None]] = []

    async def issue(self, recipient: Recipient, *, card: dict | None = None) -> str | None:
        self.issued.append((recipient, card))
        return f"{self.base}?t=token-{recipient.kind}-{recipient.id}-{len(self.issued)}"


def read_mail(folder: Path) -> list[EmailMessage]:
    """Every ``.eml`` written, oldest first, parsed."""
    if not folder.is_dir():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.iterdir())
        if NAME.match(p.name)
    ]


def to_of(m: EmailMessage) -> str:
    return str(m["To"])


def ics_of(m: EmailMessage):
    """The invitation a message carries (text/calendar), parsed by icalendar, and its method parameter."""
    from icalendar import Calendar

    [part] = [p for p in m.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True)), part.get_param("method")


@dataclass
class MailWorld:
    app: App
    clock: FixedClock
    world: World
    folder: Path
    teams: ScriptedMessenger
    issuer: FakeIssuer
    jobs: Jobs = field(init=False)

    def __post_init__(self) -> None:
        self.channel = delivery_channel(self.app, self.teams, self.issuer)
        self.jobs = build_jobs(self.app, self.channel, worker_id="w1")

    def mail(self) -> list[EmailMessage]:
        return read_mail(self.folder)

    def mail_to(self, address: str, *, invitations: bool | None = None) -> list[EmailMessage]:
        out = [m for m in self.mail() if address in to_of(m)]
        if invitations is not None:
            out = [
                m
                for m in out
                if any(p.get_content_type() == "text/calendar" for p in m.iter_attachments()) == invitations
            ]
        return out


async def mail_world(db_url: str, tmp_path: Path, *, world: World | None = None, **settings) -> MailWorld:
    """The world on ``db_url`` (made now unless ``world`` is given: made before, e.g. by another event loop)."""
    folder = tmp_path / "mail"
    s = Settings(
        _env_file=None, database_url=db_url, mail_dir=folder, invitations_dir=tmp_path / "inv", **settings
    )
    clock = FixedClock(NOW)
    app = build_app(s, clock=clock)
    world = world or await make_world(app.db)
    return MailWorld(app, clock, world, folder, ScriptedMessenger(installs=app.db), FakeIssuer())


async def install(app: App, recipient: Recipient) -> None:
    """The person installs the app: a personal conversation with the bot (as the Teams transport stores it)."""
    from tsm.adapters.db.teams import BotConversation

    async with app.db.transaction() as s:
        s.add(
            BotConversation(
                conversation_id=f"a:{recipient.kind}{recipient.id}",
                service_url="https://smba.example/",
                reference={},
                updated_at=app.clock(),
                contact_id=recipient.id if recipient.kind == "contact" else None,
                officer_id=recipient.id if recipient.kind == "officer" else None,
            )
        )
