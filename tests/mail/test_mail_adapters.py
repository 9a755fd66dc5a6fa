"""The mail port's three adapters, each against the real thing or its stand-in: ``.eml`` files (the embedded
default), SMTP against a real ``aiosmtpd`` server these tests start (plain, STARTTLS with authentication, a server
that refuses for a while then accepts, a permanent refusal, nobody listening), and Graph ``sendMail`` through the
real msgraph-sdk against the Graph emulator (``dev/graph_emulator``)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import ipaddress
import socket
import ssl
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import make_graph_client
from tsm.adapters.mail import MailStatus, build_mailer, recipients_of
from tsm.adapters.mail.files import FileMailer
from tsm.adapters.mail.graph import GraphMailer
from tsm.adapters.mail.smtp import SmtpMailer
from tsm.settings import Settings

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def message(to: str = "Lead <lead@100001.sch.example>", subject: str = "TSM booked") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "TSM bookings <tsm@la.example>"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("Your TSM is booked.\n")
    m.add_alternative("<p>Your TSM is <strong>booked</strong>.</p>", subtype="html")
    m.add_attachment(
        ICS, maintype="text", subtype="calendar", params={"method": "REQUEST"}, filename="invite.ics"
    )
    return m


# ---------------------------------------------------------------------- files


async def test_each_email_is_one_whole_eml_file_that_a_mail_parser_reads_back(tmp_path):
    mailer = FileMailer(tmp_path / "mail")
    for i in range(3):
        assert (await mailer.send(message(subject=f"TSM booked {i}"))).status is MailStatus.SENT
    files = mailer.files()
    assert len(files) == 3 and files == sorted(files)
    assert not [p for p in (tmp_path / "mail").iterdir() if p.suffix != ".eml"]  # no temporary file left
    parsed = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
    assert [str(m["Subject"]) for m in parsed] == ["TSM booked 0", "TSM booked 1", "TSM booked 2"]
    first = parsed[0]
    assert first["Message-ID"] and first["Date"]  # stamped on the way out
    assert first.get_body(("plain",)).get_content() == "Your TSM is booked.\n"  # LF line ends on disk
    [ics] = [p for p in first.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_param("method") == "REQUEST" and ics.get_content().encode() == ICS


async def test_a_folder_that_cannot_be_written_is_a_retry_not_a_crash(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    result = await FileMailer(blocker / "mail").send(message())
    assert result.status is MailStatus.RETRY and result.retryable and "eml" in result.detail


# ---------------------------------------------------------------------- SMTP against aiosmtpd


class Inbox:
    """aiosmtpd's handler: keeps what it accepts; ``refuse`` answers RCPT with a code a few times."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: list[str] = []  # replies to give to the next RCPTs, e.g. "451 4.3.0 try later"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return self.refuse.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost (and its key), for the STARTTLS test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.tries: list[bytes] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.user,
            self.password,
        )
        self.tries.append(auth_data.login if isinstance(auth_data, LoginPassword) else b"?")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server():
    started = []

    def start(**kw) -> tuple[Inbox, int]:
        inbox = Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for c in started:
        c.stop()


async def test_smtp_delivers_the_message_to_every_recipient_over_plain_smtp(smtp_server):
    inbox, port = smtp_server()
    mailer = SmtpMailer("127.0.0.1", port, security="none", timeout=5, envelope_from="tsm@la.example")
    m = message(to="Lead <lead@100001.sch.example>, Head <head@100001.sch.example>")
    m["Cc"] = "ann@la.example"
    result = await mailer.send(m)
    assert result.status is MailStatus.SENT
    [(sender, rcpts, raw)] = inbox.messages
    assert sender == "tsm@la.example"
    assert rcpts == ["lead@100001.sch.example", "head@100001.sch.example", "ann@la.example"]
    got = email.message_from_bytes(raw, policy=policy.default)
    assert str(got["Subject"]) == "TSM booked" and got["Message-ID"]


async def test_smtp_with_starttls_and_authentication(smtp_server, tmp_path):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    auth = Authenticator("tsm-relay", "s3cret-password")
    inbox, port = smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_required=True,
        auth_require_tls=True,
    )
    client_tls = ssl.create_default_context(cafile=cert)

    wrong = SmtpMailer(
        "127.0.0.1",
        port,
        username="tsm-relay",
        password="wrong",
        security="starttls",
        timeout=5,
        tls_context=client_tls,
    )
    refused = await wrong.send(message())
    assert refused.status is MailStatus.FAILED and "535" in refused.detail  # credentials refused: not retried
    assert "wrong" not in repr(wrong) and "wrong" not in refused.detail  # the password is never shown

    plain = SmtpMailer(
        "127.0.0.1", port, security="none", timeout=5
    )  # the relay insists on STARTTLS and AUTH
    assert (await plain.send(message())).status is MailStatus.FAILED

    ok = SmtpMailer(
        "127.0.0.1",
        port,
        username="tsm-relay",
        password="s3cret-password",
        security="starttls",
        timeout=5,
        tls_context=client_tls,
    )
    assert (await ok.send(message())).status is MailStatus.SENT
    assert len(inbox.messages) == 1 and auth.tries[-1] == b"tsm-relay"

    # the same through the settings (TSM_SMTP_*, a private CA file)
    settings = Settings(
        _env_file=None,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username="tsm-relay",
        smtp_password="s3cret-password",
        smtp_ca_file=cert,
    )
    mailer = build_mailer(settings)
    assert isinstance(mailer, SmtpMailer) and (await mailer.send(message())).status is MailStatus.SENT
    assert "s3cret-password" not in repr(settings) and "s3cret-password" not in repr(mailer)


