"""Passwords and sign-in checks, shared by the login page and the API's token endpoint."""

from __future__ import annotations

from functools import cache

import bcrypt
from flask import current_app, g, request
from sqlalchemy import select

from .extensions import db
from .models import User
from .text import has_unstorable_characters

MIN_PASSWORD_LENGTH = 8
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72

# Failed sign-ins, per client address and per account (SPEC section 7: 429 on too many).
LOGIN_LIMITS = ("10 per minute", "20 per hour")


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively: store and look them up lower-cased."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """A bcrypt hash of the password, at the configured cost."""
    salt = bcrypt.gensalt(rounds=current_app.config["BCRYPT_ROUNDS"])
    return bcrypt.hashpw(password.encode(), salt).decode()


@cache
def _dummy_hash(rounds: int) -> str:
    """Checked against when the email is unknown, so a wrong email costs as much as a wrong password."""
    return bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=rounds)).decode()


def check_password(user_hash: str, password: str) -> bool:
    """Whether the password matches the bcrypt hash."""
    encoded = password.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(encoded, user_hash.encode())


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters."
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"Password must be at most {MAX_PASSWORD_BYTES} bytes."
    return None


def find_user_by_email(email: str) -> User | None:
    """The user with this email, compared case-insensitively."""
    if has_unstorable_characters(email):  # no stored email holds them; the database may refuse
        return None
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def authenticate_user(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; same cost whether or not the email exists."""
    user = find_user_by_email(email)
    if user is None:
        check_password(_dummy_hash(current_app.config["BCRYPT_ROUNDS"]), password)
        return None
    if not check_password(user.password_hash, password) or not user.is_active:
        return None
    return user


def sign_in_account_key() -> str:
    """Rate-limit key for the account being signed in to (form or JSON field)."""
    body = request.get_json(silent=True) if request.is_json else None
    source = body if isinstance(body, dict) else request.form
    email = source.get("email") or source.get("username") or ""
    return "account:" + (normalize_email(email) if isinstance(email, str) else "")


def sign_in_failed(_response: object = None) -> bool:
    """Only failed attempts count against the sign-in rate limits."""
    return bool(g.get("sign_in_failed"))
