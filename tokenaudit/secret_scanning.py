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
from sqlalchemy.orm.exc import ObjectDeletedError

from .extensions import db
from .models import ApiToken
from .revocation import TokenAlreadyRevoked, revoke_token
from .text import has_unstorable_characters
from .tokens import digest, parse_token

log = logging.getLogger(__name__)

MAX_ENTRIES = 1000
MAX_URL_LENGTH = 2000
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


def _revoke_found(token_id: int, url: str) -> bool:
    """Revoke a token found in public; False when it was revoked meanwhile by someone else."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        return False
    try:
        revocation = revoke_token(token, actor=None, found_at=url)
    except (TokenAlreadyRevoked, ObjectDeletedError):
        return False
    log.warning("revoked %s automatically: found in public at %s", revocation.prefix, url)
    return True


def act_on_report(entries: list[ReportedValue]) -> list[dict[str, str]]:
    """Revoke every live token reported; label each entry in GitHub's feedback format.

    `true_positive`: it was a live token, now revoked. Reported again in a later report, it is no
    longer live: `false_positive`, and nothing changes. Repeats within a report share a label.
    """
    live = _live_tokens({entry.token for entry in entries})
    labels: dict[str, str] = {}
    for entry in entries:
        if entry.token not in labels:
            revoked = entry.token in live and _revoke_found(live[entry.token], entry.url)
            labels[entry.token] = TRUE_POSITIVE if revoked else FALSE_POSITIVE
    return [
        {"token_raw": entry.token, "token_type": entry.type, "label": labels[entry.token]}
        for entry in entries
    ]
