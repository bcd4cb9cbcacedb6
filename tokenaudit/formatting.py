"""Template filters: times (relative for reading, exact in UTC beside them) and paths."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Flask

from .models import utcnow
from .text_direction import isolate

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


def register_filters(app: Flask) -> None:
    app.add_template_filter(relative_time, "relative")
    app.add_template_filter(utc_text, "utc")
    app.add_template_filter(time_until, "until")
    app.add_template_filter(iso_time, "iso")
    app.add_template_filter(isolate, "isolate")
    app.add_template_filter(path_parts, "path_parts")
