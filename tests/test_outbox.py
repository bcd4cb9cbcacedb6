"""Mail that survives an SMTP outage: pending while the server is down, sent once it is back."""

from __future__ import annotations

import threading
import time

import pytest
from aiosmtpd.controller import Controller
from conftest import (
    Mailbox,
    auth_header,
    free_port,
    make_token,
    make_user,
    run_at_the_same_moment,
)
from flask import Flask
from sqlalchemy import select

from tokenaudit.extensions import db, mail
from tokenaudit.models import Activity, OutboxEmail
from tokenaudit.outbox import deliver_due, queue_email
from tokenaudit.outbox_retry import OutboxRetrier


class SwitchableSMTPServer:
    """A real aiosmtpd server on one loopback port that a test stops and starts again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp(app: Flask):
    """The app's SMTP server, down until the test starts it."""
    server = SwitchableSMTPServer()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    mail.init_app(app)
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
    db.session.rollback()  # end the test's transaction: see what other connections committed
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
    assert db.session.scalar(select(Activity).where(Activity.kind == "token_revoked"))
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


@pytest.mark.parametrize("app_config", [{"MAIL_RETRY_BACKOFF": 0.05}])
def test_retry_thread_sends_exactly_once_when_the_server_returns(app, smtp, revoke_by_superuser):
    revoke_by_superuser()
    retrier = OutboxRetrier(app, interval=0.1)
    retrier.start()
    try:
        # While the server is down the thread keeps trying, and the email stays pending between
        # tries (during a try it is claimed, "sending": reading it then is no failure).
        assert wait_for(lambda: outbox_rows()[0][1] >= 3 and outbox_rows()[0][0] == "pending")
        assert smtp.mailbox.messages == []
        smtp.start()
        assert wait_for(lambda: smtp.mailbox.messages), outbox_rows()
        time.sleep(0.5)  # several more rounds of the thread: nothing is sent twice
    finally:
        retrier.stop()
    assert len(smtp.mailbox.messages) == 1
    assert outbox_rows()[0][0] == "sent"


def test_concurrent_senders_never_send_one_email_twice(app, smtp):
    """As when several gunicorn workers' retry threads wake together."""
    for number in range(8):
        queue_email(f"user{number}@acme.test", f"message {number}", "text", "<p>html</p>")
    db.session.commit()
    db.session.rollback()
    smtp.start()
    run_at_the_same_moment(app, lambda: deliver_due(ignore_schedule=True), threads=3)
    subjects = sorted(message["Subject"] for message in smtp.mailbox.messages)
    assert subjects == [f"message {number}" for number in range(8)]
    assert {row[0] for row in outbox_rows()} == {"sent"}


@pytest.mark.parametrize("app_config", [{"TESTING": False, "MAIL_RETRY_INTERVAL": 0.1}])
def test_retry_thread_starts_with_the_first_request_outside_tests(app, client):
    assert "outbox_retrier" not in app.extensions
    client.get("/login")
    retrier = app.extensions["outbox_retrier"]
    try:
        client.get("/login")
        assert app.extensions["outbox_retrier"] is retrier  # one thread per process
        assert any(thread.name == "outbox-retry" for thread in threading.enumerate())
    finally:
        retrier.stop()
