"""The team: members of an organization and changes to their permissions."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, select, update

from .activities import record_activity
from .extensions import db
from .models import ApiToken, Organization, User
from .sessions import end_all_sessions
from .text import isolate

PERMISSION_LABELS = {
    "is_superuser": "Organization Superuser",
    "can_manage_tokens": "Can create and manage personal API tokens",
    "is_active": "Active",
}


class PermissionChangeRefused(ValueError):
    """The change would leave the organization without an active superuser."""


def team_members(organization_id: int) -> list[tuple[User, int]]:
    """Members of the organization with how many tokens each holds, by name."""
    token_counts = (
        select(ApiToken.user_id, func.count(ApiToken.id).label("count"))
        .where(ApiToken.organization_id == organization_id)
        .group_by(ApiToken.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User, func.coalesce(token_counts.c.count, 0))
        .outerjoin(token_counts, token_counts.c.user_id == User.id)
        .where(User.organization_id == organization_id)
        .order_by(func.lower(User.full_name), User.id)
    )
    return [(user, count) for user, count in rows]


def home_card_counts(viewer: User) -> dict[str, int]:
    """The figures on the home page's cards; only those of the cards the viewer sees."""
    counts = {}
    if viewer.is_superuser:
        counts["members"] = db.session.scalar(
            select(func.count(User.id)).where(User.organization_id == viewer.organization_id)
        )
        counts["org_tokens"] = viewer.organization.token_count
    if viewer.can_manage_tokens:
        counts["own_tokens"] = db.session.scalar(
            select(func.count(ApiToken.id)).where(ApiToken.user_id == viewer.id)
        )
    return counts


def _other_active_superusers(member: User) -> ScalarSelect[int]:
    return (
        select(func.count(User.id))
        .where(
            User.organization_id == member.organization_id,
            User.id != member.id,
            User.is_superuser.is_(True),
            User.is_active.is_(True),
        )
        .scalar_subquery()
    )


def _apply_keeping_a_superuser(member: User, changes: dict[str, bool]) -> bool:
    """Apply changes that take a superuser away, unless no other active superuser remains.

    Checked and written in one statement, after locking the organization's row (PostgreSQL;
    SQLite runs one writing statement at a time): two superusers demoting each other at once
    cannot both see the other one still there.
    """
    db.session.execute(
        select(Organization.id).where(Organization.id == member.organization_id).with_for_update()
    )
    applied = db.session.execute(
        update(User)
        .where(User.id == member.id, _other_active_superusers(member) >= 1)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(member)
    return applied == 1


def change_permissions(member: User, actor: User, wanted: dict[str, bool]) -> list[str]:
    """Apply permission changes, record one Activity, and return the descriptions of the changes."""
    changes = {field: value for field, value in wanted.items() if getattr(member, field) != value}
    if not changes:
        return []
    loses_superuser = (
        member.is_superuser
        and member.is_active
        and (changes.get("is_superuser") is False or changes.get("is_active") is False)
    )
    if loses_superuser:
        if not _apply_keeping_a_superuser(member, changes):
            db.session.rollback()
            if member.id == actor.id:
                raise PermissionChangeRefused(
                    "You are the last superuser of this organization: make someone else a "
                    "superuser before removing your own superuser flag or deactivating yourself."
                )
            raise PermissionChangeRefused(
                "The organization must keep at least one active superuser."
            )
    else:
        for field, value in changes.items():
            setattr(member, field, value)
    if changes.get("is_active") is False:
        # Every session ends now, and stays ended if the member is reactivated later.
        end_all_sessions(member.id)
    described = [
        f"{PERMISSION_LABELS[field]} {'on' if value else 'off'}" for field, value in changes.items()
    ]
    record_activity(
        subject=member,
        actor=actor,
        kind="permissions_changed",
        message=f"{isolate(actor.full_name)} changed {isolate(member.full_name)}'s permissions: "
        + ", ".join(described),
        details={field: value for field, value in changes.items()},
    )
    db.session.commit()
    return described
