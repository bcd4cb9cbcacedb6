"""Substring search over an organization's tokens, answered from the worker's memory.

Why not the database: a substring (`LIKE '%q%'`) cannot seek in a B-tree, so every search read
all of an organization's tokens: ~80 ms at 100,000 tokens on SQLite, twice per search (matches
and count), against a 50 ms target for the whole page (docs/benchmark-changes.md). Here each
worker keeps, per organization, the searchable text of every token (its name and prefix, its
owner's name and email), case-folded, and finds a substring with `str.find` over one string or
by testing each token's text: 1–10 ms at 100,000 tokens. The page itself (order, 50 rows)
still comes from the database, which is told which ids matched.

Freshness: database triggers (migration 0004) bump `organizations.search_version` whenever a
token is created, deleted or renamed, or an owner's name or email changes, whichever code path
or process made the change. Every search reads the version first and rebuilds its copy when it
differs, so a search never misses a new token or shows a revoked one. Recording a token's last
use does not bump it: usage is not searched.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import contains, not_

from flask import current_app
from sqlalchemy import String, cast, func, select

from .extensions import db
from .models import ApiToken, Organization, User

# Between a token's searched fields, and after each token. Control characters are never in a
# search (text.without_unstorable_characters), so no match can span two fields or two tokens.
FIELD_END = "\x1f"
TOKEN_END = "\x1e"
# Tokens held in memory per worker, over all organizations (least recently searched dropped
# first): ~150 bytes each, so ~45 MB at most.
MAX_CACHED_TOKENS = 300_000
# A search whose text occurs at most this often per token finds each occurrence in one long
# string (~1 µs each); a commoner one tests every token's own text (~6 ms at 100,000 tokens).
SPARSE_SHARE = 0.02


def fold(text: str) -> str:
    """What searches compare: Unicode case folding, so "STRASSE" finds "Straße", "ÅSA" "åsa"."""
    # lower() is casefold() for ASCII, and much faster on it.
    return text.lower() if text.isascii() else text.casefold()


@dataclass(frozen=True)
class Found:
    """What a search found: the matching tokens' ids or, when fewer, the other tokens' ids."""

    count: int
    ids: list[int]
    ids_are_the_others: bool = False


@dataclass(frozen=True)
class SearchableTokens:
    """One organization's tokens as a search reads them, at one search_version.

    Tokens are kept by position, each owner's tokens next to each other.
    """

    version: int
    token_ids: array  # position -> token id
    texts: list[str]  # position -> folded name and prefix
    text: str  # every position's text, each followed by TOKEN_END
    starts: array  # position -> where its text starts in `text`; then len(text)
    owners: dict[int, str]  # owner's user id -> folded name and email
    owner_positions: dict[int, range]  # owner's user id -> positions of their tokens

    def find(self, q: str) -> Found:
        """The tokens whose name, prefix, owner name or owner email contains `q`, in any case."""
        needle = fold(q)
        owners = [self.owner_positions[o] for o, text in self.owners.items() if needle in text]
        at_most = self.text.count(needle) + sum(map(len, owners))
        if at_most <= len(self.texts) * SPARSE_SHARE:
            positions = self._positions_found_in_text(needle)
            for owned in owners:
                positions.update(owned)
            return Found(len(positions), [self.token_ids[p] for p in positions])
        hits = list(map(contains, self.texts, repeat(needle)))
        for owned in owners:
            hits[owned.start : owned.stop] = [True] * len(owned)
        matching = list(compress(self.token_ids, hits))
        if len(matching) <= len(hits) // 2:
            return Found(len(matching), matching)
        others = list(compress(self.token_ids, map(not_, hits)))
        return Found(len(matching), others, ids_are_the_others=True)

    def _positions_found_in_text(self, needle: str) -> set[int]:
        text, starts = self.text, self.starts
        positions = set()
        found = text.find(needle)
        while found != -1:
            position = bisect_right(starts, found) - 1
            positions.add(position)
            # Go on from the next token's text: one match per token is enough.
            found = text.find(needle, starts[position + 1])
        return positions


def _load(organization_id: int, version: int) -> SearchableTokens:
    # One row per owner, their tokens' ids and texts aggregated in the database: a row per
    # token cost ~700 ms at 100,000 tokens, this ~150-300 ms. The two lists line up: both
    # aggregates of a group step through its rows together, on SQLite and on PostgreSQL.
    # A TOKEN_END typed into a name must not split it in two: it becomes a FIELD_END.
    token_text = func.replace(ApiToken.name, TOKEN_END, FIELD_END) + FIELD_END + ApiToken.prefix
    per_owner = db.session.execute(
        select(
            ApiToken.user_id,
            func.aggregate_strings(cast(ApiToken.id, String), ","),
            func.aggregate_strings(token_text, TOKEN_END),
        )
        .where(ApiToken.organization_id == organization_id)
        .group_by(ApiToken.user_id)
    ).all()
    if not per_owner:
        return SearchableTokens(version, array("q"), [], "", array("q", [0]), {}, {})
    token_ids = array("q")  # 8 bytes an id, where a list of ints takes 36
    owner_positions: dict[int, range] = {}
    for owner, ids, _texts in per_owner:
        first = len(token_ids)
        token_ids.extend(map(int, ids.split(",")))
        owner_positions[owner] = range(first, len(token_ids))
    texts = fold(TOKEN_END.join(row[2] for row in per_owner)).split(TOKEN_END)
    owners = db.session.execute(
        select(User.id, User.full_name, User.email).where(
            User.id.in_(select(ApiToken.user_id).where(ApiToken.organization_id == organization_id))
        )
    )
    return SearchableTokens(
        version=version,
        token_ids=token_ids,
        texts=texts,
        text=TOKEN_END.join(texts) + TOKEN_END,
        # Where each text starts, and where one more would: the end of `text`.
        starts=array("q", accumulate(map((1).__add__, map(len, texts)), initial=0)),
        owners={owner: fold(f"{name}{FIELD_END}{email}") for owner, name, email in owners},
        owner_positions=owner_positions,
    )


class SearchCache:
    """Each organization's SearchableTokens, kept while current, for one app (one database)."""

    def __init__(self, max_tokens: int = MAX_CACHED_TOKENS) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[int, SearchableTokens] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn may run a worker's requests in threads

    def searchable(self, organization_id: int) -> SearchableTokens:
        # The version is read before the tokens: a change committed in between leaves the copy
        # labelled older than its contents, so the next search rebuilds it, never the reverse.
        version = db.session.scalar(
            select(Organization.search_version).where(Organization.id == organization_id)
        )
        with self._lock:
            entry = self._entries.get(organization_id)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(organization_id)
                return entry
            # Out of date: let go of it before building the next, never holding both.
            self._entries.pop(organization_id, None)
        entry = _load(organization_id, version or 0)
        with self._lock:
            self._entries[organization_id] = entry
            self._entries.move_to_end(organization_id)
            self._drop_least_recent()
        return entry

    def _drop_least_recent(self) -> None:
        held = sum(len(entry.token_ids) for entry in self._entries.values())
        while held > self.max_tokens and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            held -= len(dropped.token_ids)


def find_tokens(organization_id: int, q: str) -> Found:
    """The organization's tokens that a search for `q` finds."""
    cache = current_app.extensions.setdefault("token_search", SearchCache())
    return cache.searchable(organization_id).find(q)
