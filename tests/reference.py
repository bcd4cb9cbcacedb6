"""What the token list should hold and in which order, worked out in plain Python apart from the
app's SQL: the one reference that the search and sort tests compare the app's answers with.

It reads SPEC section 5 (search and sort) and 10 (the Expires column) as a user would, and
needs each token's owner loaded. It leaves out what only some tests set up: the search by a
pasted token value and by part of a last-used address (their own tests cover them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from tokenaudit.models import ApiToken

# Stands in for a missing date; which date does not matter, the flag before it decides.
_NO_DATE = datetime.min


def matches_search(token: ApiToken, q: str) -> bool:
    """A case-insensitive substring of the token's name or prefix, or of its owner's name or
    email; a search of spaces only is no search."""
    needle = q.strip().casefold()
    fields = (token.name, token.prefix, token.owner.full_name, token.owner.email)
    return any(needle in field.casefold() for field in fields)


def natural_name_key(name: str) -> list:
    """Names as people read them, in any case: "job 2" before "job 10" (runs of ASCII digits
    compare by value)."""
    # re.split with a group alternates text and digits, so like parts are compared.
    parts = re.split(r"([0-9]+)", name.casefold())
    return [int(part) if index % 2 else part for index, part in enumerate(parts)]


def sort_key(token: ApiToken, sort: str) -> tuple:
    """One column's order; ties are broken by the token id (in the same direction)."""
    if sort == "name":
        return (natural_name_key(token.name),)
    if sort == "prefix":
        return (token.prefix,)
    if sort == "user":
        # By name in any case, and two owners with the same name each keep their tokens together.
        return (token.owner.full_name.lower(), token.owner.id)
    if sort == "created":
        return (token.created_at,)
    if sort == "last_used":  # never used counts as older than anything used
        return (token.last_used_at is not None, token.last_used_at or _NO_DATE)
    if sort == "last_usage":  # never used first, like the oldest use
        return (
            token.last_used_method is not None,
            token.last_used_method or "",
            token.last_used_path or "",
        )
    if sort == "expires":  # never expiring counts as later than any date
        return (token.expires_at is None, token.expires_at or _NO_DATE)
    raise ValueError(f"no reference order for sort={sort!r}")


def expected_tokens(
    tokens: Iterable[ApiToken], q: str = "", sort: str = "created", direction: str = "desc"
) -> list[ApiToken]:
    """The tokens a search finds, in the order the list shows them (default: newest first)."""
    found = [token for token in tokens if matches_search(token, q)]
    return sorted(found, key=lambda t: (sort_key(t, sort), t.id), reverse=direction == "desc")


def expected_prefixes(
    tokens: Iterable[ApiToken], q: str = "", sort: str = "created", direction: str = "desc"
) -> list[str]:
    return [token.prefix for token in expected_tokens(tokens, q, sort, direction)]
