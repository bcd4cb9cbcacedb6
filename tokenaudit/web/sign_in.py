"""Signing in over HTTP: the sign-in budget (rate limits per account and per address), the
auth-failure log, and checking credentials with every refusal logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts import SignInRefused, authenticate_user, find_user_by_email, normalize_email
from ..clock import utcnow
from ..extensions import db, limiter
from ..models import KnownSignInAddress, User
from ..text import logfmt
from ..tokens import mask_token_values
from .forms import LoginForm

# Every refused sign-in, with its reason; never the password, nor an unknown email (it may be
# a password typed into the wrong field).
auth_log = logging.getLogger("tokenaudit.auth")

# One sign-in budget per account and one per client address, shared by /login,
# /api/v2/api-token-auth/ and re-authentication (SPEC 13), 429 beyond it. Every attempt is
# counted (an atomic increment) before its password is checked, so concurrent guesses cannot
# overshoot it; a right password gives its attempt back.
SIGN_IN_LIMITS = "10 per minute;20 per hour"


def checked_credentials(email: str, password: str) -> User | None:
    """The active user with these credentials, or None with the refusal's reason logged."""
    try:
        return authenticate_user(email, password)
    except SignInRefused as refusal:
        fields = {} if refusal.user_id is None else {"user_id": refusal.user_id}
        log_auth_failure(refusal.reason, **fields)
        return None


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
