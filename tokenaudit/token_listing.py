"""Finding an organization's tokens: search, sort and pages for the audit page and its API twin."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, Select, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import contains_eager

from .extensions import db
from .models import ApiToken, User
from .text import without_unstorable_characters
from .token_search import Found, find_tokens
from .tokens import digest, parse_token, whole_token_in

PAGE_SIZE = 50
DEFAULT_SORT = "created"
MAX_QUERY_LENGTH = 200
# Up to this many matches, a search sorts its matches instead of walking the sort order.
FEW_MATCHES = 1000

# Each sort key's columns, and the direction a first click on its header sorts by.
SORT_COLUMNS: dict[str, tuple[ColumnElement, ...]] = {
    "name": (ApiToken.name_sort_key,),  # natural order: "job 2" before "job 10"
    "prefix": (ApiToken.prefix,),
    "user": (func.lower(User.full_name),),
    "last_used": (ApiToken.last_used_at,),
    "last_usage": (ApiToken.last_used_method, ApiToken.last_used_path),
    "created": (ApiToken.created_at,),
    # Never-expiring tokens (NULL) after every date, in both directions: sorted on "has no
    # date" first, which the index ix_api_tokens_org_expires holds in this order.
    "expires": (ApiToken.expires_at.is_(None), ApiToken.expires_at),
}
FIRST_DIRECTION = {
    "name": "asc",
    "prefix": "asc",
    "user": "asc",
    "last_used": "desc",
    "last_usage": "asc",
    "created": "desc",
    "expires": "asc",
}


@dataclass(frozen=True)
class TokenListParams:
    """What the list shows; anything unknown in the request falls back to the default."""

    q: str = ""
    sort: str = DEFAULT_SORT
    direction: str = FIRST_DIRECTION[DEFAULT_SORT]
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TokenListParams:
        q = without_unstorable_characters(args.get("q") or "").strip()[:MAX_QUERY_LENGTH]
        # A value copied with text around it (a header, a config line) is searched as the value,
        # so that it too is found by its digest and never kept in a URL or the page.
        q = whole_token_in(q) or q
        sort = args.get("sort") if args.get("sort") in SORT_COLUMNS else DEFAULT_SORT
        direction = args.get("dir")
        if direction not in ("asc", "desc"):
            direction = FIRST_DIRECTION[sort]
        try:
            page = max(1, int(args.get("page") or 1))
        except ValueError:
            page = 1
        return cls(q=q, sort=sort, direction=direction, page=page)

    def to_args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments for these params with some changed (e.g. another page)."""
        args = {"q": self.q, "sort": self.sort, "dir": self.direction, "page": self.page}
        args.update(changes)
        return {key: value for key, value in args.items() if value not in ("", None, 1)}

    def header_args(self, sort: str) -> dict[str, object]:
        """Arguments for a column header link: toggles direction on the active column."""
        if sort == self.sort:
            direction = "desc" if self.direction == "asc" else "asc"
        else:
            direction = FIRST_DIRECTION[sort]
        return self.to_args(sort=sort, dir=direction, page=1)


@dataclass(frozen=True)
class TokenPage:
    params: TokenListParams
    tokens: list[ApiToken]
    total: int
    pages: int

    @property
    def page(self) -> int:
        return self.params.page


def _order_by(sort: str, direction: str) -> list[ColumnElement]:
    descending = direction == "desc"
    columns = SORT_COLUMNS[sort]
    if sort == "user":  # the owner's id keeps each owner's tokens together, in index order
        columns = (*columns, User.id)
    order = []
    for column in columns:
        # Never-used tokens (NULL) count as older than any used one, on every database.
        order.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    order.append(ApiToken.id.desc() if descending else ApiToken.id.asc())
    return order


def _count(organization_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.organization_id == organization_id)
    )


def _one_of(ids: list[int]) -> ColumnElement[bool]:
    """`id IN ids` with the ids as one bound value, however many there are, tested per row.

    A bound parameter per id would pass SQLite's limit of 32,766 on a search that finds most of
    100,000 tokens. `id + 0` keeps SQLite from looking each id up instead of walking the sort
    order: sorted by owner, it probed every id for every owner (48 ms for 8,333 ids).
    """
    if db.engine.dialect.name == "postgresql":
        # = ANY(array): PostgreSQL hashes the array and tests each row as it walks the sort
        # order; IN (SELECT unnest(...)) guessed 200 ids and looked all 8,333 up, then sorted.
        return ApiToken.id == any_(bindparam("token_ids", ids, type_=postgresql.ARRAY(Integer)))
    as_json = func.json_each(json.dumps(ids)).table_valued("value")
    return (ApiToken.id + 0).in_(select(as_json.c.value))


def _found_condition(found: Found) -> ColumnElement[bool] | None:
    if not found.ids_are_the_others:
        return _one_of(found.ids)
    return ~_one_of(found.ids) if found.ids else None


def _page_query(organization_id: int, found: Found | None, sort: str, direction: str) -> Select:
    """The listing's rows in order, before LIMIT and OFFSET."""
    query = select(ApiToken).join(ApiToken.owner).options(contains_eager(ApiToken.owner))
    if found is not None and not found.ids_are_the_others and found.count <= FEW_MATCHES:
        # Few: sorting them is cheaper than walking the sort order.
        query = query.where(ApiToken.organization_id == organization_id)  # ids from a cache
        return query.where(ApiToken.id.in_(found.ids)).order_by(*_order_by(sort, direction))
    if sort == "user":
        # Filtering on the owner's organization (always the token's own) lets the database
        # walk owners in name order and each owner's tokens in turn, instead of sorting them all.
        query = query.where(User.organization_id == organization_id)
    else:
        query = query.where(ApiToken.organization_id == organization_id)
    condition = _found_condition(found) if found is not None else None
    if condition is not None:
        query = query.where(condition)
    return query.order_by(*_order_by(sort, direction))


def find_token_by_value(organization_id: int, value: str) -> Found | None:
    """A whole token value (a leak report, pasted) finds that token by its digest (SPEC 12).

    Only in the organization; None when `value` is not a whole token value, to search as text.
    """
    prefix = parse_token(value)
    if prefix is None:
        return None
    token_id = db.session.scalar(
        select(ApiToken.id).where(
            ApiToken.organization_id == organization_id,
            ApiToken.prefix == prefix,
            ApiToken.digest == digest(value),
        )
    )
    return Found(count=0, ids=[]) if token_id is None else Found(count=1, ids=[token_id])


def find_org_tokens(
    organization_id: int, params: TokenListParams, by_value: Found | None = None
) -> TokenPage:
    """One page of the organization's tokens matching the search, in the requested order.

    `by_value`: what a whole token value already found by its digest, in place of `params.q`.
    """
    found = by_value  # None: all tokens, or the search's
    if found is None and params.q:
        found = find_token_by_value(organization_id, params.q)
        if found is None:
            found = find_tokens(organization_id, params.q)
    total = found.count if found is not None else _count(organization_id)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if params.page > pages:
        params = TokenListParams(params.q, params.sort, params.direction, pages)
    offset = (params.page - 1) * PAGE_SIZE
    limit = max(0, min(PAGE_SIZE, total - offset))
    direction = params.direction
    # Past the middle, read from the other end in the opposite order (the orders are exact
    # mirrors), so the last page costs what the first does instead of skipping every row.
    from_the_end = offset > total // 2
    if from_the_end:
        direction = "asc" if direction == "desc" else "desc"
        offset = total - offset - limit
    tokens: list[ApiToken] = []
    if limit:
        query = _page_query(organization_id, found, params.sort, direction)
        tokens = list(db.session.scalars(query.limit(limit).offset(offset)))
    if from_the_end:
        tokens.reverse()
    return TokenPage(params=params, tokens=tokens, total=total, pages=pages)
