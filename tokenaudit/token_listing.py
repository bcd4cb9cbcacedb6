"""Finding an organization's tokens: search, sort and pages for the audit page and its API twin."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select, union
from sqlalchemy.orm import contains_eager

from .extensions import db
from .models import ApiToken, User
from .text import without_unstorable_characters

PAGE_SIZE = 50
DEFAULT_SORT = "created"
MAX_QUERY_LENGTH = 200
# Up to this many matches, a search sorts its matches instead of walking the sort order.
FEW_MATCHES = 1000
SEARCH_INDEX = "ix_api_tokens_org_search"  # migration 0003, SQLite only

# Each sort key's columns, and the direction a first click on its header sorts by.
SORT_COLUMNS: dict[str, tuple[ColumnElement, ...]] = {
    "name": (func.lower(ApiToken.name),),
    "prefix": (ApiToken.prefix,),
    "user": (func.lower(User.full_name),),
    "last_used": (ApiToken.last_used_at,),
    "last_usage": (ApiToken.last_used_method, ApiToken.last_used_path),
    "created": (ApiToken.created_at,),
}
FIRST_DIRECTION = {
    "name": "asc",
    "prefix": "asc",
    "user": "asc",
    "last_used": "desc",
    "last_usage": "asc",
    "created": "desc",
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


def _contains_pattern(q: str) -> str:
    """A LIKE pattern (escape character '/') matching any text that contains `q`, lower-cased."""
    escaped = q.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _matching(organization_id: int, q: str) -> ColumnElement[bool]:
    """Tokens whose name or prefix, or whose owner's name or email, contain `q` (any case).

    The shape differs by database because each reads a different index (see `make bench`).
    """
    # One bound pattern, lower-cased here, rather than lower('%' || ? || '%') built per row.
    pattern = _contains_pattern(q)
    on_postgresql = db.engine.dialect.name == "postgresql"

    def contains(column: ColumnElement[str]) -> ColumnElement[bool]:
        if on_postgresql:  # ILIKE on the plain column is what the pg_trgm indexes serve
            return column.ilike(pattern, escape="/")
        return func.lower(column).like(pattern, escape="/")

    # The owners are found first, among the organization's users: one membership test per
    # token rather than a join.
    owners = select(User.id).where(
        User.organization_id == organization_id,
        or_(contains(User.full_name), contains(User.email)),
    )
    by_token = or_(contains(ApiToken.name), contains(ApiToken.prefix))
    if on_postgresql:
        # PostgreSQL: UNION rather than OR, so each branch reads its own trigram indexes
        # (migration 0002); the OR made it scan every token.
        return ApiToken.id.in_(
            union(
                select(ApiToken.id).where(ApiToken.organization_id == organization_id, by_token),
                select(ApiToken.id).where(ApiToken.user_id.in_(owners)),
            )
        )
    # SQLite: one pass over the narrow search index (migration 0003).
    return or_(by_token, ApiToken.user_id.in_(owners))


def _search_scan(query: Select) -> Select:
    """Read the search's columns from the narrow search index, not the table (SQLite)."""
    return query.with_hint(ApiToken, f"INDEXED BY {SEARCH_INDEX}", "sqlite")


def _count(organization_id: int, search: ColumnElement[bool] | None) -> int:
    count = (
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.organization_id == organization_id)
    )
    if search is not None:
        count = _search_scan(count.where(search))
    return db.session.scalar(count)


@dataclass(frozen=True)
class _Matches:
    """Which tokens the list shows: all, those meeting a search condition, or a few by id."""

    total: int
    condition: ColumnElement[bool] | None = None
    ids: list[int] | None = None


def _find_matches(organization_id: int, q: str) -> _Matches:
    if not q:
        return _Matches(_count(organization_id, None))
    search = _matching(organization_id, q)
    # A rare search is answered by one pass over the search index that collects its matches;
    # a common one stops after FEW_MATCHES + 1, then counts, and the page walks the sort order.
    ids = db.session.scalars(
        _search_scan(
            select(ApiToken.id).where(ApiToken.organization_id == organization_id, search)
        ).limit(FEW_MATCHES + 1)
    ).all()
    if len(ids) <= FEW_MATCHES:
        return _Matches(len(ids), ids=list(ids))
    return _Matches(_count(organization_id, search), condition=search)


def _page_query(organization_id: int, matches: _Matches, sort: str, direction: str) -> Select:
    """The listing's rows in order, before LIMIT and OFFSET."""
    query = select(ApiToken).join(ApiToken.owner).options(contains_eager(ApiToken.owner))
    if matches.ids is not None:  # few: sorting them is cheaper than walking the sort order
        return query.where(ApiToken.id.in_(matches.ids)).order_by(*_order_by(sort, direction))
    if sort == "user":
        # Filtering on the owner's organization (always the token's own) lets the database
        # walk owners in name order and each owner's tokens in turn, instead of sorting them all.
        query = query.where(User.organization_id == organization_id)
    else:
        query = query.where(ApiToken.organization_id == organization_id)
    if matches.condition is not None:
        query = query.where(matches.condition)
    return query.order_by(*_order_by(sort, direction))


def find_org_tokens(organization_id: int, params: TokenListParams) -> TokenPage:
    """One page of the organization's tokens matching the search, in the requested order."""
    matches = _find_matches(organization_id, params.q)
    total = matches.total
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
        query = _page_query(organization_id, matches, params.sort, direction)
        tokens = list(db.session.scalars(query.limit(limit).offset(offset)))
    if from_the_end:
        tokens.reverse()
    return TokenPage(params=params, tokens=tokens, total=total, pages=pages)
