"""The one revoke operation, used by the audit page, the profile and the API (SPEC section 6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from sqlalchemy import delete

from .activities import record_activity
from .extensions import db
from .external_links import external_url
from .models import ApiToken, User, token_count_change, utcnow
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
    # None when no email is due (the owner revoked it) or the caller is to deliver it; False
    # when it is queued for retry.
    email_sent: bool | None
    email_id: int | None = None  # the owner's email in the outbox, if one is due


def _actor_description(actor: User | None, by_owner: bool) -> str:
    if actor is None:
        return "TokenAudit, automatically"
    return "the owner" if by_owner else f"superuser {isolate(actor.full_name)}"


def _how_revoked(revoked_by: str, found_at: str | None) -> str:
    """How the Activity tells it: who revoked the token, or where the system found it."""
    if found_at is not None:
        return f"revoked automatically: found in public at {found_at}"
    return f"revoked by {revoked_by}"


def revoke_token(
    token: ApiToken,
    actor: User | None,
    found_at: str | None = None,
    *,
    in_callers_transaction: bool = False,
) -> Revocation:
    """Delete the token, record the Activity and queue the owner's email in one transaction.

    `actor` None is the system, revoking a token that a secret scanner found in public at
    `found_at` (a URL as the scanner reported it). `in_callers_transaction`: the caller revokes
    many tokens in one transaction (a commit each would cost more than the revokes), commits
    it, then delivers each `Revocation.email_id`.
    """
    owner = token.owner
    owner_name = owner.full_name  # read before the commit expires it (one query fewer)
    by_owner = actor is not None and actor.id == owner.id
    revoked_at = utcnow()
    revoked_by = _actor_description(actor, by_owner)
    details = {"token_name": token.name, "prefix": token.prefix}
    if found_at is not None:
        details["found_at"] = found_at
    # The organization row first, as rotation and the lifetime policy take it: the token count's
    # update would take it after the token's row, the opposite order (a deadlock).
    lock_organization(owner.organization)
    # Checked delete: a concurrent revoke of the same token must not be recorded twice.
    deleted = db.session.execute(
        delete(ApiToken).where(ApiToken.id == token.id).execution_options(synchronize_session=False)
    ).rowcount
    if deleted != 1:
        if not in_callers_transaction:  # the caller's transaction may hold other revokes
            db.session.rollback()
        raise TokenAlreadyRevoked(token.prefix)
    db.session.execute(token_count_change(token.organization_id, -1))
    db.session.expunge(token)
    record_activity(
        subject=owner,
        actor=actor,
        kind="token_revoked",
        message=f"API token “{isolate(token.name)}” ({token.prefix}) "
        + _how_revoked(revoked_by, found_at),
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
            "found_at": found_at,
        }
        reason = ": it was found in public" if found_at is not None else ""
        email = queue_email(
            recipient=owner.email,
            subject=f"Your API token {token.prefix} was revoked{reason}",
            text_body=render_template("email/token_revoked.txt", **context),
            html_body=render_template("email/token_revoked.html", **context),
        )
    if in_callers_transaction:
        db.session.flush()  # gives the email its id
    else:
        db.session.commit()
    return Revocation(
        token_name=token.name,
        prefix=token.prefix,
        owner_name=owner_name,
        by_owner=by_owner,
        revoked_at=revoked_at,
        email_sent=deliver(email.id) if email and not in_callers_transaction else None,
        email_id=email.id if email else None,
    )
