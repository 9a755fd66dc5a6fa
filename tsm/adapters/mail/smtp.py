"""SMTP through ``aiosmtplib``: STARTTLS (or implicit TLS on 465), authentication, timeouts.

A refusal is sorted by its reply code: 4xx (greylisting, a busy relay, a mailbox over quota) and anything that
never got an answer (timeout, connection refused or dropped) is ``RETRY``; 5xx (unknown recipient, relaying
denied, credentials refused) and a server that cannot do what the settings require (no STARTTLS, no AUTH) is
``FAILED``. The password is a ``SecretStr`` in the settings and is never logged; neither is a message.
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from . import SENT, MailResult, MailStatus, recipients_of, stamp

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str = "",
        password: str = "",
        security: Security = "starttls",
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        envelope_from: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.security = security
        self.timeout = timeout
        self.tls_context = tls_context
        self.envelope_from = envelope_from

    @classmethod
    def from_settings(cls, settings) -> SmtpMailer:
        context = None
        if settings.smtp_ca_file:
            context = ssl.create_default_context(cafile=settings.smtp_ca_file)
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            security=settings.smtp_security,
            timeout=settings.smtp_timeout_seconds,
            tls_context=context,
            envelope_from=settings.mail_from,
        )

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.host}:{self.port}, {self.security}, user={self.username or '-'})"

    async def send(self, message: EmailMessage) -> MailResult:
        stamp(message)
        recipients = recipients_of(message)
        if not recipients:
            return MailResult(MailStatus.FAILED, "no recipient address")
        try:
            _errors, _reply = await aiosmtplib.send(
                message,
                sender=self.envelope_from or None,
                recipients=recipients,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=(self._password or None) if self.username else None,
                use_tls=self.security == "tls",
                start_tls=True if self.security == "starttls" else False,
                timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            codes = [r.code for r in exc.recipients]
            status = MailStatus.RETRY if any(400 <= c < 500 for c in codes) else MailStatus.FAILED
            return MailResult(status, f"recipients refused ({', '.join(str(c) for c in codes)})")
        except aiosmtplib.SMTPResponseException as exc:  # auth, sender, data refused: by the code
            status = MailStatus.RETRY if 400 <= exc.code < 500 else MailStatus.FAILED
            return MailResult(status, f"{exc.code} {type(exc).__name__}")
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. STARTTLS or AUTH asked for and not offered
            return MailResult(MailStatus.FAILED, f"not supported by the server: {str(exc)[:120]}")
        except (aiosmtplib.SMTPException, TimeoutError, OSError, ssl.SSLError) as exc:
            # timeouts, connection refused or dropped, TLS handshake trouble: the relay may be back later
            return MailResult(MailStatus.RETRY, type(exc).__name__)
        return SENT

    async def close(self) -> None:
        return None  # one connection per send: nothing kept open