async def test_a_server_refusing_for_a_while_is_retried_and_a_permanent_refusal_is_not(smtp_server):
    inbox, port = smtp_server()
    mailer = SmtpMailer("127.0.0.1", port, security="none", timeout=5)
    inbox.refuse = ["451 4.3.0 Mail server temporarily rejected message"]
    first = await mailer.send(message())
    assert first.status is MailStatus.RETRY and "451" in first.detail
    again = await mailer.send(message())  # the next try goes through
    assert again.status is MailStatus.SENT and len(inbox.messages) == 1
    inbox.refuse = ["550 5.1.1 No such user here"]
    gone = await mailer.send(message())
    assert gone.status is MailStatus.FAILED and "550" in gone.detail and len(inbox.messages) == 1


async def test_nobody_listening_or_a_server_that_hangs_is_a_retry():
    nobody = SmtpMailer("127.0.0.1", free_port(), security="none", timeout=2)
    assert (await nobody.send(message())).status is MailStatus.RETRY

    async def silent(reader, writer):  # accepts the connection, never greets
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        hung = await SmtpMailer("127.0.0.1", port, security="none", timeout=0.5).send(message())
        assert hung.status is MailStatus.RETRY
    finally:
        server.close()


def test_recipients_are_to_cc_and_bcc_once_each():
    m = message(to="A <a@x.example>, b@x.example")
    m["Cc"] = "A again <a@x.example>"
    m["Bcc"] = "c@x.example"
    assert recipients_of(m) == ["a@x.example", "b@x.example", "c@x.example"]


# ---------------------------------------------------------------------- Graph sendMail against the emulator


@pytest.fixture
async def emulator():
    emu = GraphEmulator()
    await emu.start()
    yield emu
    await emu.stop()


def graph_mailer(emu: GraphEmulator, mailbox: str = "tsm@la.example") -> GraphMailer:
    settings = Settings(
        _env_file=None,
        graph_base_url=emu.graph_url,
        graph_retry_delay=0.0,
        graph_retry_max=1,
        mail_backend="graph",
        mail_from=mailbox,
    )
    client, close = make_graph_client(settings)
    return GraphMailer(client, mailbox, close=close)


async def test_graph_sends_from_the_shared_mailbox_with_the_html_body_and_the_invitation(emulator):
    mailer = graph_mailer(emulator)
    try:
        m = message(to="Lead <lead@100001.sch.example>")
        m["Reply-To"] = "Ann Officer <ann@la.example>"
        assert (await mailer.send(m)).status is MailStatus.SENT
    finally:
        await mailer.close()
    [sent] = emulator.sent_mail
    assert sent["mailbox"] == "tsm@la.example" and sent["saveToSentItems"] is True
    g = sent["message"]
    assert g["subject"] == "TSM booked"
    assert g["body"] == {"contentType": "html", "content": "<p>Your TSM is <strong>booked</strong>.</p>\n"}
    assert g["toRecipients"] == [{"emailAddress": {"address": "lead@100001.sch.example", "name": "Lead"}}]
    assert g["replyTo"] == [{"emailAddress": {"address": "ann@la.example", "name": "Ann Officer"}}]
    [att] = g["attachments"]
    assert att["@odata.type"] == "#microsoft.graph.fileAttachment" and att["name"] == "invite.ics"
    assert att["contentType"] == "text/calendar; method=REQUEST"
    assert base64.b64decode(att["contentBytes"]) == ICS


async def test_graph_refusals_are_sorted_retry_or_permanent(emulator):
    mailer = graph_mailer(emulator)
    try:
        emulator.set_forbidden("tsm@la.example")  # outside the application access policy / RBAC scope
        forbidden = await mailer.send(message())
        assert (
            forbidden.status is MailStatus.FAILED
            and "403" in forbidden.detail
            and "Mail.Send" in forbidden.detail
        )
        emulator.set_forbidden("tsm@la.example", False)
        emulator.fail("POST", ".*/sendMail", status=503, count=5)  # beyond the SDK's own retries
        busy = await mailer.send(message())
        assert busy.status is MailStatus.RETRY and "503" in busy.detail
        emulator.clear_faults()
        assert (await mailer.send(message())).status is MailStatus.SENT
        assert len(emulator.sent_mail) == 1
    finally:
        await mailer.close()


async def test_the_emulator_refuses_a_message_without_recipients(emulator):
    mailer = graph_mailer(emulator)
    try:
        m = EmailMessage()
        m["Subject"] = "nobody"
        m.set_content("x")
        result = await mailer.send(m)
        assert result.status is MailStatus.FAILED and "400" in result.detail
        assert emulator.sent_mail == []
    finally:
        await mailer.close()
