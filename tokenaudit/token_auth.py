"""Authenticating API requests by token: the one place that decides whether a token is good.

Per request: one indexed query finds the token, its owner and their organization (plain columns,
not ORM loading, which cost five times as much: docs/benchmark-changes.md), the use is recorded
on the same connection and committed, and only then are the rows handed to the views as ORM
objects, attached to the session without another query.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import Row, bindparam, or_, select, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class

from .clock import utcnow
from .extensions import db
from .models import ApiToken, Organization, User, UTCDateTime, is_expired
from .tokens import digest, parse_token

AUTH_SCHEME = "token"
MAX_RECORDED_PATH = 500
MAX_RECORDED_IP = 45  # an IPv6 address at most

# What a request needs of its token, owner and organization; a column added here reaches the
# objects the views see. Built once: building them per request showed in profiles.
TOKEN_COLUMNS = (
    ApiToken.id,
    ApiToken.user_id,
    ApiToken.organization_id,
    ApiToken.name,
    ApiToken.prefix,
    ApiToken.digest,
    ApiToken.created_at,
    ApiToken.last_used_at,
    ApiToken.last_used_method,
    ApiToken.last_used_path,
    ApiToken.expires_at,
)
OWNER_COLUMNS = (
    User.id,
    User.email,
    User.full_name,
    User.is_active,
    User.organization_id,
    User.is_superuser,
    User.can_manage_tokens,
)
ORGANIZATION_COLUMNS = (Organization.id, Organization.name)
_TOKEN_BY_PREFIX = (
    select(
        *(column.label(f"token_{column.key}") for column in TOKEN_COLUMNS),
        *(column.label(f"owner_{column.key}") for column in OWNER_COLUMNS),
        *(column.label(f"organization_{column.key}") for column in ORGANIZATION_COLUMNS),
    )
    .join_from(ApiToken, User, ApiToken.user_id == User.id)
    .join(Organization, User.organization_id == Organization.id)
    .where(ApiToken.prefix == bindparam("prefix"))
)
_SKIP_WAL_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")
_RECORD_USE = (
    update(ApiToken)
    .where(
        ApiToken.id == bindparam("token_id"),
        # A use timed before the one stored (it read the clock first, then waited for the row
        # or SQLite's write lock; or its server's clock is behind) leaves the latest in place.
        or_(
            ApiToken.last_used_at.is_(None),
            ApiToken.last_used_at <= bindparam("used_at", type_=UTCDateTime),
        ),
    )
    .values(
        last_used_at=bindparam("used_at", type_=UTCDateTime),
        last_used_method=bindparam("method"),
        last_used_path=bindparam("path"),
        last_used_ip=bindparam("ip"),
    )
)

_STORED_USE = select(
    ApiToken.last_used_at, ApiToken.last_used_method, ApiToken.last_used_path, ApiToken.last_used_ip
).where(ApiToken.id == bindparam("token_id"))


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking an Authorization header: a token, or why there is none."""

    token: ApiToken | None
    failure: str | None = None  # a reason for the log
    # What the client is told, when not the one message for every failure: an expired token's
    # owner is told why, so a script's owner knows to rotate it (SPEC 10).
    detail: str | None = None


EXPIRED_DETAIL = "Token has expired."


def find_token_row(prefix: str) -> Row | None:
    """The token with this prefix, with its owner and their organization, in one indexed query."""
    # On the session's connection, as Core: the ORM's statement handling cost as much again.
    connection = db.session.connection()
    return connection.execute(_TOKEN_BY_PREFIX, {"prefix": prefix}).one_or_none()


