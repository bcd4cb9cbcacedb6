"""Revoking many tokens at once: each through the one revoke operation, one email per owner.

Tokens are revoked in batches, each its own short transaction, so that 10,000 tokens never hold
the database's write lock for long (SQLite has one for the whole file: an API request recording
its token's use waits for it) and a crash part-way leaves every finished batch revoked and
recorded. The owners' emails are queued once every batch is done, each listing all of that
owner's revoked tokens; as many as fit in EMAIL_SECONDS are sent at once, the rest by the outbox
(`flask send-mail --watch`) within its --interval.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .clock import utcnow
from .extensions import db
from .models import ApiToken, User
from .outbox import deliver
from .revocation import (
    EmailRecipient,
    RevokedToken,
    delete_and_record,
    queue_revocation_email,
    revoked_by_description,
)

BATCH_SIZE = 200
# Sending is slow (an SMTP round trip each): past this, emails are left to the outbox.
EMAIL_SECONDS = 5.0


@dataclass(frozen=True)
class BulkRevocation:
    """What a bulk revoke did."""

    revoked: int
    # Asked for but not revoked: already revoked, or never a token of the actor's organization.
    gone: int
    owners_emailed: int
    emails_pending: int  # of those, not sent yet: left to the outbox


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


def _organization_tokens(ids: list[int], organization_id: int) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .options(joinedload(ApiToken.owner))
            # The organization checked per row (+ 0): SQLite, without statistics, otherwise
            # walked the organization's whole index instead of looking the ids up.
            .where(ApiToken.id.in_(ids), ApiToken.organization_id + 0 == organization_id)
            .order_by(ApiToken.id)
        )
    )


def revoke_tokens(token_ids: Iterable[int], actor: User) -> BulkRevocation:
    """Revoke those of `token_ids` that are tokens of the actor's organization and still exist."""
    ids = sorted(set(token_ids))
    revoked: dict[int, list[RevokedToken]] = {}
    recipients: dict[int, EmailRecipient] = {}
    organization_id = actor.organization_id
    for batch in _batches(ids):
        # Those revoked by someone else meanwhile are not deleted again, nor recorded.
        for token in delete_and_record(_organization_tokens(batch, organization_id), actor):
            owner = token.owner
            revoked.setdefault(owner.id, []).append(RevokedToken(token.name, token.prefix))
            recipients[owner.id] = EmailRecipient(owner.email, owner.full_name)
        db.session.commit()
    count = sum(len(tokens) for tokens in revoked.values())
    emails = _queue_emails(revoked, recipients, actor)
    return BulkRevocation(
        revoked=count,
        gone=len(ids) - count,
        owners_emailed=len(emails),
        emails_pending=_deliver_for_a_while(emails),
    )


def _queue_emails(
    revoked: dict[int, list[RevokedToken]],
    recipients: dict[int, EmailRecipient],
    actor: User,
) -> list[int]:
    """One email per owner (not the actor's own tokens: they revoked those themselves)."""
    revoked_at = utcnow()
    emails = []
    for owner_id, tokens in revoked.items():
        if owner_id == actor.id:
            continue
        owner = recipients[owner_id]
        revoked_by = revoked_by_description(actor, owner_id)
        emails.append(queue_revocation_email(owner, tokens, revoked_by, revoked_at))
    db.session.flush()
    email_ids = [email.id for email in emails]  # read before the commit expires them
    db.session.commit()
    return email_ids


def _deliver_for_a_while(email_ids: list[int]) -> int:
    """Send emails until EMAIL_SECONDS have passed; how many are left to the outbox."""
    deadline = time.monotonic() + EMAIL_SECONDS
    unsent = 0
    for index, email_id in enumerate(email_ids):
        if time.monotonic() > deadline:
            return unsent + len(email_ids) - index
        unsent += not deliver(email_id)
    return unsent
