"""Creating personal API tokens and validating their names."""

from __future__ import annotations

from .activities import record_activity
from .extensions import db
from .models import ApiToken, User
from .text import has_unstorable_characters, has_visible_characters
from .text_direction import isolate
from .tokens import generate_token

MAX_NAME_LENGTH = 100


class InvalidTokenName(ValueError):
    """The name a user gave a token cannot be stored; the message says why."""


def clean_token_name(raw: object) -> str:
    """Trim a token name and check it is 1-100 characters of printable Unicode."""
    if not isinstance(raw, str):
        raise InvalidTokenName("Token name must be text.")
    name = raw.strip()
    if not has_visible_characters(name):
        raise InvalidTokenName("Give the token a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidTokenName(f"Token name must be at most {MAX_NAME_LENGTH} characters.")
    if has_unstorable_characters(name):
        raise InvalidTokenName("Token name must not contain control characters.")
    return name


def create_personal_token(owner: User, name: str) -> tuple[ApiToken, str]:
    """Create and store a token for `owner`; returns it with its value, which is never stored."""
    new = generate_token()
    token = ApiToken(
        owner=owner,
        organization_id=owner.organization_id,
        name=name,
        prefix=new.prefix,
        digest=new.digest,
    )
    db.session.add(token)
    db.session.flush()
    record_activity(
        subject=owner,
        actor=owner,
        kind="token_created",
        message=f"API token “{isolate(name)}” ({new.prefix}) created",
        details={"token_name": name, "prefix": new.prefix},
    )
    db.session.commit()
    return token, new.value
