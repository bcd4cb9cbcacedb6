"""Passwords and accounts: hashing, checking and looking up who signs in (no request here: the
sign-in budget, the auth-failure log and what a refusal answers live in web/sign_in.py)."""

from __future__ import annotations

from functools import cache

import bcrypt
from flask import current_app
from sqlalchemy import select

from .extensions import db
from .models import User
from .text import has_unstorable_characters

MIN_PASSWORD_LENGTH = 8
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72


class SignInRefused(Exception):
    """Wrong email or password, or a deactivated account. `reason` and `user_id` are for the
    auth log only: the person signing in is told the same in every case."""

    def __init__(self, reason: str, user_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively: store and look them up lower-cased."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """A bcrypt hash of the password, at the configured cost."""
    salt = bcrypt.gensalt(rounds=current_app.config["BCRYPT_ROUNDS"])
    return bcrypt.hashpw(password.encode(), salt).decode()


@cache
def _dummy_hash(rounds: int) -> str:
    """Checked when the email is unknown, so a wrong email costs as much as a wrong password."""
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


def authenticate_user(email: str, password: str) -> User:
    """The active user with these credentials, else SignInRefused; unknown emails cost as much
    as known ones."""
    user = find_user_by_email(email)
    if user is None:
        check_password(_dummy_hash(current_app.config["BCRYPT_ROUNDS"]), password)
        raise SignInRefused("unknown email")
    if not check_password(user.password_hash, password):
        raise SignInRefused("wrong password", user.id)
    if not user.is_active:
        raise SignInRefused("user is deactivated", user.id)
    return user
