"""Leaked tokens revoke themselves (SPEC section 12): reading a secret scanner's report and acting.

Reported values are compared and then forgotten: never logged, never stored. Values that are not
well-formed tokens (most of what scanners send is not) are answered without a database query.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .extensions import db
from .models import ApiToken
from .revocation import Revocation, TokenAlreadyRevoked, revoke_token
from .text import has_unstorable_characters
from .tokens import digest, mask_token_values, parse_token

log = logging.getLogger(__name__)

MAX_ENTRIES = 1000
MAX_URL_LENGTH = 2000
# Where a token was found when the report gives no URL (GitHub may leave it empty).
NO_URL = "a place the scanner did not name"
TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"


class MalformedReport(Exception):
    """The report is not a JSON array of entries in the partner format; its message says why."""


@dataclass(frozen=True)
class ReportedValue:
    """One entry of a report: a value a scanner found, and where."""

    token: str
    type: str
    url: str
    source: str


def _entry(position: int, item: object) -> ReportedValue:
    if not isinstance(item, dict):
        raise MalformedReport(f"Entry {position} is not an object.")
    fields = {}
    for name, required in (("token", True), ("type", True), ("url", False), ("source", False)):
        value = item.get(name, None if required else "")
        if not isinstance(value, str):
            raise MalformedReport(f"Entry {position}: “{name}” must be a string.")
        fields[name] = value
    url = fields["url"]
    # The URL goes into an Activity and an email: bounded, and nothing a page or email mangles.
    if len(url) > MAX_URL_LENGTH or has_unstorable_characters(url):
        raise MalformedReport(
            f"Entry {position}: “url” must be at most {MAX_URL_LENGTH} printable characters."
        )
    # A paste's URL can carry a token value (this one or another): the log, the Activity and
    # the email only ever see its prefix.
    fields["url"] = mask_token_values(url)
    return ReportedValue(**fields)


def parse_report(body: bytes) -> list[ReportedValue]:
    """The entries of a report body, or MalformedReport (then nothing may be acted on)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedReport("The body must be a JSON array.") from None
    if not isinstance(data, list):
        raise MalformedReport("The body must be a JSON array.")
    if len(data) > MAX_ENTRIES:
        raise MalformedReport(f"A report holds at most {MAX_ENTRIES} entries.")
    return [_entry(position, item) for position, item in enumerate(data)]


def _live_tokens(values: set[str]) -> dict[str, int]:
    """The ids of the tokens whose values these are, by value: one query for all of them."""
    prefixes = {value: prefix for value in values if (prefix := parse_token(value)) is not None}
    if not prefixes:
        return {}
    rows = db.session.execute(
        select(ApiToken.prefix, ApiToken.id, ApiToken.digest).where(
            ApiToken.prefix.in_(set(prefixes.values()))
        )
    )
    by_prefix = {row.prefix: row for row in rows}
    live = {}
    for value, prefix in prefixes.items():
        row = by_prefix.get(prefix)
        if row is not None and hmac.compare_digest(row.digest, digest(value)):
            live[value] = row.id
    return live


def _revoke_found(found: dict[int, str]) -> dict[int, Revocation]:
    """Revoke the tokens found in public (id: URL) in one transaction; skip any already gone.

    One commit for the report rather than one per token: on PostgreSQL each commit waits for
    the disk (docs/benchmark-changes.md). In id order, so that two reports of
    the same tokens at once lock them in the same order.
    """
    tokens = db.session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.owner))
        .where(ApiToken.id.in_(found))
        .order_by(ApiToken.id)
    )
    revocations = {}
    for token in tokens.all():
        token_id, url = token.id, found[token.id]
        try:
            revocations[token_id] = revoke_token(
                token, actor=None, found_at=url, in_callers_transaction=True
            )
        except TokenAlreadyRevoked:
            continue
    db.session.commit()
    for token_id, revocation in revocations.items():
        log.warning(
            "revoked %s automatically: found in public at %s", revocation.prefix, found[token_id]
        )
    return revocations


@dataclass(frozen=True)
class ReportOutcome:
    """The answer to a report, and the owners' emails still to deliver."""

    labels: list[dict[str, str]]
    email_ids: list[int]


def act_on_report(entries: list[ReportedValue]) -> ReportOutcome:
    """Revoke every live token reported; label each entry in GitHub's feedback format.

    `true_positive`: it was a live token, now revoked. Reported again in a later report, it is no
    longer live: `false_positive`, and nothing changes. Repeats within a report share a label.
    """
    live = _live_tokens({entry.token for entry in entries})
    found: dict[int, str] = {}  # each live token, and where it was first reported
    for entry in entries:
        if entry.token in live:
            found.setdefault(live[entry.token], entry.url or NO_URL)
    revoked = _revoke_found(found) if found else {}
    answer = [
        {
            "token_raw": entry.token,
            "token_type": entry.type,
            "label": TRUE_POSITIVE if live.get(entry.token) in revoked else FALSE_POSITIVE,
        }
        for entry in entries
    ]
    email_ids = [r.email_id for r in revoked.values() if r.email_id is not None]
    return ReportOutcome(answer, email_ids)
