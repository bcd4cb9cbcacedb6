"""The audit's status and owner filters (SPEC section 11): what each status means, in one place.

Each status is a question a superuser asks, so a token can answer yes to several (a token of a
deactivated member unused for a year is both blocked and stale). `conditions` asks them of the
database; `statuses_of` of one loaded token; a row shows the most pressing of its answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from .clock import utcnow
from .extensions import db
from .models import ApiToken, User, parse_positive_int
from .reminders import REMINDER_LEAD

DEFAULT_UNUSED_DAYS = 90
# "Expiring": within the week in which its owner is reminded (reminders.py).
EXPIRING_WITHIN = REMINDER_LEAD
MAX_UNUSED_DAYS = 3650
# Most pressing first: the one a row shows when several hold.
STATUS_LABELS = {
    "blocked": "Blocked",
    "expired": "Expired",
    "expiring": "Expiring",
    "stale": "Stale",
    "never_used": "Never used",
    "active": "Active",
}


Column = Callable[[InstrumentedAttribute], ColumnElement]


def _as_is(column: InstrumentedAttribute) -> ColumnElement:
    return column


def _checked_per_row(walked: InstrumentedAttribute | None) -> Column:
    """Columns for a page walking the sort's index: SQLite checks the filters on each row it
    walks instead of seeking by them (the unary + hides a column from its index).

    Without statistics (nothing runs ANALYZE) SQLite would start at a filter's index and sort
    every match: status=active, newest first, 148 ms instead of 1 at 100,000 tokens. A filter
    on the sort's own column keeps its index: stale, newest first, seeks past the newer tokens.
    PostgreSQL has statistics (autovacuum) and weighs both.
    """
    if db.engine.dialect.name != "sqlite":
        return _as_is

    def column_of(column: InstrumentedAttribute) -> ColumnElement:
        if column is walked:
            return column
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type)

    return column_of


# The column each sort walks in order, where a filter reads it too.
WALKED_COLUMN = {
    "created": ApiToken.created_at,
    "last_used": ApiToken.last_used_at,
    "expires": ApiToken.expires_at,
}


def _blocked_owner(organization_id: int, column: Column = _as_is) -> ColumnElement[bool]:
    """The token's owner is deactivated or lacks the token permission.

    Asked as "owner among the organization's blocked members" (a short list, read once) rather
    than of each token's joined owner, so that counting needs no join: one seek per blocked
    member in ix_api_tokens_org_owner, instead of a token row and an owner row per token.
    """
    blocked_members = select(User.id).where(
        User.organization_id == organization_id,
        or_(User.is_active.is_(False), User.can_manage_tokens.is_(False)),
    )
    return column(ApiToken.user_id).in_(blocked_members)


def _not_expired(expires_at: ColumnElement, now: datetime) -> ColumnElement[bool]:
    return or_(expires_at.is_(None), expires_at > now)


@dataclass(frozen=True)
class TokenFilters:
    """Which tokens a view shows beyond the search; anything unknown means no filter."""

    status: str = ""
    unused_days: int = DEFAULT_UNUSED_DAYS
    owner: int | None = None
    # One moment per request, so every row and the count agree on what "stale" means.
    as_of: datetime = field(default_factory=utcnow, compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TokenFilters:
        status = args.get("status") if args.get("status") in STATUS_LABELS else ""
        unused_days = parse_positive_int(args.get("unused_days"), MAX_UNUSED_DAYS)
        return cls(
            status=status,
            unused_days=unused_days or DEFAULT_UNUSED_DAYS,
            owner=parse_positive_int(args.get("owner")),
        )

    def to_args(self) -> dict[str, object]:
        """Query-string arguments for these filters (defaults left out)."""
        args: dict[str, object] = {}
        if self.status:
            args["status"] = self.status
        if self.unused_days != DEFAULT_UNUSED_DAYS:
            args["unused_days"] = self.unused_days
        if self.owner is not None:
            args["owner"] = self.owner
        return args

    @property
    def active(self) -> bool:
        return bool(self.status) or self.owner is not None

    @cached_property
    def _unused_since(self) -> datetime:
        return self.as_of - timedelta(days=self.unused_days)

    def _status_condition(self, organization_id: int, column: Column) -> ColumnElement[bool]:
        since = self._unused_since
        last_used_at = column(ApiToken.last_used_at)
        if self.status == "blocked":
            return _blocked_owner(organization_id, column)
        if self.status == "never_used":
            return last_used_at.is_(None)
        expires_at, now = column(ApiToken.expires_at), self.as_of
        if self.status == "expired":
            return expires_at <= now
        if self.status == "expiring":
            return and_(expires_at > now, expires_at <= now + EXPIRING_WITHIN)
        if self.status == "stale":
            # "Created that long ago" holds for a used one too (a use comes after creation):
            # said first, it lets the newest-first page seek past every newer token.
            return and_(
                column(ApiToken.created_at) < since,
                or_(last_used_at.is_(None), last_used_at < since),
            )
        # active: it still works (its owner may use it, not expired) and was used lately.
        return and_(
            last_used_at >= since,
            ~_blocked_owner(organization_id, column),
            _not_expired(expires_at, now),
        )

    def conditions(
        self, organization_id: int, page_sort: str | None = None
    ) -> list[ColumnElement[bool]]:
        """WHERE conditions on the organization's api_tokens (no join needed); for a page
        walking the `page_sort` order, checked on each row walked (see _checked_per_row)."""
        column = _checked_per_row(WALKED_COLUMN.get(page_sort)) if page_sort else _as_is
        conditions = []
        if self.status:
            conditions.append(self._status_condition(organization_id, column))
        if self.status in ("expired", "expiring") and not page_sort and self.owner is None:
            # "Has a date" said as ix_api_tokens_org_expires holds it, so that counting and
            # collecting seek the range of dates; not on a page's walk nor for one owner, where
            # it leads SQLite away from the better index (docs/benchmark-changes.md). A NULL is
            # never <= or > a date anyway.
            conditions.append(ApiToken.expires_at.is_(None) == false())
        if self.owner is not None:
            conditions.append(column(ApiToken.user_id) == self.owner)
        return conditions

    def count_terms(self, organization_id: int) -> list[tuple[int, list[ColumnElement[bool]]]]:
        """How to count what `conditions` matches quickly: a sum of signed counts.

        Each term is one range of an index, which SQLite counts without visiting rows; an OR or
        a NOT IN per row makes it visit and deduplicate each token (docs/benchmark-changes.md).
        Stale is two disjoint ranges; active is "used lately and not expired" (one range, expiry
        read from the same index entries) less the same of blocked members (few: one seek each
        in ix_api_tokens_org_owner).
        """
        owner = [ApiToken.user_id == self.owner] if self.owner is not None else []
        since = self._unused_since
        if self.status == "stale":
            old = ApiToken.created_at < since
            return [
                (1, [ApiToken.last_used_at.is_(None), old, *owner]),
                (1, [ApiToken.last_used_at < since, old, *owner]),
            ]
        if self.status == "active":
            # Used lately and not expired, less those of blocked members.
            working = [
                ApiToken.last_used_at >= since,
                _not_expired(ApiToken.expires_at, self.as_of),
                *owner,
            ]
            return [(1, working), (-1, [*working, _blocked_owner(organization_id)])]
        return [(1, self.conditions(organization_id))]

    def statuses_of(
        self,
        created_at: datetime,
        last_used_at: datetime | None,
        owner_is_active: bool,
        owner_can_manage_tokens: bool,
        expires_at: datetime | None,
    ) -> set[str]:
        """Every status that holds for a token with these values."""
        since, now = self._unused_since, self.as_of
        statuses = set()
        if not owner_is_active or not owner_can_manage_tokens:
            statuses.add("blocked")
        if expires_at is not None and expires_at <= now:
            statuses.add("expired")
        elif expires_at is not None and expires_at <= now + EXPIRING_WITHIN:
            statuses.add("expiring")
        if last_used_at is None:
            statuses.add("never_used")
        if created_at < since and (last_used_at is None or last_used_at < since):
            statuses.add("stale")
        works = not statuses & {"blocked", "expired"}
        if works and last_used_at is not None and last_used_at >= since:
            statuses.add("active")
        return statuses

    def most_pressing(self, statuses: set[str]) -> str:
        """The status a row shows when several hold."""
        return next(status for status in STATUS_LABELS if status in statuses)

    def status_of(self, token: ApiToken) -> str:
        """The status a loaded token's row shows (its owner loaded too)."""
        owner = token.owner
        return self.most_pressing(
            self.statuses_of(
                token.created_at,
                token.last_used_at,
                owner.is_active,
                owner.can_manage_tokens,
                token.expires_at,
            )
        )
