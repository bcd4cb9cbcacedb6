"""Passwords and sign-in checks, shared by the login page and the API's token endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

import bcrypt
from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db, limiter
from .models import KnownSignInAddress, User, utcnow
from .text import has_unstorable_characters, logfmt
from .tokens import mask_token_values

# Every refused sign-in, with its reason; never the password, nor an unknown email (it may be
# a password typed into the wrong field).
auth_log = logging.getLogger("tokenaudit.auth")
MIN_PASSWORD_LENGTH = 8
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72

# One sign-in budget per account and one per client address, shared by /login,
# /api/v2/api-token-auth/ and re-authentication (SPEC 13), 429 beyond it. Every attempt is
# counted (an atomic increment) before its password is checked, so concurrent guesses cannot
# overshoot it; a right password gives its attempt back.
SIGN_IN_LIMITS = "10 per minute;20 per hour"


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


def authenticate_user(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; unknown emails cost as much as known."""
    user = find_user_by_email(email)
    if user is None:
        check_password(_dummy_hash(current_app.config["BCRYPT_ROUNDS"]), password)
        log_auth_failure("unknown email")
        return None
    if not check_password(user.password_hash, password):
        log_auth_failure("wrong password", user_id=user.id)
        return None
    if not user.is_active:
        log_auth_failure("user is deactivated", user_id=user.id)
        return None
    return user


def log_auth_failure(reason: str, **fields: object) -> None:
    """Log a refused sign-in or token with why; callers pass ids and prefixes, never secrets."""
    details = {"reason": reason, "method": request.method, "path": mask_token_values(request.path)}
    details.update(fields)
    details["remote_addr"] = request.remote_addr
    auth_log.warning("authentication failed %s", logfmt(details), extra={"auth_failure": details})


def _account_email() -> str:
    """The account this attempt signs in to, read exactly as its entry point reads it: the
    signed-in user's for re-authentication, the JSON "username" for api-token-auth, the login
    form's email field. Anything else in the body (a decoy "email") never picks the budget."""
    if current_user.is_authenticated:
        email = current_user.email
    elif request.blueprint == "api":
        body = request.get_json(silent=True) if request.is_json else None
        email = body.get("username") if isinstance(body, dict) else None
    else:
        from .auth.forms import LoginForm  # here: the auth blueprint imports this module

        email = LoginForm(meta={"csrf": False}).email.data
    return normalize_email(email) if isinstance(email, str) else ""


def sign_in_account_key() -> str:
    """Rate-limit key of the per-account budget."""
    return "account:" + _account_email()


def signing_in_from_a_known_address() -> bool:
    """Whether the account's owner has signed in from this address before: the per-account
    budget then does not apply (the per-address one does), so strangers' failed guesses from
    elsewhere cannot lock the owner out."""
    user = find_user_by_email(_account_email())
    if user is None:
        return False
    known = select(KnownSignInAddress.id).where(
        KnownSignInAddress.user_id == user.id, KnownSignInAddress.address == request.remote_addr
    )
    return db.session.scalar(known) is not None


def sign_in_budget(view: Callable) -> Callable:
    """Count each POST to the view against the per-address and per-account budgets, first."""
    per_account = limiter.shared_limit(
        SIGN_IN_LIMITS,
        scope="sign-in per account",
        key_func=sign_in_account_key,
        exempt_when=signing_in_from_a_known_address,
        methods=["POST"],
    )
    per_address = limiter.shared_limit(
        SIGN_IN_LIMITS, scope="sign-in per address", key_func=get_remote_address, methods=["POST"]
    )
    return per_address(per_account(view))


def sign_in_succeeded(user: User) -> None:
    """The password was right: give the attempt back to the budgets, remember the address."""
    for counted in limiter.current_limits:
        limiter.limiter.hit(counted.limit, *counted.request_args, cost=-1)
    address = request.remote_addr or ""
    known = db.session.scalar(
        select(KnownSignInAddress).where(
            KnownSignInAddress.user_id == user.id, KnownSignInAddress.address == address
        )
    )
    if known is None:
        db.session.add(KnownSignInAddress(user_id=user.id, address=address))
    else:
        known.last_signed_in_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # the same address, recorded by a concurrent sign-in: fine
        db.session.rollback()
