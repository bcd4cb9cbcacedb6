"""The one clock the app reads "now" from, so tests can move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Only tests change this (tests/conftest.py's `clock` fixture): production always reads 0.
_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time in UTC (a callable, so defaults are evaluated per row)."""
    return datetime.now(UTC) + _offset


def move_clock(by: timedelta) -> None:
    """Move every reader of utcnow() forwards (or back) by `by`: for tests only."""
    global _offset
    _offset += by


def reset_clock() -> None:
    """Back to the real time."""
    global _offset
    _offset = timedelta(0)


def iso_utc(moment: datetime | None) -> str | None:
    """A moment as clients read it, ISO 8601 in UTC with a Z (`2026-11-27T20:41:03Z`)."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None
