"""Outgoing mail through an outbox: written with the change it reports, delivered after commit.

A message that cannot be delivered stays pending and is retried later by the mail sender
(`flask send-mail --watch`, or `flask send-mail` from cron), so an SMTP outage never undoes or
blocks the change itself.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from flask_mail import Connection, Message
from sqlalchemy import select, update

from .clock import utcnow
from .extensions import db
from .models import OutboxEmail

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=30)
# A message claimed by a sender that died is given back after this long.
STALE_CLAIM = timedelta(minutes=5)


class _TimeoutConnection(Connection):
    """Flask-Mail's connection with a timeout, so a hung SMTP server cannot hang a request.

    Flask-Mail opens smtplib's SMTP or SMTP_SSL without one (and smtplib connects and reads the
    greeting in its constructor, so a timeout set afterwards would come too late): this opens
    the class Flask-Mail would, with MAIL_TIMEOUT, then does what Flask-Mail does next, except
    turn on smtplib's debug output when the app is in debug mode: it prints the whole SMTP
    exchange, the password in AUTH PLAIN's base64 included.
    """

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT"]
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def queue_email(recipient: str, subject: str, text_body: str, html_body: str) -> OutboxEmail:
    """Add an email to the outbox in the current transaction (the caller commits)."""
    email = OutboxEmail(
        recipient=recipient, subject=subject, text_body=text_body, html_body=html_body
    )
    db.session.add(email)
    return email


def _transmit(email: OutboxEmail) -> None:
    """Hand one message to the SMTP server, or to the log when no MAIL_SERVER is configured."""
    if not current_app.config["MAIL_SERVER"]:
        log.info(
            "MAIL_SERVER is not set; email not sent, written here instead:\n"
            "To: %s\nSubject: %s\n\n%s",
            email.recipient,
            email.subject,
            email.text_body,
        )
        return
    message = Message(
        subject=email.subject,
        recipients=[email.recipient],
        body=email.text_body,
        html=email.html_body,
    )
    with _TimeoutConnection(current_app.extensions["mail"]) as connection:
        connection.send(message)


def _claim(email_id: int) -> bool:
    """Atomically mark a pending message as being sent, so only one sender delivers it."""
    result = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == email_id, OutboxEmail.status == "pending")
        .values(status="sending", attempts=OutboxEmail.attempts + 1, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver(email_id: int) -> bool:
    """Try to deliver one outbox message now; True when it has been sent."""
    if not _claim(email_id):
        return False
    email = db.session.get(OutboxEmail, email_id, populate_existing=True)
    try:
        _transmit(email)
    except (OSError, smtplib.SMTPException) as error:
        base = current_app.config["MAIL_RETRY_BACKOFF"]
        backoff = min(timedelta(seconds=base * 2 ** (email.attempts - 1)), MAX_BACKOFF)
        email.status = "pending"
        email.next_attempt_at = utcnow() + backoff
        email.last_error = f"{type(error).__name__}: {error}"[:500]
        db.session.commit()
        log.warning(
            "Email %s to %s not sent (attempt %s), will retry: %s",
            email.id,
            email.recipient,
            email.attempts,
            email.last_error,
        )
        return False
    email.status = "sent"
    email.sent_at = utcnow()
    db.session.commit()
    return True


def deliver_due(
    ignore_schedule: bool = False, stop_requested: Callable[[], bool] = lambda: False
) -> tuple[int, int]:
    """Deliver every pending message whose retry time has come (until stop_requested() says
    so, between two messages); returns (sent, still pending)."""
    now = utcnow()
    # Give back messages claimed by a sender that never finished.
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.status == "sending", OutboxEmail.next_attempt_at < now - STALE_CLAIM)
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    query = select(OutboxEmail.id).where(OutboxEmail.status == "pending")
    if not ignore_schedule:
        query = query.where(OutboxEmail.next_attempt_at <= now)
    due = list(db.session.scalars(query.order_by(OutboxEmail.id)))
    sent = 0
    for email_id in due:
        if stop_requested():
            break
        sent += deliver(email_id)
    pending = db.session.scalar(
        select(db.func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "pending")
    )
    return sent, pending
