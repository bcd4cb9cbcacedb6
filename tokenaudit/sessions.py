"""Sessions that end on the server (SPEC 13): one row per signed-in browser.

The signed session cookie holds a random secret; the database holds its SHA-256 and when it
was last seen. Signing out, deactivation and "Sign out other sessions" delete rows, so a copied
cookie stops working at once, whoever holds it; a session idle for SESSION_IDLE_MINUTES ends.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, select, update

from .clock import utcnow
from .extensions import db
from .models import User, UserSession

SESSION_SECRET_KEY = "session_secret"
# last_seen_at is written at most this often: not a database write on every request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(user: User) -> None:
    """Sign the user in with a new session; whatever the cookie held before (CSRF token
    included) is dropped, so nothing planted in it before sign-in survives."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's copy for this request
    secret = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, digest=_digest(secret)))
    db.session.commit()
    session[SESSION_SECRET_KEY] = secret
    login_user(user)


def _current_digest() -> str | None:
    """The digest of this request's session secret, if its cookie has one."""
    secret = session.get(SESSION_SECRET_KEY)
    return _digest(secret) if isinstance(secret, str) else None


def _idle_limit() -> timedelta:
    """How long a session may go unused before it ends."""
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def session_is_live(user: User) -> bool:
    """Whether this request's cookie belongs to a session of `user` that has not ended or idled
    out; notes that it was seen (at most once a minute)."""
    digest = _current_digest()
    if digest is None:
        return False
    row = db.session.scalar(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.digest == digest)
    )
    if row is None:
        return False
    now = utcnow()
    if now - row.last_seen_at > _idle_limit():
        db.session.delete(row)
        db.session.commit()
        return False
    if now - row.last_seen_at > LAST_SEEN_PRECISION:
        db.session.execute(
            update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
        )
        db.session.commit()
    return True


def end_session(user_id: int) -> None:
    """Sign out: delete this browser's session row and empty its cookie (CSRF token too)."""
    digest = _current_digest()
    if digest is not None:
        db.session.execute(
            delete(UserSession).where(UserSession.user_id == user_id, UserSession.digest == digest)
        )
        db.session.commit()
    logout_user()
    session.clear()
    g.pop("csrf_token", None)


def end_other_sessions(user_id: int) -> int:
    """Delete every session of the user but this one; how many ended."""
    others = delete(UserSession).where(
        UserSession.user_id == user_id, UserSession.digest != (_current_digest() or "")
    )
    ended = db.session.execute(others).rowcount
    db.session.commit()
    return ended


def end_all_sessions(user_id: int) -> None:
    """Delete every session of the user (deactivation); the caller commits."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))


def live_sessions(user_id: int) -> list[UserSession]:
    """The user's sessions that have not idled out, most recently seen first (an idle row is
    only deleted when its cookie comes back, which may be never)."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.last_seen_at >= utcnow() - _idle_limit(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )
