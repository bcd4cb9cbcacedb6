"""Database models: Organization, User, ApiToken, UserSession, KnownSignInAddress, Activity,
OutboxEmail, TokenReminder and RateLimitCounter; the UTC column type; the rules that live with
the rows (the organization's token count and each row's folded search text, written in the
same statement); and the bounds on what clients send (MAX_ID, parse_positive_int,
MAX_TOKEN_NAME_LENGTH)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Update,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .extensions import db
from .text import NATURAL_KEY_LENGTH, natural_sort_key, searchable_text

# The largest id an integer primary key holds (PostgreSQL's INTEGER): larger ids in a URL or a
# request body are "no such row", never a database overflow.
MAX_ID = 2**31 - 1

# The longest token name: the column's width, so the name rule, the form and the column agree.
MAX_TOKEN_NAME_LENGTH = 100


def parse_positive_int(text: str | None, maximum: int = MAX_ID) -> int | None:
    """`text` as a whole number from 1 to `maximum` (an id by default, or a page, a number of
    days), else None: the one reading of a number a client sends as text.

    ASCII digits only, and no more of them than `maximum` has: str.isdigit also says yes to `²`
    (which int() refuses) and to other scripts' digits (`٣` is 3: one row under many addresses),
    int() takes signs, spaces and underscores, and refuses over 4,300 digits with an error.
    """
    if not text or not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if 1 <= number <= maximum else None


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; SQLite hands back naive ones, so tzinfo is re-attached."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many tokens the organization holds, kept exact in the transaction that creates or
    # deletes one (token_count_change): the audit page's unfiltered total without a count(*).
    token_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Token lifetime policy (SPEC 10): None = no limit / tokens never expire by default.
    max_token_lifetime_days: Mapped[int | None] = mapped_column()
    default_token_lifetime_days: Mapped[int | None] = mapped_column(default=90, server_default="90")

    members: Mapped[list[User]] = relationship(back_populates="organization")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique index compares case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    can_manage_tokens: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Name and email case-folded (text.searchable_text), written with them: what a token search
    # matches its owner by.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    organization: Mapped[Organization] = relationship(back_populates="members")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="owner")

    # Flask-Login's UserMixin defines is_active as a property; the column above replaces it.


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (
        # The reminder sender looks for tokens expiring around now, in every organization.
        Index("ix_api_tokens_expires_at", "expires_at"),
        # SQLite: never give a revoked token's id to a new token (see the migration).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The owner's organization, copied at creation so the audit page filters on one indexed column.
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(MAX_TOKEN_NAME_LENGTH))
    # natural_sort_key(name): the order of the Name column ("job 2" before "job 10"). Set with
    # the name by the ORM (below) and by bulk inserts (this default); SQL written by hand that
    # renames a token must set it too.
    name_sort_key: Mapped[str] = mapped_column(
        String(NATURAL_KEY_LENGTH),
        default=lambda context: natural_sort_key(context.get_current_parameters()["name"]),
        server_default="",
    )
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_method: Mapped[str | None] = mapped_column(String(10))
    last_used_path: Mapped[str | None] = mapped_column(String(500))
    # None: never expires. Refused at the API from this moment on (token_auth.py).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Name and prefix case-folded (text.searchable_text), written with them: what a search matches.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The client's address on that request (through TRUSTED_PROXY_COUNT proxies); IPv6 fits in 45.
    last_used_ip: Mapped[str | None] = mapped_column(String(45))

    owner: Mapped[User] = relationship(back_populates="tokens")

    def has_expired(self) -> bool:
        return is_expired(self.expires_at)


def is_expired(expires_at: datetime | None) -> bool:
    """Whether a token with this expiry is refused from now on (None: it never expires)."""
    return expires_at is not None and expires_at <= utcnow()


class UserSession(db.Model):
    """A signed-in browser: signing out deletes it, and with it every copy of the cookie."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the random secret kept in the (signed) session cookie; never the secret.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute (sessions.py), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnownSignInAddress(db.Model):
    """An address a user has signed in from with the right password: strangers' failed guesses
    at the account (per-account budget) cannot lock the owner out from there."""

    __tablename__ = "known_sign_in_addresses"
    __table_args__ = (UniqueConstraint("user_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(45))  # IPv6 at most
    last_signed_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateLimitCounter(db.Model):
    """One rate-limit window's count (rate_limit_storage.py), shared by every worker and server
    that uses this database."""

    __tablename__ = "rate_limit_counters"

    # SHA-256 of the limit's key: a key holds the email a client typed, of any length.
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int]
    # Unix time, as `limits` counts; indexed for deleting expired counters.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def token_count_change(organization_id: int, tokens: int) -> Update:
    """Count `tokens` more (fewer when negative) for the organization, in the caller's transaction.

    Every insert and delete of tokens goes with one (the ORM's inserts through the event below;
    bulk inserts and deletes run it themselves), so the count commits or rolls back with them.
    `SET token_count = token_count + n` is atomic: two transactions at once each add their own
    (the row lock, or SQLite's write lock, orders them); read-then-write would lose one. It
    spares the audit page a `count(*)` of every token per view (docs/benchmark-changes.md).
    """
    return (
        update(Organization)
        .where(Organization.id == organization_id)
        .values(token_count=Organization.token_count + tokens)
    )


@event.listens_for(ApiToken, "after_insert")
def _count_inserted_token(_mapper, connection, token: ApiToken) -> None:
    connection.execute(token_count_change(token.organization_id, 1))


@event.listens_for(ApiToken, "before_update")
def _count_moved_token(_mapper, connection, token: ApiToken) -> None:
    """A token given to another organization counts there, and no longer where it was."""
    if not inspect(token).attrs.organization_id.history.added:
        return
    # The row as stored, before this update: the old value may never have been loaded.
    moved_from = connection.scalar(select(ApiToken.organization_id).where(ApiToken.id == token.id))
    if moved_from != token.organization_id:
        connection.execute(token_count_change(moved_from, -1))
        connection.execute(token_count_change(token.organization_id, 1))


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _fold_user_search_text(_mapper, _connection, user: User) -> None:
    user.search_text = searchable_text(user.full_name, user.email)


def token_search_text(name: str, prefix: str) -> str:
    """A token's search text. Statements that bypass the ORM's events (bulk inserts, the
    rotation's checked UPDATE of the prefix) write it themselves, from here."""
    return searchable_text(name, prefix)


@event.listens_for(ApiToken, "before_insert")
@event.listens_for(ApiToken, "before_update")
def _fold_token_search_text(_mapper, _connection, token: ApiToken) -> None:
    token.search_text = token_search_text(token.name, token.prefix)


# Indexes built for one database only (migration 0001 builds the same; tests/test_database.py
# checks that they agree). `info["dialect"]` tells migrations/env.py which database has each.
def _only_on(dialect: str, *indexes: Index) -> None:
    for index in indexes:
        index.info["dialect"] = dialect
        index.ddl_if(dialect=dialect)  # for metadata.create_all()


def exists_on(schema_item: Index | Table, dialect: str) -> bool:
    """Whether a database of this dialect has the index or table (some are for one only)."""
    return schema_item.info.get("dialect", dialect) == dialect


# The audit page sorts `col ASC NULLS FIRST, id ASC` or `col DESC NULLS LAST, id DESC`: each
# index reads forwards for one direction and backwards for the other. SQLite appends the rowid
# (the id) to every index and sorts NULLs first already; PostgreSQL needs both said.
_SORTED = {
    "ix_api_tokens_org_created": (ApiToken.created_at,),
    "ix_api_tokens_org_last_used": (ApiToken.last_used_at,),
    "ix_api_tokens_org_name": (ApiToken.name_sort_key,),
    "ix_api_tokens_org_prefix": (ApiToken.prefix,),
    "ix_api_tokens_org_last_usage": (ApiToken.last_used_method, ApiToken.last_used_path),
    # Never-expiring tokens (NULL) after every date (token_listing.py).
    "ix_api_tokens_org_expires": (ApiToken.expires_at.is_(None), ApiToken.expires_at),
}
for _name, _columns in _SORTED.items():
    _only_on("sqlite", Index(_name, ApiToken.organization_id, *_columns))
    _only_on(
        "postgresql",
        Index(
            _name,
            ApiToken.organization_id,
            *(column.nulls_first() for column in _columns),
            ApiToken.id,
        ),
    )
_only_on(
    "sqlite", Index("ix_users_org_lower_name", User.organization_id, func.lower(User.full_name))
)
_only_on(
    "postgresql",
    Index(
        "ix_users_org_lower_name",
        User.organization_id,
        func.lower(User.full_name).nulls_first(),
        User.id,
    ),
    # Sorting by user walks owners in name order, then each owner's tokens by id.
    Index("ix_api_tokens_user_id_id", ApiToken.user_id, ApiToken.id),
)
# The search (token_listing.py). SQLite: a substring cannot seek in a B-tree, so the search reads
# this narrow index whole (an organization's folded texts, in one range). PostgreSQL: trigram
# indexes find the rows holding a substring's trigrams (the tokens' in token_search_rows, below).
_only_on(
    "sqlite",
    Index(
        "ix_api_tokens_org_search",
        ApiToken.organization_id,
        ApiToken.search_text,
        ApiToken.user_id,
    ),
)
_only_on(
    "postgresql",
    Index(
        "ix_users_search_trgm",
        User.search_text,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    ),
)
# PostgreSQL finds and counts a search's matches here: each token's search text again, in a
# narrow table of its own. The trigram index finds the candidate rows, then PostgreSQL reads each
# one to confirm the substring, and api_tokens' rows are wide: counting 1 token in 12 of 1,000,000
# read 240 MB of table, this reads 69 MB (docs/benchmark-changes.md). A trigger on api_tokens
# (migration 0001) writes it whoever writes a token; a row goes with its token. SQLite counts
# from ix_api_tokens_org_search, which is narrow already.
SEARCH_ROW_TRIGGER = "api_tokens_search_row"  # its name in migration 0001
token_search_rows = Table(
    "token_search_rows",
    db.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("search_text", Text, nullable=False),
    Index(
        "ix_token_search_rows_trgm",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    ),
    # The owner half of a search: the tokens of the matching members.
    Index("ix_token_search_rows_user_id", "user_id"),
    info={"dialect": "postgresql"},
)
_only_on("postgresql", *token_search_rows.indexes)

# The status filters count tokens by when they were last used, their age, owner and expiry
# (token_filters.py) from this index alone, without reading a table row per token.
# SQLite: with the search text too, a search within a status (never used, stale, active) reads
# only that status's range of this index, not a table row per token in it
# (docs/benchmark-changes.md). PostgreSQL searches by trigrams.
_USAGE = (
    ApiToken.organization_id,
    ApiToken.last_used_at,
    ApiToken.created_at,
    ApiToken.user_id,
    ApiToken.expires_at,
)
_only_on("sqlite", Index("ix_api_tokens_org_usage", *_USAGE, ApiToken.search_text))
_only_on("postgresql", Index("ix_api_tokens_org_usage", *_USAGE))
# The tokens of a few owners (the blocked members, one owner) in one seek per owner, with
# what the counts read, rather than the usage index read whole and each token's owner looked
# up in the list (docs/benchmark-changes.md).
Index(
    "ix_api_tokens_org_owner",
    ApiToken.organization_id,
    ApiToken.user_id,
    ApiToken.last_used_at,
    ApiToken.expires_at,
)


@event.listens_for(ApiToken.name, "set")
def _keep_name_sort_key(token: ApiToken, name: str, _old, _initiator) -> None:
    token.name_sort_key = natural_sort_key(name)


class Activity(db.Model):
    """Something that happened, recorded against a user. Never edited or deleted."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_org_created", "organization_id", "created_at"),
        Index("ix_activities_subject_created", "subject_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subject: Mapped[User] = relationship(foreign_keys=[subject_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class OutboxEmail(db.Model):
    """An email written in the same transaction as the change it reports, sent after commit."""

    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # pending -> sending (claimed by one sender) -> sent
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TokenReminder(db.Model):
    """A reminder email queued for a token: at most one per token, kind and expiry date.

    The unique constraint is what makes queuing safe when several senders (workers, servers,
    cron) look for due reminders at the same moment: only one insert wins (reminders.py).
    """

    __tablename__ = "token_reminders"
    __table_args__ = (UniqueConstraint("token_id", "kind", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # "expiring_soon" or "expired"
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