def check_authorization_header(
    header: str | None, method: str, path: str, client_ip: str | None = None
) -> TokenCheck:
    """Check an `Authorization: Token <value>` header; when good, record this use of the token.

    At most one query before the answer is known; a good token's use is committed before the
    view runs, so it is recorded whatever the view does.
    """
    if not header:
        return TokenCheck(None, "missing Authorization header")
    parts = header.split(" ")
    if len(parts) != 2 or parts[0].lower() != AUTH_SCHEME or not parts[1]:
        return TokenCheck(None, "malformed Authorization header")
    value = parts[1]
    prefix = parse_token(value)
    if prefix is None:
        return TokenCheck(None, "malformed token or bad checksum")
    row = find_token_row(prefix)
    if row is None:
        return TokenCheck(None, f"unknown token {prefix}")
    if not hmac.compare_digest(row.token_digest, digest(value)):
        return TokenCheck(None, f"wrong secret for token {prefix}")
    if not row.owner_is_active:
        return TokenCheck(None, f"owner of token {prefix} is deactivated")
    if not row.owner_can_manage_tokens:
        return TokenCheck(None, f"owner of token {prefix} lacks the token permission")
    if is_expired(row.token_expires_at):
        return TokenCheck(None, f"token {prefix} has expired", detail=EXPIRED_DETAIL)
    usage = _record_use(row.token_id, method, path, client_ip)
    if usage is None:
        return TokenCheck(None, f"token {prefix} was revoked during the check")
    return TokenCheck(token_from_row(row, **usage))


def _address_or_none(client_ip: str | None) -> str | None:
    """The client address if it is one: behind a proxy that passes a client's X-Forwarded-For
    on unchanged, ProxyFix hands over whatever text the client sent."""
    try:
        return str(ipaddress.ip_address(client_ip or ""))[:MAX_RECORDED_IP]
    except ValueError:
        return None


def _record_use(
    token_id: int, method: str, path: str, client_ip: str | None
) -> dict[str, object] | None:
    """Record when, how and from where a token was last used (path only: a query string can
    hold secrets). `client_ip` is the request's remote address, which ProxyFix has already
    taken from X-Forwarded-For when TRUSTED_PROXY_COUNT is set.

    None when the token was revoked since it was looked up: the request is refused.

    On the request's own connection and committed at once: a second pooled connection with its
    own transaction costs more on every request (docs/benchmark-changes.md).
    """
    usage = {
        "last_used_at": utcnow(),
        "last_used_method": method,
        "last_used_path": path[:MAX_RECORDED_PATH],
        "last_used_ip": _address_or_none(client_ip),
    }
    # Core on the session's connection: an ORM-enabled UPDATE also looked for the row among
    # the session's objects to update them (there are none yet).
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Every use is still written, in order; only the wait for this commit's WAL flush is
        # skipped (a crash could lose the last fraction of a second of usage times, never a
        # token or a revoke: SET LOCAL ends with this transaction, before any view runs).
        connection.execute(_SKIP_WAL_FLUSH_WAIT)
    recorded = connection.execute(
        _RECORD_USE,
        {
            "token_id": token_id,
            "used_at": usage["last_used_at"],
            "method": method,
            "path": usage["last_used_path"],
            "ip": usage["last_used_ip"],
        },
    ).rowcount
    if not recorded:  # rare: a later use is stored (the views see that one), or a revoke
        stored = connection.execute(_STORED_USE, {"token_id": token_id}).one_or_none()
        usage = None if stored is None else stored._asdict()
    db.session.commit()
    return usage


def token_from_row(row: Row, **changes: object) -> ApiToken:
    """The token, its owner and their organization as ORM objects in the session, no query.

    Only the columns above are loaded; any other attribute loads on first use, as usual.
    """
    columns = iter(row)  # the query's columns: the token's, the owner's, the organization's
    token_values, owner_values, organization_values = (
        dict(zip(keys, islice(columns, len(keys)), strict=True)) for keys in _ROW_KEYS
    )
    token = _loaded(ApiToken, {**token_values, **changes})
    owner = _loaded(User, owner_values)
    organization = _loaded(Organization, organization_values)
    set_committed_value(owner, "organization", organization)
    set_committed_value(token, "owner", owner)
    # One add: its save-update cascade attaches the owner and organization too (adding each
    # walked every relationship of every model three times: docs/benchmark-changes.md).
    db.session.add(token)
    return token


_ROW_KEYS = tuple(
    tuple(column.key for column in columns)
    for columns in (TOKEN_COLUMNS, OWNER_COLUMNS, ORGANIZATION_COLUMNS)
)


def _loaded(model, values: dict[str, object]):
    """The object with these column values as if a query had just loaded it (detached until
    added), or the session's own object brought up to date (a test's objects)."""
    existing = db.session.identity_map.get(db.session.identity_key(model, values["id"]))
    if existing is not None:
        for key, value in values.items():
            set_committed_value(existing, key, value)
        return existing
    # As a query loads a row: no __init__, the values written with no history to flush.
    instance = manager_of_class(model).new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    return instance
