"""Demo data for `flask seed-demo`: bulk inserts, so 100,000 tokens take seconds."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, insert, select, text

from .accounts import hash_password
from .extensions import db
from .models import (
    SEARCH_ROW_TRIGGER,
    Activity,
    ApiToken,
    Organization,
    User,
    token_count_change,
    token_search_rows,
    token_search_text,
    utcnow,
)
from .text import natural_sort_key, searchable_text
from .tokens import random_prefix

DEMO_ORG_NAME = "Demo Organization"
DEMO_DOMAIN = "demo.example.com"
DEMO_ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
DEMO_PASSWORD = "demo-password"

FIRST_NAMES = [
    "Alice",
    "Bob",
    "Dana",
    "Erik",
    "Fatima",
    "Goran",
    "Hiro",
    "Ines",
    "Jonas",
    "Keiko",
    "Luis",
    "Maya",
    "Nils",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
]
LAST_NAMES = [
    "Archer",
    "Berg",
    "Costa",
    "Diallo",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Müller",
    "Novak",
    "Okafor",
    "Petrov",
]
TOKEN_NAMES = [
    "CI deploy",
    "Nightly export",
    "Grafana dashboard",
    "Local development",
    "Backup script",
    "Data warehouse sync",
    "Jupyter notebook",
    "Release pipeline",
    "Monitoring probe",
    "Slack bot",
    "Terraform",
    "Reporting job",
]
USAGES = [
    ("GET", "/api/v2/me/"),
    ("GET", "/api/v2/tokens/"),
    ("GET", "/api/v2/organization/tokens/"),
    ("DELETE", "/api/v2/tokens/17/"),
    ("GET", "/api/v2/me/"),
]
BATCH = 10_000


def _demo_users(count: int, password_hash: str, organization_id: int) -> list[dict]:
    rng = random.Random(1)
    users = [dict(email=DEMO_ADMIN_EMAIL, full_name="Carol Admin", is_superuser=True)]
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        users.append(
            dict(
                email=f"{first.lower()}.{number}@{DEMO_DOMAIN}",
                full_name=f"{first} {last}",
                is_superuser=False,
                # Every tenth member shows what a user without the token permission sees.
                # (their tokens stay listed, and blocked, until revoked).
                can_manage_tokens=number % 10 != 0,
            )
        )
    now = utcnow()
    for user in users:
        user.setdefault("can_manage_tokens", True)
        user.update(
            password_hash=password_hash,
            organization_id=organization_id,
            created_at=now,
            is_active=True,
            # Bulk inserts skip the models' events: the folded text is written here.
            search_text=searchable_text(user["full_name"], user["email"]),
        )
    return users


def _demo_expiry(rng: random.Random, created, now):
    """A realistic spread: most expire within their 90-day default or a year, some never;
    a few have expired, a few expire this week (they show reminders and *Expired*)."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.22:
        return now - timedelta(days=rng.uniform(0.1, 30))  # expired
    if roll < 0.30:
        return now + timedelta(days=rng.uniform(0.1, 7))  # expiring this week
    expires = created + timedelta(days=rng.choice((90, 365)))
    # Past its date without being in the groups above: as if rotated since, some weeks ago.
    return (
        expires if expires > now + timedelta(days=8) else now + timedelta(days=rng.uniform(8, 90))
    )


def _demo_tokens(owners: list[tuple[int, str]], per_user: int, organization_id: int):
    """Token rows with a spread of names, ages, usage and expiry; some never used."""
    rng = random.Random(2)
    now = utcnow()
    for user_id, _name in owners:
        for index in range(per_user):
            created = now - timedelta(days=rng.uniform(1, 365))
            used = rng.random() < 0.8
            method, path = rng.choice(USAGES) if used else (None, None)
            name = f"{TOKEN_NAMES[(user_id + index) % len(TOKEN_NAMES)]} {index + 1}"
            # Nobody ever sees a demo token's value, so none is made: a random prefix and a
            # random digest (no known value hashes to it) take a third of generate_token().
            prefix = random_prefix()
            yield dict(
                user_id=user_id,
                organization_id=organization_id,
                name=name,
                prefix=prefix,
                # Bulk inserts and COPY skip the models' events and defaults: written here.
                search_text=token_search_text(name, prefix),
                name_sort_key=natural_sort_key(name),
                digest=secrets.token_hex(32),
                created_at=created,
                last_used_at=created + (now - created) * rng.random() if used else None,
                last_used_method=method,
                last_used_path=path,
                expires_at=_demo_expiry(rng, created, now),
                # Documentation addresses (RFC 5737), never anyone's real one.
                last_used_ip=f"198.51.100.{(user_id + index) % 254 + 1}" if used else None,
            )


