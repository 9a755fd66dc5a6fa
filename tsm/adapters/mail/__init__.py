"""The mail port: send one ``email.message.EmailMessage``, and say whether a failure is worth retrying.

Three adapters, chosen by ``TSM_MAIL_BACKEND`` (:func:`build_mailer`):

- ``files`` (the embedded default, :class:`~tsm.adapters.mail.files.FileMailer`): every email is written as an
  ``.eml`` file under ``TSM_MAIL_DIR`` (``var/mail``), atomically; in local mode the bot's server lists them at
  ``/dev/mail`` so a person trying the product can open a message and click its link;
- ``smtp`` (:class:`~tsm.adapters.mail.smtp.SmtpMailer`): any SMTP relay, with STARTTLS (or implicit TLS),
  authentication and timeouts (``aiosmtplib``);
- ``graph`` (:class:`~tsm.adapters.mail.graph.GraphMailer`): Microsoft Graph ``sendMail`` from the LA's shared
  mailbox (application permission ``Mail.Send``, scoped to that mailbox in Exchange).

Who gets which email and what it says is not here: the email channel (``tsm.mailing``) and the local calendar's
invitations (``tsm.adapters.calendar_invites``) build the messages; this port only carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ...settings import Settings


class MailStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # a passing fault (server busy, 4xx, timeout, connection refused): try again later
    FAILED = "failed"  # a permanent refusal (5xx, bad address, refused credentials): retrying will not help


@dataclass(frozen=True)
class MailResult:
    status: MailStatus
    detail: str = ""  # for the ledger and the logs: a status code and a short reason, never the message
    retry_after: float | None = None

    @property
    def sent(self) -> bool:
        return self.status is MailStatus.SENT

    @property
    def retryable(self) -> bool:
        return self.status is MailStatus.RETRY


SENT = MailResult(MailStatus.SENT)


class MailPort(Protocol):
    async def send(self, message: EmailMessage) -> MailResult:
        """Send ``message`` (its From, To, Cc and Subject headers set) and say how it went; never raises for a
        delivery problem (a bug still raises)."""
        ...

    async def close(self) -> None: ...


def sender_address(settings: Settings) -> str:
    """``"TSM bookings <tsm@la.example>"``: the From of every email the service sends."""
    return (
        formataddr((settings.mail_from_name, settings.mail_from))
        if settings.mail_from_name
        else settings.mail_from
    )


def recipients_of(message: EmailMessage) -> list[str]:
    """Every address of To, Cc and Bcc (the SMTP envelope; Graph's recipients)."""
    from email.utils import getaddresses

    found = getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])])
    seen: dict[str, None] = {}
    for _, addr in found:
        if addr and "@" in addr:
            seen.setdefault(addr, None)
    return list(seen)


def stamp(message: EmailMessage, domain: str = "tsm.local") -> EmailMessage:
    """Give ``message`` a Date and a Message-ID when it has none (every backend sends it with both)."""
    from email.utils import formatdate, make_msgid

    if message["Date"] is None:
        message["Date"] = formatdate(localtime=False, usegmt=True)
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid(domain=domain)
    return message


def build_mailer(settings: Settings, *, observer=None) -> MailPort:
    """The mail backend the settings name (``TSM_MAIL_BACKEND``: files, smtp or graph)."""
    backend = settings.mail_backend
    if backend == "files":
        from .files import FileMailer

        return FileMailer(settings.mail_dir)
    if backend == "smtp":
        from .smtp import SmtpMailer

        return SmtpMailer.from_settings(settings)
    if backend == "graph":
        from .graph import build_graph_mailer  # only this path imports msgraph

        return build_graph_mailer(settings, observer=observer)
    raise ValueError(f"unknown mail backend {backend!r} (files, smtp or graph)")
