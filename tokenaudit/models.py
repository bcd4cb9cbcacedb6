"""Database models: Organization, User, ApiToken, Activity and the mail outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .extensions import db
from .text import NATURAL_KEY_LENGTH, natural_sort_key


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
    # Bumped by database triggers whenever what a token search reads changes (migration 0004):
    # each worker's copy of the organization's searchable text is current while it matches.
    search_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Token lifetime policy (SPEC 10): None = no limit / tokens never expire by default.
    max_token_lifetime_days: Mapped[int | None] = mapped_column()
    default_token_lifetime_days: Mapped[int | None] = mapped_column(default=90, server_default="90")

    members: Mapped[list[User]] = relationship(back_populates="organization")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_org_lower_name", "organization_id", func.lower(text("full_name"))),
    )

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

    organization: Mapped[Organization] = relationship(back_populates="members")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="owner")

    # Flask-Login's UserMixin defines is_active as a property; the column above replaces it.


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("ix_api_tokens_org_created", "organization_id", "created_at"),
        Index("ix_api_tokens_org_last_used", "organization_id", "last_used_at"),
        Index("ix_api_tokens_org_name", "organization_id", "name_sort_key"),
        Index("ix_api_tokens_org_prefix", "organization_id", "prefix"),
        Index(
            "ix_api_tokens_org_last_usage", "organization_id", "last_used_method", "last_used_path"
        ),
        # What each worker's search copy is built from, owner by owner (token_search.py).
        Index("ix_api_tokens_searched", "organization_id", "user_id", "name", "prefix"),
        # Sorting by expiry: never-expiring tokens (NULL) after every date (token_listing.py).
        Index(
            "ix_api_tokens_org_expires",
            "organization_id",
            text("(expires_at IS NULL)"),
            "expires_at",
        ),
        # The reminder sender looks for tokens expiring around now, in every organization.
        Index("ix_api_tokens_expires_at", "expires_at"),
        # SQLite: never give a revoked token's id to a new token (see the migration).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The owner's organization, copied at creation so the audit page filters on one indexed column.
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
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

    owner: Mapped[User] = relationship(back_populates="tokens")

    def has_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


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
