"""Recording and reading Activities. Activities are only ever added, never edited or deleted."""

from __future__ import annotations

from sqlalchemy import select

from .extensions import db
from .models import Activity, User


def record_activity(
    subject: User, actor: User | None, kind: str, message: str, details: dict | None = None
) -> Activity:
    """Add an Activity against `subject` to the current transaction (the caller commits)."""
    activity = Activity(
        organization_id=subject.organization_id,
        subject_id=subject.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        message=message,
        details=details or {},
    )
    db.session.add(activity)
    return activity


def recent_activities(viewer: User, limit: int = 20) -> list[Activity]:
    """The feed on the home page: the whole organization for superusers, else the viewer's own."""
    query = select(Activity).order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit)
    if viewer.is_superuser:
        query = query.where(Activity.organization_id == viewer.organization_id)
    else:
        query = query.where(Activity.subject_id == viewer.id)
    return list(db.session.scalars(query))
