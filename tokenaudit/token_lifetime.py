"""How long a token lives: the organization's policy applied to a requested lifetime (SPEC 10).

The one place that rules on lifetimes, for the profile form, the API, rotation and the
settings page: every refusal is a LifetimeRefused whose message is shown to the user as is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update

from .clock import utcnow
from .extensions import db
from .models import Organization

# The profile form's choices; any whole number of days up to the policy is accepted by the API.
LIFETIME_CHOICES = (7, 30, 60, 90)
# Ten years: beyond this a "lifetime" is a typo (and dates overflow long before year 9999).
LONGEST_LIFETIME_DAYS = 3650
NEVER = "never"
CUSTOM = "custom"  # the profile form's "a date of your choice"


class LifetimeRefused(ValueError):
    """A lifetime the policy does not allow, or one that is not a lifetime; says why."""


def parse_days(raw: object, what: str = "The lifetime") -> int | None:
    """A whole number of days 1-3650 from a form or JSON value; None for blank."""
    if raw is None or raw == "":
        return None
    # ASCII digits only, and few of them: str.isdigit() also passes "²" (which int() refuses),
    # "٣" (which int() reads as 3) and 5,000 nines (beyond int()'s digit limit).
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip()) if len(raw.strip()) <= len(str(LONGEST_LIFETIME_DAYS)) else 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= LONGEST_LIFETIME_DAYS:
        raise LifetimeRefused(
            f"{what} must be a whole number of days from 1 to {LONGEST_LIFETIME_DAYS}."
        )
    return raw


def means_never(raw: object) -> bool:
    """0 or "never" (never False or 0.0: JSON's types are not guessed at)."""
    return type(raw) in (int, str) and raw in (0, "0", NEVER)


def _too_long(organization: Organization) -> LifetimeRefused:
    return LifetimeRefused(
        f"Tokens in this organization must expire within "
        f"{organization.max_token_lifetime_days} days."
    )


def default_lifetime_days(organization: Organization) -> int | None:
    """The lifetime of a token created without one: the default, within the maximum."""
    default = organization.default_token_lifetime_days
    maximum = organization.max_token_lifetime_days
    if maximum is not None and (default is None or default > maximum):
        return maximum
    return default


def never_allowed(organization: Organization) -> bool:
    return organization.max_token_lifetime_days is None


def expiry_in_days(organization: Organization, requested: object = None) -> datetime | None:
    """When a token created now expires, for `requested` days (blank: the organization's
    default; 0 or "never": never, where the organization has no maximum)."""
    if means_never(requested):
        if not never_allowed(organization):
            raise _too_long(organization)
        return None
    days = parse_days(requested, "expires_in_days")
    if days is None:
        days = default_lifetime_days(organization)
    elif not never_allowed(organization) and days > organization.max_token_lifetime_days:
        raise _too_long(organization)
    return None if days is None else utcnow() + timedelta(days=days)


def lock_organization(organization: Organization) -> None:
    """Read the organization's current policy and keep it from changing until this transaction
    ends: a token made or rotated while the maximum is being lowered is then either shortened
    by the change or made under the new maximum, never missed by both.

    The lock is the organization row's (PostgreSQL: FOR UPDATE; SQLite: the database's write
    lock, taken by a no-op UPDATE). Exclusive, not shared: a new or revoked token's count
    update (token_count_change) writes that row anyway; two shared holders upgrading deadlock.
    Everything that writes a token takes it first (revocation too), so locks are always taken
    organization first, then token: never a cycle.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            select(Organization)
            .where(Organization.id == organization.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        table = Organization.__table__
        db.session.execute(update(table).where(table.c.id == organization.id).values(id=table.c.id))
        db.session.refresh(organization)


def check_expiry(organization: Organization, expires_at: datetime | None) -> None:
    """Refuse an expiry (ruled on earlier) that the organization's policy no longer allows."""
    maximum = organization.max_token_lifetime_days
    if maximum is not None and (
        expires_at is None or expires_at > utcnow() + timedelta(days=maximum)
    ):
        raise _too_long(organization)


def expiry_on_date(organization: Organization, day: date) -> datetime:
    """A custom expiry date: the token expires at the start of that day (UTC)."""
    expires_at = datetime.combine(day, time(), tzinfo=UTC)
    now = utcnow()
    if expires_at <= now:
        raise LifetimeRefused("The expiry date must be in the future.")
    maximum = organization.max_token_lifetime_days
    if expires_at > now + timedelta(days=maximum or LONGEST_LIFETIME_DAYS):
        raise _too_long(organization) if maximum else LifetimeRefused("That date is too far away.")
    return expires_at


def lifetime_choices(organization: Organization) -> list[tuple[str, str]]:
    """The profile form's (value, label) choices, each label showing the date it leads to."""
    today = utcnow()
    days = {*LIFETIME_CHOICES, default_lifetime_days(organization)} - {None}
    maximum = organization.max_token_lifetime_days
    choices = [
        (str(d), f"{d} days (until {today + timedelta(days=d):%Y-%m-%d})")
        for d in sorted(days)
        if maximum is None or d <= maximum
    ]
    if maximum is not None and maximum not in days:
        choices.append(
            (
                str(maximum),
                f"{maximum} days, the maximum (until {today + timedelta(days=maximum):%Y-%m-%d})",
            )
        )
    choices.append((CUSTOM, "A date of your choice (below)"))
    if never_allowed(organization):
        choices.append((NEVER, "Never"))
    return choices


def default_choice(organization: Organization) -> str:
    days = default_lifetime_days(organization)
    return str(days) if days else NEVER
