"""The mail sender as an operator configures it: `flask send-mail` in its own process, real SMTP
servers on loopback, settings from the environment."""

from __future__ import annotations

import base64

import pytest
from aiosmtpd.smtp import AuthResult
from conftest import Mailbox, serve_mail
from servers import run_send_mail

from tokenaudit.extensions import db
from tokenaudit.outbox import queue_email

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-Pa55word"


def accept_the_mailer(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(
        success=(auth_data.login, auth_data.password)
        == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    )


# Loopback only: the test server takes the password without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_smtp_password_stays_out_of_the_log_even_in_debug_mode(app):
    queue_email("olive@acme.test", "Token revoked", "text", "<p>html</p>")
    db.session.commit()
    mailbox = Mailbox()
    with serve_mail(
        app, mailbox, authenticator=accept_the_mailer, auth_required=True, auth_require_tls=False
    ):
        result = run_send_mail(
            app,
            env={
                "FLASK_DEBUG": "1",
                "MAIL_USERNAME": SMTP_USER,
                "MAIL_PASSWORD": SMTP_PASSWORD,
            },
        )
    assert result.returncode == 0, result.stdout
    assert [message["Subject"] for message in mailbox.messages] == ["Token revoked"]
    auth_plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    assert SMTP_PASSWORD not in result.stdout
    assert auth_plain not in result.stdout
