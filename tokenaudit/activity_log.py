"""Reading Activities: the Activity log (SPEC 11) with its filters, pages and CSV export, and the
recent ones on the home and member pages; who sees which is `_visible`, for all of them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from .clock import iso_utc
from .extensions import db
from .models import Activity, User, parse_positive_int

PAGE_SIZE = 50
CSV_HEADER = [
    "created_at",
    "kind",
    "actor_name",
    "actor_email",
    "subject_name",
    "subject_email",
    "message",
]


@dataclass(frozen=True)
class ActivityFilters:
    """What the log shows; anything malformed in the request is ignored, never an error."""

    kind: str = ""
    actor: int | None = None
    subject: int | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ActivityFilters:
        kind = (args.get("kind") or "").strip()[:40]
        return cls(
            kind=kind,
            actor=parse_positive_int(args.get("actor")),
            subject=parse_positive_int(args.get("subject")),
            page=parse_positive_int(args.get("page")) or 1,
        )

    def to_args(self, **changes: object) -> dict[str, object]:
        args = {"kind": self.kind, "actor": self.actor, "subject": self.subject, "page": self.page}
        args.update(changes)
        return {key: value for key, value in args.items() if value not in ("", None, 1)}


@dataclass(frozen=True)
class ActivityPage:
    filters: ActivityFilters
    activities: list[Activity]
    total: int
    pages: int

    @property
    def page(self) -> int:
        return self.filters.page


def _visible(viewer: User, filters: ActivityFilters) -> Select:
    """Superusers see the whole organization's record; everyone else only their own."""
    query = select(Activity).where(Activity.organization_id == viewer.organization_id)
    if not viewer.is_superuser:
        query = query.where(Activity.subject_id == viewer.id)
    if filters.kind:
        query = query.where(Activity.kind == filters.kind)
    if filters.actor is not None:
        query = query.where(Activity.actor_id == filters.actor)
    if filters.subject is not None:
        query = query.where(Activity.subject_id == filters.subject)
    return query


def _newest_first(query: Select) -> Select:
    return query.order_by(Activity.created_at.desc(), Activity.id.desc()).options(
        joinedload(Activity.actor), joinedload(Activity.subject)
    )


def find_activities(viewer: User, filters: ActivityFilters) -> ActivityPage:
    """One page of the Activities the viewer may see, newest first (past the end: the last)."""
    query = _visible(viewer, filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if filters.page > pages:
        filters = ActivityFilters(filters.kind, filters.actor, filters.subject, pages)
    offset = (filters.page - 1) * PAGE_SIZE
    activities = list(db.session.scalars(_newest_first(query).limit(PAGE_SIZE).offset(offset)))
    return ActivityPage(filters=filters, activities=activities, total=total, pages=pages)


def activity_rows(viewer: User, filters: ActivityFilters) -> Iterator[list[object]]:
    """Every Activity the filters match (all pages), as CSV_HEADER's cells."""
    query = _newest_first(_visible(viewer, filters)).execution_options(yield_per=500)
    for activity in db.session.scalars(query):
        actor, subject = activity.actor, activity.subject
        yield [
            iso_utc(activity.created_at),
            activity.kind,
            actor.full_name if actor else "",
            actor.email if actor else "",
            subject.full_name,
            subject.email,
            activity.message,
        ]


def filter_choices(viewer: User) -> dict[str, list]:
    """The kinds and the people the viewer's filters offer, from what is on record."""
    visible = _visible(viewer, ActivityFilters()).subquery()
    kinds = db.session.scalars(select(visible.c.kind).distinct().order_by(visible.c.kind)).all()
    people: list[User] = []
    if viewer.is_superuser:
        people = list(
            db.session.scalars(
                select(User)
                .where(User.organization_id == viewer.organization_id)
                .order_by(func.lower(User.full_name), User.id)
            )
        )
    return {"kinds": list(kinds), "people": people}


def recent_activities(viewer: User, limit: int = 20) -> list[Activity]:
    """The feed on the home page: the Activities the viewer may see, newest first."""
    query = _newest_first(_visible(viewer, ActivityFilters()).limit(limit))
    return list(db.session.scalars(query))


def member_activities(member: User, limit: int = 20) -> list[Activity]:
    """The member page's recent Activities recorded against that member."""
    query = _newest_first(select(Activity).where(Activity.subject_id == member.id).limit(limit))
    return list(db.session.scalars(query))
