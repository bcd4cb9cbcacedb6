"""Finding an organization's tokens: search, sort and pages for the audit page and its API twin."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import contains_eager

from .extensions import db
from .models import ApiToken, User
from .text import without_unstorable_characters

PAGE_SIZE = 50
DEFAULT_SORT = "created"
MAX_QUERY_LENGTH = 200

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


def _order_by(params: TokenListParams) -> list[ColumnElement]:
    descending = params.direction == "desc"
    order = []
    for column in SORT_COLUMNS[params.sort]:
        # Never-used tokens (NULL) count as older than any used one, on every database.
        order.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    order.append(ApiToken.id.desc() if descending else ApiToken.id.asc())
    return order


def find_org_tokens(organization_id: int, params: TokenListParams) -> TokenPage:
    """One page of the organization's tokens matching the search, in the requested order."""
    conditions = [ApiToken.organization_id == organization_id]
    if params.q:
        conditions.append(
            or_(
                ApiToken.name.icontains(params.q, autoescape=True),
                ApiToken.prefix.icontains(params.q, autoescape=True),
                User.full_name.icontains(params.q, autoescape=True),
                User.email.icontains(params.q, autoescape=True),
            )
        )
    count = select(func.count(ApiToken.id)).where(*conditions)
    if params.q:  # the owner's columns are only needed for counting when searching them
        count = count.join(ApiToken.owner)
    total = db.session.scalar(count)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if params.page > pages:
        params = TokenListParams(params.q, params.sort, params.direction, pages)
    tokens = db.session.scalars(
        select(ApiToken)
        .join(ApiToken.owner)
        .where(*conditions)
        .options(contains_eager(ApiToken.owner))
        .order_by(*_order_by(params))
        .limit(PAGE_SIZE)
        .offset((params.page - 1) * PAGE_SIZE)
    )
    return TokenPage(params=params, tokens=list(tokens), total=total, pages=pages)