def _insert_tokens(rows: Iterator[dict]) -> int:
    batch, total = [], 0
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            db.session.execute(ApiToken.__table__.insert(), batch)
            total, batch = total + len(batch), []
    if batch:
        db.session.execute(ApiToken.__table__.insert(), batch)
        total += len(batch)
    return total


def _copy_tokens_into_postgresql(rows: Iterator[dict]) -> int:
    """COPY, with the tokens' search rows written in one statement rather than by the trigger row
    by row, and their trigram index built once at the end rather than grown row by row, which
    took several times as long (docs/benchmark-changes.md)."""
    table = ApiToken.__table__
    trigram = next(i for i in token_search_rows.indexes if i.name == "ix_token_search_rows_trgm")
    connection = db.session.connection()
    trigram.drop(connection)
    # ALTER TABLE locks api_tokens until the seed commits: nobody else writes meanwhile.
    db.session.execute(text(f"ALTER TABLE api_tokens DISABLE TRIGGER {SEARCH_ROW_TRIGGER}"))
    columns = [column.name for column in table.columns if column.name != "id"]
    total = 0
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY api_tokens ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_naive_utc(row.get(column)) for column in columns])
            total += 1
    db.session.execute(_missing_search_rows())
    db.session.execute(text(f"ALTER TABLE api_tokens ENABLE TRIGGER {SEARCH_ROW_TRIGGER}"))
    db.session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    trigram.create(connection)
    return total


def _missing_search_rows() -> Insert:
    """What the trigger would have written for each token without a search row."""
    rows = token_search_rows.c
    missing = (
        select(ApiToken.id, ApiToken.organization_id, ApiToken.user_id, ApiToken.search_text)
        .outerjoin(token_search_rows, rows.token_id == ApiToken.id)
        .where(rows.token_id.is_(None))
    )
    return insert(token_search_rows).from_select(
        [rows.token_id, rows.organization_id, rows.user_id, rows.search_text], missing
    )


def _naive_utc(value: object) -> object:
    """What UTCDateTime stores: UTC without a zone (COPY bypasses the column types)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def seed_demo_organization(users: int, tokens_per_user: int) -> str:
    """Create the demo organization; returns how to sign in."""
    organization = Organization(name=DEMO_ORG_NAME)
    db.session.add(organization)
    db.session.flush()
    if db.engine.dialect.name == "sqlite":
        # 100,000 rows land in eight indexes at random places: with SQLite's default 2 MB page
        # cache most inserts would read and write pages through the OS. 256 MB, this session only.
        db.session.execute(text("PRAGMA cache_size = -262144"))
    # One bcrypt hash shared by every demo account: hashing thousands would take minutes.
    password_hash = hash_password(DEMO_PASSWORD)
    db.session.execute(insert(User), _demo_users(users, password_hash, organization.id))
    owners = db.session.execute(
        select(User.id, User.full_name)
        .where(User.organization_id == organization.id, User.is_superuser.is_(False))
        .order_by(User.id)
    ).all()
    rows = _demo_tokens(owners, tokens_per_user, organization.id)
    if db.engine.dialect.name == "postgresql":
        total = _copy_tokens_into_postgresql(rows)
    else:
        total = _insert_tokens(rows)
    db.session.execute(token_count_change(organization.id, total))
    admin_id = db.session.scalar(select(User.id).where(User.email == DEMO_ADMIN_EMAIL))
    db.session.execute(
        insert(Activity),
        [
            dict(
                organization_id=organization.id,
                subject_id=user_id,
                actor_id=admin_id,
                kind="permissions_changed",
                created_at=utcnow(),
                details={},
                message=f"Carol Admin added {name} to the team",
            )
            for user_id, name in owners[:10]
        ],
    )
    db.session.commit()
    member_email = db.session.get(User, owners[0][0]).email
    return (
        f"Created {DEMO_ORG_NAME!r}: {users + 1} users, {total} tokens.\n"
        f"Sign in as the superuser {DEMO_ADMIN_EMAIL} with password {DEMO_PASSWORD!r}\n"
        f"(every demo member, e.g. {member_email}, has the same password)."
    )
