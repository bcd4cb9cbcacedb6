"""The audit's CSV export (SPEC section 11): which rows and columns, read a chunk at a time.

Rows are read from the database a chunk at a time and handed on as they come, so 100,000
tokens cost what a chunk does in memory. The CSV text and its formula rule: csv_export.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Row, Select

from .clock import iso_utc
from .extensions import db
from .models import ApiToken, User
from .token_filters import TokenFilters

COLUMNS = (
    "id",
    "name",
    "prefix",
    "user_name",
    "user_email",
    "status",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_used_method",
    "last_used_path",
    "last_used_ip",
)
CHUNK_ROWS = 1000

# What each row is read from: plain columns, not ORM objects (see docs/benchmark-changes.md).
ROW_COLUMNS = (
    ApiToken.id,
    ApiToken.name,
    ApiToken.prefix,
    User.full_name,
    User.email,
    ApiToken.created_at,
    ApiToken.last_used_at,
    ApiToken.last_used_method,
    ApiToken.last_used_path,
    ApiToken.last_used_ip,
    User.is_active,
    User.can_manage_tokens,
    ApiToken.expires_at,
)


def _row(row: Row, filters: TokenFilters) -> list[object]:
    (id_, name, prefix, owner_name, owner_email, created_at, last_used_at, method, path, ip,
     owner_is_active, owner_can_manage_tokens, expires_at) = row  # fmt: skip
    statuses = filters.statuses_of(
        created_at, last_used_at, owner_is_active, owner_can_manage_tokens, expires_at
    )
    return [
        id_,
        name,
        prefix,
        owner_name,
        owner_email,
        filters.most_pressing(statuses),
        iso_utc(created_at),
        iso_utc(expires_at),
        iso_utc(last_used_at),
        method,
        path,
        ip,
    ]


def token_rows(query: Select, filters: TokenFilters) -> Iterator[list[object]]:
    """The cells of COLUMNS for each token of `query` (api_tokens joined with their owners).

    A generator: the query runs when the first row is asked for, as the download streams (the
    view's session is closed once the view returns). yield_per: rows come a chunk at a time (a
    server-side cursor on PostgreSQL), and each chunk is freed once written.
    """
    columns = query.with_only_columns(*ROW_COLUMNS).execution_options(yield_per=CHUNK_ROWS)
    for row in db.session.execute(columns):
        yield _row(row, filters)
