"""Mail that survives an SMTP outage: pending while the server is down, sent once it is back."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import signal
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import (
    auth_header,
    count_rows,
    database,
    make_token,
    make_user,
    run_at_the_same_moment,
    send_mail_to,
    serve_mail,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from servers import MailSender
from sqlalchemy import select

from bench.server import Mailbox, SMTPServer, free_port
from tokenaudit.extensions import db
from tokenaudit.models import Activity, OutboxEmail
from tokenaudit.outbox import deliver_due, queue_email


@pytest.fixture
def smtp(app: Flask):
    """The app's SMTP server, down until the test starts it."""
    server = SMTPServer()
    send_mail_to(app, server.port)
    yield server
    server.stop()


@pytest.fixture
def revoke_by_superuser(client, org, admin):
    """Revoke a member's token through the API as a superuser; returns the member's token value."""

    def revoke() -> str:
        owner = make_user(org, f"owner{free_port()}@acme.test", "Olive Owner")
        token, value = make_token(owner, "nightly sync")
        _, admin_value = make_token(admin, "admin script")
        response = client.delete(
            f"/api/v2/organization/tokens/{token.id}/", headers=auth_header(admin_value)
        )
        assert response.status_code == 204
        return value

    return revoke


def outbox_rows() -> list[tuple[str, int, str | None]]:
    """(status, attempts, last_error) of every outbox email, read fresh from the database."""
    with database():
        rows = db.session.execute(
            select(OutboxEmail.status, OutboxEmail.attempts, OutboxEmail.last_error).order_by(
                OutboxEmail.id
            )
        )
        return [tuple(row) for row in rows]


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_revoke_during_an_outage_succeeds_and_keeps_the_email_pending(
    client, smtp, revoke_by_superuser
):
    value = revoke_by_superuser()
    assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    assert count_rows(Activity, kind="token_revoked") == 1
    [(status, attempts, last_error)] = outbox_rows()
    assert (status, attempts) == ("pending", 1)
    assert "ConnectionRefused" in last_error
    assert smtp.mailbox.messages == []


def test_send_mail_command_sends_exactly_once_when_the_server_returns(
    runner, smtp, revoke_by_superuser
):
    revoke_by_superuser()
    down = runner.invoke(args=["send-mail", "--all"])
    assert down.exit_code == 1 and "Sent 0 email(s); 1 still pending." in down.output
    assert outbox_rows()[0][:2] == ("pending", 2)

    smtp.start()
    back = runner.invoke(args=["send-mail", "--all"])
    assert back.exit_code == 0 and "Sent 1 email(s); 0 still pending." in back.output
    again = runner.invoke(args=["send-mail", "--all"])
    assert again.exit_code == 0 and "Sent 0 email(s); 0 still pending." in again.output

    [message] = smtp.mailbox.messages
    assert message["X-Envelope-To"].startswith("owner")
    assert "was revoked" in message["Subject"]
    assert outbox_rows()[0][0] == "sent"


def test_send_mail_respects_the_back_off_unless_told_otherwise(runner, smtp, revoke_by_superuser):
    revoke_by_superuser()
    smtp.start()
    waiting = runner.invoke(args=["send-mail"])  # the first retry is due 30 s after the failure
    assert "Sent 0 email(s); 1 still pending." in waiting.output
    assert smtp.mailbox.messages == []


@pytest.fixture
def start_mail_sender(app: Flask, tmp_path: Path):
    """Start `flask send-mail --watch` processes on the app's database; stopped after the test."""
    senders: list[MailSender] = []

    def start(interval: float = 0.1) -> MailSender:
        sender = MailSender(app, tmp_path, interval)
        senders.append(sender)
        return sender

    yield start
    for sender in senders:
        sender.stop(signal.SIGKILL)


@pytest.mark.slow  # a real mail sender process
@pytest.mark.parametrize("app_config", [{"MAIL_RETRY_BACKOFF": 0.05}])
def test_the_mail_sender_delivers_what_the_request_could_not_once_smtp_is_back(
    smtp, revoke_by_superuser, start_mail_sender
):
    revoke_by_superuser()  # tried in the request: refused, pending
    sender = start_mail_sender()
    sender.wait_until_ready()
    # While the server is down the sender keeps trying, and the email stays pending between
    # tries (during a try it is claimed, "sending": reading it then is no failure).
    assert wait_for(lambda: outbox_rows()[0][1] >= 3 and outbox_rows()[0][0] == "pending")
    assert smtp.mailbox.messages == []
    smtp.start()
    assert wait_for(lambda: smtp.mailbox.messages), (outbox_rows(), sender.log())
    time.sleep(0.5)  # several more rounds: nothing is sent twice
    assert sender.stop() == 0, sender.log()
    [message] = smtp.mailbox.messages
    assert "was revoked" in message["Subject"]
    assert outbox_rows()[0][0] == "sent"


