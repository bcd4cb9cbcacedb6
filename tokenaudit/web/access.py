"""Who may see what: the permission checks of pages and the API (superuser, token permission,
a recent password), lookups of tokens and members by id that 404 across organizations, and
which `next` targets are safe to redirect to."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import ApiToken, User
from .htmx import redirect_window_or_page

REAUTH_SESSION_KEY = "password_entered_at"
# One wording wherever a token is not (or no longer) there to see, rotate or revoke.
TOKEN_GONE = "That token no longer exists: it has already been revoked. Nothing was changed."


def require_superuser(user: User) -> None:
    """403 unless the user is a superuser of their organization (pages and API alike)."""
    if not user.is_superuser:
        abort(403, "Only organization superusers can see or do this.")


def superuser_required(view: Callable) -> Callable:
    """Signed-in organization superusers only; other members get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        require_superuser(current_user)
        return view(*args, **kwargs)

    return wrapped


def token_permission_required(view: Callable) -> Callable:
    """Signed-in holders of *Can create and manage personal API tokens* only; others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.can_manage_tokens:
            abort(403, _who_can_grant_the_permission(current_user))
        return view(*args, **kwargs)

    return wrapped


def _who_can_grant_the_permission(member: User) -> str:
    """The 403 message for a member without the token permission: whom to ask for it."""
    names = db.session.scalars(
        select(User.full_name)
        .where(
            User.organization_id == member.organization_id,
            User.is_superuser.is_(True),
            User.is_active.is_(True),
        )
        .order_by(User.full_name)
        .limit(3)
    ).all()
    ask = f"Ask an organization superuser ({', '.join(names)})" if names else "Ask a superuser"
    return (
        "You do not have permission to create and manage personal API tokens. "
        f"{ask} to turn on “Can create and manage personal API tokens” for you on the Team page."
    )


def note_password_entered() -> None:
    """Remember that the user just typed their password (sign-in or re-authentication)."""
    session[REAUTH_SESSION_KEY] = time.time()


def recently_authenticated() -> bool:
    entered_at = session.get(REAUTH_SESSION_KEY, 0)
    return time.time() - entered_at < current_app.config["REAUTH_SECONDS"]


def recent_password_required(view: Callable) -> Callable:
    """The password must have been entered in the last 10 minutes, else ask for it again."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not recently_authenticated():
            reauth_url = url_for("auth.reauthenticate", next=request.full_path.rstrip("?"))
            return redirect_window_or_page(reauth_url, "Please enter your password again.")
        return view(*args, **kwargs)

    return wrapped


def org_token_by_id(token_id: int, viewer: User) -> ApiToken | None:
    """A token of the viewer's organization; another organization's is as good as missing."""
    return db.session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.organization_id == viewer.organization_id
        )
    )


def own_token_by_id(token_id: int, owner: User) -> ApiToken | None:
    """One of the owner's own tokens; anyone else's is as good as missing."""
    return db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == owner.id)
    )


def get_org_token_or_404(token_id: int, viewer: User) -> ApiToken:
    """org_token_by_id, or 404."""
    token = org_token_by_id(token_id, viewer)
    if token is None:
        abort(404, TOKEN_GONE)
    return token


def get_own_token_or_404(token_id: int, owner: User) -> ApiToken:
    """own_token_by_id, or 404."""
    token = own_token_by_id(token_id, owner)
    if token is None:
        abort(404, TOKEN_GONE)
    return token


def get_org_member_or_404(user_id: int, viewer: User) -> User:
    """A member of the viewer's organization; anyone else is 404."""
    member = db.session.scalar(
        select(User).where(User.id == user_id, User.organization_id == viewer.organization_id)
    )
    if member is None:
        abort(404, "No such team member.")
    return member


def is_safe_next(target: str | None) -> bool:
    """Only redirect to paths on this site after sign-in.

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so
    `/<TAB>/evil.example` is `//evil.example` to them: any such character makes `next` unsafe
    (and a line break would otherwise break the Location header).
    """
    if not target or not target.startswith("/"):
        return False
    if any(char.isspace() or char == "\\" or not char.isprintable() for char in target):
        return False
    parts = urlsplit(target)
    return not target.startswith("//") and not parts.scheme and not parts.netloc
