"""Finding an organization's tokens: search, sort and pages for the audit page and its API twin."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, Select, any_, func, select
from sqlalchemy.orm import contains_eager

from .extensions import db
from .models import ApiToken, Organization, User, parse_positive_int, token_search_rows
from .text import fold, without_unstorable_characters
from .token_filters import TokenFilters
from .tokens import digest, parse_token, whole_token_in

PAGE_SIZE = 50
# Part of an IPv4 or IPv6 address, with at least one separator: searched in last_used_ip too.
ADDRESS_FRAGMENT = re.compile(r"(?=.*[.:])[0-9a-f.:]+")
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
    # Status and owner (SPEC section 11).
    filters: TokenFilters = field(default_factory=TokenFilters)

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
        page = parse_positive_int(args.get("page")) or 1
        filters = TokenFilters.from_args(args)
        return cls(q=q, sort=sort, direction=direction, page=page, filters=filters)

    def to_args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments for these params with some changed (e.g. another page)."""
        args = {"q": self.q, **self.filters.to_args()}
        args.update({"sort": self.sort, "dir": self.direction, "page": self.page})
        args.update(changes)
        if args.get("page") == 1:
            del args["page"]
        return {key: value for key, value in args.items() if value not in ("", None)}

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


def _contains(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """The folded text in `column` holds the folded `needle`."""
    if db.engine.dialect.name == "postgresql":
        # LIKE with the whole pattern bound: the trigram (GIN) index finds the rows holding the
        # needle's trigrams. Backslash escapes LIKE's wildcards, which are plain characters here.
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return column.like(pattern, escape="\\")
    # SQLite: instr() needs no escaping and costs less per row than LIKE, which would fold
    # ASCII case a second time; the narrow index ix_api_tokens_org_search is read whole.
    return func.instr(column, needle) > 0


def _matching_owners(organization_id: int, needle: str) -> Select:
    return select(User.id).where(
        User.organization_id == organization_id, _contains(User.search_text, needle)
    )


def _text_or_owner_contains(
    organization_id: int,
    needle: str,
    search_text: ColumnElement[str],
    user_id: ColumnElement[int],
) -> ColumnElement[bool]:
    """The token's own folded text (`search_text`), or its owner's (`user_id`), holds `needle`."""
    owners = _matching_owners(organization_id, needle)
    if db.engine.dialect.name == "postgresql":
        # = ANY(ARRAY(...)): the owners are found first, so the token rows of both halves of the
        # OR come from indexes (BitmapOr); `IN (subquery)` became a filter on every row.
        owned = user_id == any_(func.array(owners.scalar_subquery()))
    else:
        # EXISTS is asked once per statement: a search that matches no owner (most) then skips
        # the owner list on each of the organization's rows (docs/benchmark-changes.md).
        owned = owners.exists() & user_id.in_(owners)
    return _contains(search_text, needle) | owned


def _search_rows_matching(organization_id: int, needle: str) -> Select:
    """PostgreSQL: the matching tokens' ids, found by token_search_rows' trigram index."""
    rows = token_search_rows.c
    return select(rows.token_id).where(
        rows.organization_id == organization_id,
        _text_or_owner_contains(organization_id, needle, rows.search_text, rows.user_id),
    )


def _search_condition(organization_id: int, q: str, *, per_row: bool) -> ColumnElement[bool]:
    """Tokens whose name or prefix, or whose owner's name or email, contain `q` in any case.

    `per_row`: for a page walking its sort order, checked on each token walked, which stops at
    the page; otherwise PostgreSQL finds the whole set in token_search_rows (models.py).
    """
    needle = fold(q)
    if db.engine.dialect.name == "postgresql" and not per_row:
        condition = ApiToken.id.in_(_search_rows_matching(organization_id, needle))
    else:
        condition = _text_or_owner_contains(
            organization_id, needle, ApiToken.search_text, ApiToken.user_id
        )
    if ADDRESS_FRAGMENT.fullmatch(needle):
        # Only a search that looks like part of an address reads last_used_ip (no index holds
        # it for substrings), so other searches cost what they did.
        condition |= _contains(func.lower(ApiToken.last_used_ip), needle)
    return condition


def _filters(
    organization_id: int,
    params: TokenListParams,
    *,
    walk_organization_index: bool = True,
    page_sort: str | None = None,
    statuses: bool = True,
) -> list[ColumnElement[bool]]:
    """What a token must satisfy to be listed: always the organization, then each filter.

    `walk_organization_index=False` keeps the organization condition as a check on each row
    (`organization_id + 0` cannot seek in an index) so that the database starts elsewhere: at
    the owners in name order, or at the few matching ids. `page_sort`: a page walking that
    order checks the search, status and owner filters row by row (TokenFilters.conditions).
    `statuses=False` leaves those out (the count adds them its own way).
    """
    organization = ApiToken.organization_id
    if not walk_organization_index:
        organization = organization + 0
    conditions = [organization == organization_id]
    if params.q:
        conditions.append(
            _search_condition(organization_id, params.q, per_row=page_sort is not None)
        )
    if statuses:
        conditions += params.filters.conditions(organization_id, page_sort)
    return conditions


def _few_matching_ids(organization_id: int, params: TokenListParams) -> list[int] | None:
    """The matches' ids when there are at most FEW_MATCHES of them, else None.

    One pass that stops at FEW_MATCHES + 1: a rare search then needs no second scan to count
    (docs/benchmark-changes.md), and a common one stops after ~1,000 matches.
    """
    ids = db.session.scalars(
        select(ApiToken.id).where(*_filters(organization_id, params)).limit(FEW_MATCHES + 1)
    ).all()
    return list(ids) if len(ids) <= FEW_MATCHES else None


def _counted_in_search_rows(params: TokenListParams) -> bool:
    """Whether PostgreSQL counts this search in token_search_rows (models.py says why): a search
    by text, at most for one owner; statuses and addresses need api_tokens' other columns."""
    return (
        db.engine.dialect.name == "postgresql"
        and bool(params.q)
        and not params.filters.status
        and not ADDRESS_FRAGMENT.fullmatch(fold(params.q))
    )


def _count_search_rows(organization_id: int, params: TokenListParams) -> int:
    matches = _search_rows_matching(organization_id, fold(params.q))
    if params.filters.owner is not None:
        matches = matches.where(token_search_rows.c.user_id == params.filters.owner)
    return db.session.scalar(select(func.count()).select_from(matches.subquery()))


def _total(organization_id: int, params: TokenListParams) -> int:
    if not params.q and not params.filters.active:
        # Kept exact by every transaction that creates or deletes a token (token_count_change).
        return db.session.scalar(
            select(Organization.token_count).where(Organization.id == organization_id)
        )
    if _counted_in_search_rows(params):
        return _count_search_rows(organization_id, params)
    # The status filters' count is a sum of index ranges (TokenFilters.count_terms).
    searched = _filters(organization_id, params, statuses=False)
    return sum(
        sign
        * db.session.scalar(select(func.count()).select_from(ApiToken).where(*searched, *terms))
        for sign, terms in params.filters.count_terms(organization_id)
    )


def _page_query(
    organization_id: int, params: TokenListParams, direction: str, few_ids: list[int] | None
) -> Select:
    """The listing's rows in order, before LIMIT and OFFSET."""
    query = select(ApiToken).join(ApiToken.owner).options(contains_eager(ApiToken.owner))
    by_owner = params.sort == "user"
    few = few_ids is not None
    # Sorted by owner, only SQLite needs telling to start at the owners. PostgreSQL weighs
    # plans with statistics, which `+ 0` misled: taking it to hold for 1 token in 200, it
    # joined and sorted every match instead of walking owners in name order and stopping at
    # the page (docs/benchmark-changes.md). With few ids it keeps `+ 0` on both: PostgreSQL
    # then looks up their owners instead of hashing all.
    walk_owners = by_owner and db.engine.dialect.name == "sqlite"
    conditions = _filters(
        organization_id,
        params,
        walk_organization_index=not (few or walk_owners),
        page_sort=params.sort,
    )
    if few:
        # Few matches: looking them up and sorting them is cheaper than walking the sort order.
        # Still bounded by the organization, row by row, like every listing query.
        conditions = [conditions[0], ApiToken.id.in_(few_ids)]
    if by_owner:
        # Starting at the organization's owners lets the database walk them in name order and
        # each owner's tokens in turn, instead of sorting all the tokens.
        conditions.append(User.organization_id == organization_id)
    return query.where(*conditions).order_by(*_order_by(params.sort, direction))


def find_token_by_value(organization_id: int, value: str) -> list[int] | None:
    """A whole token value (a leak report, pasted) finds that token by its digest (SPEC 12).

    The id of that token in the organization (or none); None when `value` is not a whole token
    value, to be searched as text.
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
    return [] if token_id is None else [token_id]


def _matching_ids(
    organization_id: int,
    params: TokenListParams,
    by_value: list[int] | None = None,
    counted: int | None = None,
) -> list[int] | None:
    """The matches' ids when there are few (a whole value's token, or a rare search or filter),
    else None. The ids a whole value found still go through the status and owner filters.
    `counted`: the matches' total when already known (more than FEW_MATCHES: None at once)."""
    if by_value is None and params.q:
        by_value = find_token_by_value(organization_id, params.q)
    if by_value is not None:
        if not params.filters.active or not by_value:
            return by_value
        return list(
            db.session.scalars(
                select(ApiToken.id).where(
                    ApiToken.id.in_(by_value), *params.filters.conditions(organization_id)
                )
            )
        )
    if counted is not None and counted > FEW_MATCHES:
        return None
    if params.q or params.filters.active:
        return _few_matching_ids(organization_id, params)
    return None


