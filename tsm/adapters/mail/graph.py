"""Microsoft Graph ``sendMail`` from the LA's shared mailbox (``POST /users/{mailbox}/sendMail``).

The app registration needs the application permission ``Mail.Send``, which on its own lets the app send as
*any* mailbox of the tenant: an Exchange administrator restricts it to the shared mailbox with RBAC for
Applications (a management scope) or an application access policy (see docs/deployment.md). A mailbox outside
that scope answers 403 ``ErrorAccessDenied``: a permanent failure, reported, not retried.

Graph's JSON message has one body: the HTML part of the email (else its text part); Outlook makes the plain
text itself. Every other part (an ``.ics`` invitation) goes as a file attachment with its content type. The
client is the calendar's (``make_graph_client``: the SDK's retry handler on 429/503/504, the same credentials);
what is still refused after its retries is sorted here: 429 and 5xx ``RETRY``, other 4xx ``FAILED``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import httpx
from kiota_abstractions.api_error import APIError
from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

from . import SENT, MailResult, MailStatus

log = logging.getLogger(__name__)


def _recipients(message: EmailMessage, header: str) -> list[Recipient]:
    out = []
    for name, addr in getaddresses([str(v) for v in message.get_all(header, [])]):
        if addr and "@" in addr:
            out.append(Recipient(email_address=EmailAddress(address=addr, name=name or None)))
    return out


def graph_message(message: EmailMessage) -> Message:
    """The email as Graph's ``message`` resource: subject, body (HTML, else text), recipients, reply-to and the
    other parts as file attachments."""
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    if html is not None:
        body = ItemBody(content_type=BodyType.Html, content=html.get_content())
    else:
        body = ItemBody(content_type=BodyType.Text, content=text.get_content() if text is not None else "")
    attachments = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True) or b""
        content_type = part.get_content_type()
        method = part.get_param("method")
        if method:
            content_type = f"{content_type}; method={method}"
        attachments.append(
            FileAttachment(
                odata_type="#microsoft.graph.fileAttachment",
                name=part.get_filename() or "attachment",
                content_type=content_type,
                content_bytes=data,
            )
        )
    return Message(
        subject=str(message.get("Subject", "")),
        body=body,
        to_recipients=_recipients(message, "To"),
        cc_recipients=_recipients(message, "Cc") or None,
        reply_to=_recipients(message, "Reply-To") or None,
        attachments=attachments or None,
    )


class GraphMailer:
    def __init__(
        self,
        client: GraphServiceClient,
        mailbox: str,
        *,
        close: Callable[[], Awaitable[None]] | None = None,
        save_to_sent_items: bool = True,
    ) -> None:
        if not mailbox:
            raise ValueError(
                "TSM_MAIL_BACKEND=graph needs the shared mailbox (TSM_MAIL_GRAPH_MAILBOX or TSM_MAIL_FROM)"
            )
        self.client = client
        self.mailbox = mailbox
        self._close = close
        self.save_to_sent_items = save_to_sent_items

    async def send(self, message: EmailMessage) -> MailResult:
        body = SendMailPostRequestBody(
            message=graph_message(message), save_to_sent_items=self.save_to_sent_items
        )
        try:
            await self.client.users.by_user_id(self.mailbox).send_mail.post(body)
        except APIError as exc:
            status = exc.response_status_code or 0
            code = getattr(getattr(exc, "error", None), "code", None) or ""
            detail = f"{status} {code}".strip()
            if status == 429 or status >= 500:
                return MailResult(MailStatus.RETRY, detail)
            if status == 403:
                detail += f": the app may not send as {self.mailbox} (Mail.Send scope in Exchange)"
            return MailResult(MailStatus.FAILED, detail)
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return MailResult(MailStatus.RETRY, type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - azure-identity refusing the credentials, and the like
            log.warning("Graph sendMail failed (%s)", type(exc).__name__)
            return MailResult(MailStatus.FAILED, type(exc).__name__)
        return SENT

    async def close(self) -> None:
        if self._close is not None:
            await self._close()


def build_graph_mailer(settings, *, observer=None) -> GraphMailer:
    from ..calendar_graph import make_graph_client

    client, close = make_graph_client(settings, observer=observer)
    mailbox = settings.mail_graph_mailbox or parseaddr(settings.mail_from)[1]
    return GraphMailer(client, mailbox, close=close)
