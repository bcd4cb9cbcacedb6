"""The one revoke operation, used by the audit page, the profile, the API and secret scanning
(SPEC sections 6, 11, 12).

`revoke_token` revokes one token; bulk_revocation.py revokes many, a batch at a time through
`delete_and_record`, and emails each owner once with `queue_revocation_email`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from sqlalchemy import delete

from .activities import activity_values, record_activities
from .clock import utcnow
from .extensions import db
from .external_links import external_url
from .models import ApiToken, OutboxEmail, User, token_count_change
from .outbox import deliver, queue_email
from .text import isolate
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


@dataclass(frozen=True)
class RevokedToken:
    """A revoked token as its owner's email names it (the row itself is gone)."""

    name: str
    prefix: str


@dataclass(frozen=True)
class EmailRecipient:
    """An owner as their email needs them: kept in memory past commits that expire the User."""

    email: str
    full_name: str


def revoked_by_description(actor: User | None, owner_id: int) -> str:
    """How Activities and emails name who revoked: the system, the owner, or a superuser."""
    if actor is None:
        return "TokenAudit, automatically"
    return "the owner" if actor.id == owner_id else f"superuser {isolate(actor.full_name)}"


def _how_revoked(revoked_by: str, found_at: str | None) -> str:
    """How the Activity tells it: who revoked the token, or where the system found it."""
    if found_at is not None:
        return f"revoked automatically: found in public at {found_at}"
    return f"revoked by {revoked_by}"


def delete_and_record(
    tokens: list[ApiToken], actor: User | None, found_at: str | None = None
) -> list[ApiToken]:
    """Delete the tokens and add an Activity for each to the current transaction (the caller
    commits); the tokens (owners loaded) that were deleted.

    A token already gone is left out, with nothing recorded: a concurrent revoke of the same
    token must not be recorded twice. One DELETE for them all, not a statement per token, so a
    bulk revoke costs little per token (docs/benchmark-changes.md).
    """
    by_id = {token.id: token for token in tokens}
    # The organization row first, as rotation and the lifetime policy take it: the token count's
    # update would take it after the tokens' rows, the opposite order (a deadlock).
    for organization in {token.owner.organization for token in tokens}:
        lock_organization(organization)
    deleted_ids = db.session.scalars(
        delete(ApiToken)
        .where(ApiToken.id.in_(by_id))
        .returning(ApiToken.id)
        .execution_options(synchronize_session=False)
    ).all()
    deleted = [by_id[token_id] for token_id in sorted(deleted_ids)]
    # Each organization's kept token count, in the same transaction (token_count_change).
    for organization_id, count in Counter(token.organization_id for token in deleted).items():
        db.session.execute(token_count_change(organization_id, -count))
    activities = []
    for token in deleted:
        owner = token.owner
        db.session.expunge(token)
        how = _how_revoked(revoked_by_description(actor, owner.id), found_at)
        message = f"API token “{isolate(token.name)}” ({token.prefix}) {how}"
        details = {"token_name": token.name, "prefix": token.prefix}
        if found_at is not None:
            details["found_at"] = found_at
        activities.append(activity_values(owner, actor, "token_revoked", message, details))
    record_activities(activities)
    return deleted


def queue_revocation_email(
    owner: User | EmailRecipient,
    tokens: list[RevokedToken],
    revoked_by: str,
    revoked_at: datetime,
    found_at: str | None = None,
) -> OutboxEmail:
    """Queue one email telling the owner which of their tokens were revoked (the caller commits)."""
    context = {
        "owner": owner,
        "tokens": tokens,
        "revoked_by": revoked_by,
        "revoked_at": revoked_at,
        "profile_url": external_url("profile.tokens"),
        "found_at": found_at,
    }
    reason = ": it was found in public" if found_at is not None else ""
    if len(tokens) == 1:
        subject = f"Your API token {tokens[0].prefix} was revoked{reason}"
    else:
        subject = f"{len(tokens)} of your API tokens were revoked{reason}"
    return queue_email(
        recipient=owner.email,
        subject=subject,
        text_body=render_template("email/token_revoked.txt", **context),
        html_body=render_template("email/token_revoked.html", **context),
    )


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
    if not delete_and_record([token], actor, found_at):
        if not in_callers_transaction:  # the caller's transaction may hold other revokes
            db.session.rollback()
        raise TokenAlreadyRevoked(token.prefix)
    email = None
    if not by_owner:
        revoked = [RevokedToken(token.name, token.prefix)]
        revoked_by = revoked_by_description(actor, owner.id)
        email = queue_revocation_email(owner, revoked, revoked_by, revoked_at, found_at)
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