def matching_tokens(organization_id: int, params: TokenListParams) -> Select:
    """Every token the view's search and filters match, in its order (the CSV, bulk revoke)."""
    few_ids = _matching_ids(organization_id, params)
    return _page_query(organization_id, params, params.direction, few_ids)


def search_org_tokens(
    organization_id: int, params: TokenListParams, by_value: list[int] | None = None
) -> TokenPage:
    """One page of the organization's tokens matching the search, in the requested order.

    `by_value`: the ids a whole token value already found by its digest, in place of `params.q`.
    """
    # Without a search the total reads index ranges only (TokenFilters.count_terms), and
    # PostgreSQL counts a search from token_search_rows' index: counted first, it tells whether
    # to collect the matches, instead of reading 1,001 matching rows to learn that there are many
    # (docs/benchmark-changes.md). SQLite's count of a search reads every token: the matches are
    # collected first, and counted only when many.
    count_first = not params.q or (_counted_in_search_rows(params) and not parse_token(params.q))
    counted = _total(organization_id, params) if count_first and by_value is None else None
    few_ids = _matching_ids(organization_id, params, by_value, counted)
    if few_ids is not None:
        total = len(few_ids)
    else:
        total = counted if counted is not None else _total(organization_id, params)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if params.page > pages:
        params = replace(params, page=pages)
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
        query = _page_query(organization_id, params, direction, few_ids)
        tokens = list(db.session.scalars(query.limit(limit).offset(offset)))
    if from_the_end:
        tokens.reverse()
    return TokenPage(params=params, tokens=tokens, total=total, pages=pages)
