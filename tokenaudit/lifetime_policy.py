"""Changing an organization's token lifetime policy (SPEC 10): the settings page's one action."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from flask import render_template
from sqlalchemy import or_, select, update

from .activities import record_activity
from .clock import utcnow
from .extensions import db
from .external_links import external_url
from .models import ApiToken, Organization, User
from .outbox import queue_email
from .text import isolate
from .token_lifetime import LifetimeRefused, lock_organization, parse_days


@dataclass(frozen=True)
class PolicyChange:
    """What saving the settings did: how many tokens were shortened, how many owners emailed."""

    changed: bool
    tokens_shortened: int = 0
    owners_emailed: int = 0


def check_policy(max_days: int | None, default_days: int | None) -> None:
    """Refuse a policy whose default lies above its maximum (or is missing under one)."""
    if max_days is not None and (default_days is None or default_days > max_days):
        raise LifetimeRefused(
            f"The default lifetime must be set, and at most the maximum ({max_days} days)."
        )


def parse_policy(raw_max: object, raw_default: object) -> tuple[int | None, int | None]:
    """The two settings fields (blank = none), checked together."""
    max_days = parse_days(raw_max, "The maximum lifetime")
    default_days = parse_days(raw_default, "The default lifetime")
    check_policy(max_days, default_days)
    return max_days, default_days


def _days_text(days: int | None) -> str:
    return f"{days} days" if days else "none"


def _shorten_longer_tokens(organization: Organization, new_max: int) -> list:
    """One UPDATE: every token living past now + new_max now expires then. Returns their rows."""
    limit = utcnow() + timedelta(days=new_max)
    return db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.organization_id == organization.id,
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > limit),
        )
        .values(expires_at=limit)
        .returning(ApiToken.user_id, ApiToken.name, ApiToken.prefix, ApiToken.expires_at)
        .execution_options(synchronize_session=False)
    ).all()


def _email_owners(shortened: list, new_max: int, changed_by: User) -> int:
    """Queue one email per owner listing their shortened tokens and new dates."""
    by_owner: dict[int, list] = defaultdict(list)
    for row in shortened:
        by_owner[row.user_id].append(row)
    owners = db.session.scalars(select(User).where(User.id.in_(by_owner))).all()
    for owner in owners:
        context = {
            "owner": owner,
            "tokens": sorted(by_owner[owner.id], key=lambda row: row.prefix),
            "max_days": new_max,
            "changed_by": changed_by,
            "profile_url": external_url("profile.tokens"),
        }
        count = len(context["tokens"])
        queue_email(
            recipient=owner.email,
            subject=f"{count} of your API tokens now expire sooner",
            text_body=render_template("email/tokens_shortened.txt", **context),
            html_body=render_template("email/tokens_shortened.html", **context),
        )
    return len(owners)


def change_lifetime_policy(
    organization: Organization, actor: User, max_days: int | None, default_days: int | None
) -> PolicyChange:
    """Save the policy; a lower maximum shortens longer-lived tokens (counted from now) and
    emails their owners, all in one transaction with one Activity. Never lengthens a token."""
    check_policy(max_days, default_days)
    # Tokens being created or rotated right now finish first (and are then shortened below),
    # or wait and get the new policy; and "was" is the value this change replaces.
    lock_organization(organization)
    old_max = organization.max_token_lifetime_days
    old_default = organization.default_token_lifetime_days
    if (old_max, old_default) == (max_days, default_days):
        db.session.rollback()
        return PolicyChange(changed=False)
    organization.max_token_lifetime_days = max_days
    organization.default_token_lifetime_days = default_days
    lowered = max_days is not None and (old_max is None or max_days < old_max)
    shortened = _shorten_longer_tokens(organization, max_days) if lowered else []
    owners = _email_owners(shortened, max_days, actor) if shortened else 0
    record_activity(
        subject=actor,
        actor=actor,
        kind="token_policy_changed",
        message=(
            f"Token lifetime policy changed by {isolate(actor.full_name)}: maximum "
            f"{_days_text(max_days)} (was {_days_text(old_max)}), default "
            f"{_days_text(default_days)} (was {_days_text(old_default)}); "
            f"{len(shortened)} tokens shortened"
        ),
        details={
            "max_token_lifetime_days": [old_max, max_days],
            "default_token_lifetime_days": [old_default, default_days],
            "tokens_shortened": len(shortened),
        },
    )
    db.session.commit()
    return PolicyChange(changed=True, tokens_shortened=len(shortened), owners_emailed=owners)
