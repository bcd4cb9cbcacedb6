"""Recording Activities: only ever added, never edited or deleted (read in activity_log.py)."""

from __future__ import annotations

from sqlalchemy import insert

from .clock import utcnow
from .extensions import db
from .models import Activity, User


def activity_values(
    subject: User, actor: User | None, kind: str, message: str, details: dict | None = None
) -> dict:
    """An Activity against `subject`, as column values."""
    return {
        "organization_id": subject.organization_id,
        "subject_id": subject.id,
        "actor_id": actor.id if actor else None,
        "kind": kind,
        "message": message,
        "details": details or {},
        "created_at": utcnow(),
    }


def record_activity(
    subject: User, actor: User | None, kind: str, message: str, details: dict | None = None
) -> Activity:
    """Add an Activity against `subject` to the current transaction (the caller commits)."""
    activity = Activity(**activity_values(subject, actor, kind, message, details))
    db.session.add(activity)
    return activity


def record_activities(values: list[dict]) -> None:
    """Insert many Activities (from activity_values) in the current transaction, in one
    statement: as ORM objects, SQLite inserted them one at a time to read back each id."""
    if values:
        db.session.execute(insert(Activity), values)
