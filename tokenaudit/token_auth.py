"""Authenticating API requests by token: the one place that decides whether a token is good."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models import ApiToken, User, UTCDateTime, utcnow
from .tokens import digest, parse_token

AUTH_SCHEME = "token"
MAX_RECORDED_PATH = 500

# Built once: every API request runs both, and building them per request showed in profiles.
# The owner's organization comes in the same query: views read it (e.g. /me/), and one query
# is cheaper than a second round trip.
_TOKEN_BY_PREFIX = (
    select(ApiToken)
    .options(joinedload(ApiToken.owner).joinedload(User.organization))
    .where(ApiToken.prefix == bindparam("prefix"))
)
_RECORD_USE = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(
        last_used_at=bindparam("used_at", type_=UTCDateTime),
        last_used_method=bindparam("method"),
        last_used_path=bindparam("path"),
    )
)


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking an Authorization header: a token, or why there is none."""

    token: ApiToken | None
    failure: str | None = None  # a reason for the log
    # What the client is told, when not the one message for every failure: an expired token's
    # owner is told why, so a script's owner knows to rotate it (SPEC 10).
    detail: str | None = None


EXPIRED_DETAIL = "Token has expired."


def check_authorization_header(header: str | None) -> TokenCheck:
    """Check an `Authorization: Token <value>` header, querying the database at most once."""
    if not header:
        return TokenCheck(None, "missing Authorization header")
    parts = header.split(" ")
    if len(parts) != 2 or parts[0].lower() != AUTH_SCHEME or not parts[1]:
        return TokenCheck(None, "malformed Authorization header")
    value = parts[1]
    prefix = parse_token(value)
    if prefix is None:
        return TokenCheck(None, "malformed token or bad checksum")
    token = db.session.scalar(_TOKEN_BY_PREFIX, {"prefix": prefix})
    if token is None:
        return TokenCheck(None, f"unknown token {prefix}")
    if not hmac.compare_digest(token.digest, digest(value)):
        return TokenCheck(None, f"wrong secret for token {prefix}")
    if not token.owner.is_active:
        return TokenCheck(None, f"owner of token {prefix} is deactivated")
    if not token.owner.can_manage_tokens:
        return TokenCheck(None, f"owner of token {prefix} lacks the token permission")
    if token.has_expired():
        return TokenCheck(None, f"token {prefix} has expired", detail=EXPIRED_DETAIL)
    return TokenCheck(token)


def record_token_use(token: ApiToken, method: str, path: str) -> None:
    """Record when and how a token was last used (path only: a query string can hold secrets)."""
    usage = {
        "last_used_at": utcnow(),
        "last_used_method": method,
        "last_used_path": path[:MAX_RECORDED_PATH],
    }
    # Its own short transaction: committed before the view runs, and the request's session
    # (with the token and owner already loaded) is left as it is.
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Every use is still written, in order; only the wait for this commit's WAL flush
            # is skipped (a crash could lose the last fraction of a second of usage times, never
            # a token or a revoke). That wait was most of an API request's cost on PostgreSQL.
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        connection.execute(
            _RECORD_USE,
            {
                "token_id": token.id,
                "used_at": usage["last_used_at"],
                "method": method,
                "path": usage["last_used_path"],
            },
        )
    for field, value in usage.items():
        set_committed_value(token, field, value)
