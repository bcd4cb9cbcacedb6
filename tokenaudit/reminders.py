"""Expiry reminders (SPEC 10): one email per token 7 days before it expires and one when it has.

Any number of senders may look for due reminders at the same moment (`flask send-mail --watch`
on several servers, `flask send-mail` from cron): a reminder is queued only by the
sender whose insert into token_reminders wins its unique (token, kind, expiry date) key, in the
same transaction as the outbox email; the outbox's claim then delivers it once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import render_template
from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .clock import utcnow
from .extensions import db
from .external_links import external_url
from .models import ApiToken, TokenReminder
from .outbox import deliver_due, queue_email

EXPIRING_SOON = "expiring_soon"
EXPIRED = "expired"
REMINDER_LEAD = timedelta(days=7)
# A sender that was down catches up on "has expired" reminders this far back; tokens that
# expired longer ago (before this feature, or demo data) get none rather than a flood.
CATCH_UP = timedelta(days=7)


def _due_windows(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """For each kind, the expiry dates (after, up to and including) whose reminder is due."""
    return {EXPIRING_SOON: (now, now + REMINDER_LEAD), EXPIRED: (now - CATCH_UP, now)}


def _due_reminders(kind: str, after: datetime, until: datetime) -> list[tuple[int, datetime]]:
    already_queued = exists().where(
        TokenReminder.token_id == ApiToken.id,
        TokenReminder.kind == kind,
        TokenReminder.expires_at == ApiToken.expires_at,
    )
    return db.session.execute(
        select(ApiToken.id, ApiToken.expires_at).where(
            ApiToken.expires_at > after, ApiToken.expires_at <= until, ~already_queued
        )
    ).all()


def _insert_once(token_id: int, kind: str, expires_at: datetime) -> bool:
    """Insert the reminder's key; False when another sender's insert got there first."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(TokenReminder)
        .values(token_id=token_id, kind=kind, expires_at=expires_at, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["token_id", "kind", "expires_at"])
        .returning(TokenReminder.id)
    )
    return db.session.execute(statement).scalar() is not None


def _queue_reminder(token_id: int, kind: str, expires_at: datetime) -> bool:
    """Queue one reminder with its email, in one transaction; False if it is not (or no longer)
    due: queued by another sender, or the token was rotated or revoked meanwhile."""
    token = db.session.get(
        ApiToken, token_id, options=[joinedload(ApiToken.owner)], populate_existing=True
    )
    if token is None or token.expires_at != expires_at:
        db.session.rollback()
        return False
    try:
        won = _insert_once(token_id, kind, expires_at)
    except IntegrityError:  # revoked between the read and the insert
        won = False
    if not won:
        db.session.rollback()
        return False
    context = {
        "owner": token.owner,
        "token": token,
        "kind": kind,
        "rotate_url": external_url("profile.confirm_rotate", token_id=token.id),
    }
    subject = (
        f"Your API token {token.prefix} expires on {expires_at:%Y-%m-%d}"
        if kind == EXPIRING_SOON
        else f"Your API token {token.prefix} has expired"
    )
    queue_email(
        recipient=token.owner.email,
        subject=subject,
        text_body=render_template("email/token_expiry.txt", **context),
        html_body=render_template("email/token_expiry.html", **context),
    )
    db.session.commit()
    return True


def queue_due_reminders(stop_requested: Callable[[], bool] = lambda: False) -> int:
    """Queue every reminder that is due now and not queued yet (until stop_requested() says so,
    between two reminders); returns how many this call did."""
    queued = 0
    for kind, (after, until) in _due_windows(utcnow()).items():
        for token_id, expires_at in _due_reminders(kind, after, until):
            # Thousands fall due at once after a large seed-demo (a minute's work): a stopping
            # sender must not finish them first. The rest are still due at the next start.
            if stop_requested():
                return queued
            queued += _queue_reminder(token_id, kind, expires_at)
    return queued


def send_due_mail(
    ignore_schedule: bool = False, stop_requested: Callable[[], bool] = lambda: False
) -> tuple[int, int]:
    """What every sender runs: queue the reminders that are due, then deliver what is due.
    Returns (sent, still pending)."""
    queue_due_reminders(stop_requested)
    return deliver_due(ignore_schedule=ignore_schedule, stop_requested=stop_requested)
