"""The one revoke operation, used by the audit page, the profile and the API (SPEC section 6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from sqlalchemy import delete

from .activities import record_activity
from .extensions import db
from .external_links import external_url
from .models import ApiToken, User, utcnow
from .outbox import deliver, queue_email
from .text_direction import isolate
from .token_lifetime import lock_organization


class TokenAlreadyRevoked(Exception):
    """The token was deleted by someone else between loading it and revoking it."""


@dataclass(frozen=True)
class Revocation:
    """What was revoked, by whom, and whether the owner's email went out."""

    token_name: str
    prefix: str
    owner_name: str
    by_owner: bool
    revoked_at: datetime
    # None when no email is due (the owner revoked it); False when it is queued for retry.
    email_sent: bool | None


def _actor_description(actor: User, by_owner: bool) -> str:
    return "the owner" if by_owner else f"superuser {isolate(actor.full_name)}"


def revoke_token(token: ApiToken, actor: User) -> Revocation:
    """Delete the token, record the Activity and queue the owner's email in one transaction."""
    owner = token.owner
    by_owner = actor.id == owner.id
    revoked_at = utcnow()
    revoked_by = _actor_description(actor, by_owner)
    details = {"token_name": token.name, "prefix": token.prefix}
    # The organization row first, as rotation and the lifetime policy take it: the delete's
    # search trigger would take it after the token's row, the opposite order (a deadlock).
    lock_organization(owner.organization)
    # Checked delete: a concurrent revoke of the same token must not be recorded twice.
    deleted = db.session.execute(
        delete(ApiToken).where(ApiToken.id == token.id).execution_options(synchronize_session=False)
    ).rowcount
    if deleted != 1:
        db.session.rollback()
        raise TokenAlreadyRevoked(token.prefix)
    db.session.expunge(token)
    record_activity(
        subject=owner,
        actor=actor,
        kind="token_revoked",
        message=f"API token “{isolate(token.name)}” ({token.prefix}) revoked by {revoked_by}",
        details=details,
    )
    email = None
    if not by_owner:
        context = {
            "owner": owner,
            "token_name": token.name,
            "prefix": token.prefix,
            "revoked_by": revoked_by,
            "revoked_at": revoked_at,
            "profile_url": external_url("profile.tokens"),
        }
        email = queue_email(
            recipient=owner.email,
            subject=f"Your API token {token.prefix} was revoked",
            text_body=render_template("email/token_revoked.txt", **context),
            html_body=render_template("email/token_revoked.html", **context),
        )
    db.session.commit()
    return Revocation(
        token_name=token.name,
        prefix=token.prefix,
        owner_name=owner.full_name,
        by_owner=by_owner,
        revoked_at=revoked_at,
        email_sent=deliver(email.id) if email else None,
    )
