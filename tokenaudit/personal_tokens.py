"""An owner's own tokens: listing them, the name rule, creating and rotating them (each with its
Activity). Revoking is revocation.py's; lifetimes are token_lifetime.py's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from .activities import record_activity
from .extensions import db
from .models import MAX_TOKEN_NAME_LENGTH, ApiToken, User, token_search_text
from .text import has_unstorable_characters, has_visible_characters, isolate
from .token_lifetime import LifetimeRefused, check_expiry, expiry_in_days, lock_organization
from .tokens import generate_token

# Stands for "the organization's default lifetime" where None already means "never expires".
ORGANIZATION_DEFAULT = object()


def tokens_of(owner: User, organization_id: int | None = None) -> list[ApiToken]:
    """The owner's tokens, newest first (only those of `organization_id`, if given)."""
    query = select(ApiToken).where(ApiToken.user_id == owner.id)
    if organization_id is not None:
        query = query.where(ApiToken.organization_id == organization_id)
    return list(db.session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


class InvalidTokenName(ValueError):
    """The name a user gave a token cannot be stored; the message says why."""


def clean_token_name(raw: object) -> str:
    """Trim a token name and check it is 1 to MAX_TOKEN_NAME_LENGTH characters of printable
    Unicode: the one place that rules on names (the API and the profile form both call it)."""
    if not isinstance(raw, str):
        raise InvalidTokenName("Token name must be text.")
    name = raw.strip()
    if not has_visible_characters(name):
        raise InvalidTokenName("Give the token a name.")
    if len(name) > MAX_TOKEN_NAME_LENGTH:
        raise InvalidTokenName(f"Token name must be at most {MAX_TOKEN_NAME_LENGTH} characters.")
    if has_unstorable_characters(name):
        raise InvalidTokenName("Token name must not contain control characters.")
    return name


def refuse_name_in_use(owner: User, name: str) -> None:
    """Two tokens of one owner with the same name cannot be told apart on any page.

    Only the profile form asks: api-token-auth's default name is per minute, and scripts that
    fetch a token per run by one name must keep working.
    """
    in_use = db.session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == owner.id, ApiToken.name == name).limit(1)
    )
    if in_use is not None:
        raise InvalidTokenName(
            f"You already have a token named “{isolate(name)}”. Give this one another name "
            "(or revoke the old one first)."
        )


class TokenAlreadyRotated(Exception):
    """Someone else rotated or revoked the token between loading it and rotating it."""


def _expiry_text(expires_at: datetime | None) -> str:
    return f"expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "never expires"


def create_personal_token(
    owner: User, name: str, expires_at: datetime | None | object = ORGANIZATION_DEFAULT
) -> tuple[ApiToken, str]:
    """Create and store a token for `owner`; returns it with its value, which is never stored.

    `expires_at` has been checked against the policy (token_lifetime.py) by the caller; it is
    checked again under the policy's lock, which a change of policy may have beaten to it
    (LifetimeRefused, nothing created).
    """
    lock_organization(owner.organization)
    try:
        if expires_at is ORGANIZATION_DEFAULT:
            expires_at = expiry_in_days(owner.organization)
        else:
            check_expiry(owner.organization, expires_at)
    except LifetimeRefused:
        db.session.rollback()
        raise
    new = generate_token()
    token = ApiToken(
        owner=owner,
        organization_id=owner.organization_id,
        name=name,
        prefix=new.prefix,
        digest=new.digest,
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    record_activity(
        subject=owner,
        actor=owner,
        kind="token_created",
        message=f"API token “{isolate(name)}” ({new.prefix}) created",
        details={"token_name": name, "prefix": new.prefix, "expires": _expiry_text(expires_at)},
    )
    db.session.commit()
    return token, new.value


def rotate_personal_token(token: ApiToken, actor: User) -> str:
    """Give the token a new value (new prefix and secret), same name and record, and a fresh
    lifetime under the policy; the old value stops working with this commit. Returns the value.
    """
    old_prefix = token.prefix
    lock_organization(token.owner.organization)
    expires_at = expiry_in_days(token.owner.organization)
    new = generate_token()
    # Checked update: of two rotations at once, only the one that still sees the old digest
    # wins, so two new values can never both be live.
    rotated = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id, ApiToken.digest == token.digest)
        .values(
            prefix=new.prefix,
            digest=new.digest,
            expires_at=expires_at,
            # A statement skips the ORM's events: the search must find the new prefix, not the old.
            search_text=token_search_text(token.name, new.prefix),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if rotated != 1:
        db.session.rollback()
        raise TokenAlreadyRotated(old_prefix)
    record_activity(
        subject=token.owner,
        actor=actor,
        kind="token_rotated",
        message=(
            f"API token “{isolate(token.name)}” rotated: {old_prefix} replaced by {new.prefix}; "
            f"{_expiry_text(expires_at)}"
        ),
        details={"token_name": token.name, "prefix": new.prefix, "old_prefix": old_prefix},
    )
    db.session.commit()
    db.session.refresh(token)
    return new.value
