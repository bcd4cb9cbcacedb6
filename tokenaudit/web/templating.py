"""What templates get beyond Jinja: filters for times (relative for reading, exact in UTC beside
them), names and paths, and per-row links for long tables."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Flask, url_for

from ..clock import utcnow
from ..models import MAX_TOKEN_NAME_LENGTH
from ..text import isolate
from ..token_listing import MAX_QUERY_LENGTH

_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """'3 hours ago', 'just now'; empty for None."""
    if moment is None:
        return ""
    seconds = int(((now or utcnow()) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def time_until(moment: datetime, now: datetime | None = None) -> str:
    """'in 3 days', 'in 5 hours' for a future moment (a token's expiry)."""
    seconds = int((moment - (now or utcnow())).total_seconds())
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "in less than a minute"


def utc_text(moment: datetime | None) -> str:
    """Exact time in UTC, e.g. '2026-11-27 20:41:03 UTC'; empty for None."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso_time(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


_PATH_PARTS = re.compile(r"/[^/]*|[^/]+")


def path_parts(path: str | None) -> list[str]:
    """'/api/v2/me/' -> ['/api', '/v2', '/me', '/']: a path may wrap only before a slash."""
    return _PATH_PARTS.findall(path or "")


# An id no row has, so it appears exactly once in the built URL (unless a search holds it).
_PLACEHOLDER = 987_654_321_012


class UrlForEachId:
    """`url_for(endpoint, **values, field=id)` for many ids at the cost of one url_for call.

    url_for walks the URL map on every call, which made a long table's per-row links slow to
    render (docs/benchmark-changes.md).
    """

    def __init__(self, endpoint: str, field: str, **values: object) -> None:
        placeholder = _PLACEHOLDER
        url = url_for(endpoint, **{**values, field: placeholder})
        # The other values (a search) may hold the placeholder's digits: the next one is taken
        # until it appears only once (a search of 200 characters holds at most 16 of them).
        while url.count(str(placeholder)) != 1:
            placeholder += 1
            url = url_for(endpoint, **{**values, field: placeholder})
        self._head, self._tail = url.split(str(placeholder))

    def __call__(self, row_id: int) -> str:
        return f"{self._head}{int(row_id)}{self._tail}"


def register_templating(app: Flask) -> None:
    app.add_template_filter(relative_time, "relative")
    app.add_template_filter(utc_text, "utc")
    app.add_template_filter(time_until, "until")
    app.add_template_filter(iso_time, "iso")
    app.add_template_filter(isolate, "isolate")
    app.add_template_filter(path_parts, "path_parts")
    app.add_template_global(UrlForEachId, "url_for_each_id")
    # The limits the server applies, so that an input's maxlength and help text say the same.
    app.jinja_env.globals.update(
        MAX_TOKEN_NAME_LENGTH=MAX_TOKEN_NAME_LENGTH, MAX_QUERY_LENGTH=MAX_QUERY_LENGTH
    )