@pytest.mark.slow  # a real mail sender process
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_the_mail_sender_stops_cleanly_on_sigterm_and_sigint(
    smtp, start_mail_sender, signal_number
):
    """At once, not at the end of its 10 s sleep, with status 0 (systemd, make run's Ctrl-C)."""
    sender = start_mail_sender(interval=10)
    sender.wait_until_ready()
    asked = time.monotonic()
    assert sender.stop(signal_number) == 0, sender.log()
    assert time.monotonic() - asked < 5
    assert "Mail sender stopped" in sender.log()
    assert "Traceback" not in sender.log()


class SlowMailbox(Mailbox):
    """Takes 20 ms a message, so that two senders are still both at work when they overlap."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow  # two real mail sender processes
def test_two_mail_senders_deliver_each_email_once(smtp, start_mail_sender):
    smtp.mailbox = SlowMailbox()
    emails = 100
    with database():
        for number in range(emails):
            queue_email(f"user{number}@acme.test", f"message {number}", "text", "<p>html</p>")
        db.session.commit()
    smtp.start()
    senders = [start_mail_sender(), start_mail_sender()]
    assert wait_for(lambda: len(smtp.mailbox.messages) >= emails, timeout=60)
    time.sleep(0.5)  # more rounds of both: nothing is sent twice
    assert [sender.stop() for sender in senders] == [0, 0]
    sent = Counter(message["Subject"] for message in smtp.mailbox.messages)
    assert len(sent) == emails and set(sent.values()) == {1}
    assert {row[0] for row in outbox_rows()} == {"sent"}
    # Both took part: each sent some of them (the claim, not luck, kept them apart).
    assert all(re.search(r"Sent [1-9]\d* email", sender.log()) for sender in senders), [
        sender.log() for sender in senders
    ]


def test_concurrent_senders_never_send_one_email_twice(app, smtp):
    """As when several mail senders (or `flask send-mail` runs) wake together."""
    with database():
        for number in range(8):
            queue_email(f"user{number}@acme.test", f"message {number}", "text", "<p>html</p>")
        db.session.commit()
    smtp.start()
    run_at_the_same_moment(app, lambda: deliver_due(ignore_schedule=True), threads=3)
    subjects = sorted(message["Subject"] for message in smtp.mailbox.messages)
    assert subjects == [f"message {number}" for number in range(8)]
    assert {row[0] for row in outbox_rows()} == {"sent"}


def self_signed_tls_context(directory: Path) -> ssl.SSLContext:
    """A server context with a throwaway certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class TLSMailbox(Mailbox):
    """A mailbox that also notes the TLS version each message came over (None: plain text)."""

    tls_versions: list[str | None] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        ssl_object = server.transport.get_extra_info("ssl_object")
        self.tls_versions.append(ssl_object.version() if ssl_object else None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def ssl_smtp_server(app: Flask, tmp_path: Path):
    """An SMTP server on 127.0.0.1 that speaks only TLS from the first byte (SMTPS)."""
    with serve_mail(app, TLSMailbox(), ssl_context=self_signed_tls_context(tmp_path)) as mailbox:
        yield mailbox


@pytest.fixture
def silent_smtp_server(app: Flask):
    """A loopback port that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        send_mail_to(app, listener.getsockname()[1])
        yield


@pytest.mark.parametrize("app_config", [{"MAIL_USE_SSL": True, "MAIL_TIMEOUT": 5}])
def test_mail_goes_out_over_ssl_with_mail_use_ssl(client, ssl_smtp_server, revoke_by_superuser):
    revoke_by_superuser()
    [message] = ssl_smtp_server.messages
    assert "was revoked" in message["Subject"]
    assert ssl_smtp_server.tls_versions[0] in {"TLSv1.2", "TLSv1.3"}
    assert outbox_rows()[0][0] == "sent"


@pytest.mark.parametrize(
    "app_config",
    [{"MAIL_USE_SSL": True, "MAIL_TIMEOUT": 0.5}, {"MAIL_USE_SSL": False, "MAIL_TIMEOUT": 0.5}],
    ids=["ssl", "plain"],
)
def test_a_silent_smtp_server_costs_the_request_only_mail_timeout(
    client, silent_smtp_server, admin, member
):
    """The revoke answers soon after MAIL_TIMEOUT; its email stays pending for the sender."""
    token, _ = make_token(member, "nightly sync")
    _, admin_value = make_token(admin, "admin script")
    url, answers = f"/api/v2/organization/tokens/{token.id}/", []

    def revoke() -> None:
        answers.append(client.delete(url, headers=auth_header(admin_value)).status_code)

    revoking = threading.Thread(target=revoke, daemon=True)
    started = time.monotonic()
    revoking.start()
    revoking.join(20)
    assert answers == [204], "the request is still waiting on the SMTP server"
    assert time.monotonic() - started < 10
    [(status, attempts, last_error)] = outbox_rows()
    assert (status, attempts) == ("pending", 1)
    assert "timed out" in last_error
