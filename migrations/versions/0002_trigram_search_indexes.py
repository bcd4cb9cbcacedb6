"""Trigram indexes for the token search on PostgreSQL (SQLite has no pg_trgm: nothing to do).

The audit page searches token name, prefix, owner name and owner email for a substring
(`ILIKE '%q%'` on PostgreSQL). A B-tree cannot serve a leading wildcard; a pg_trgm GIN index can,
and pg_trgm folds case itself, so the indexes are on the plain columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# (index name, table, column)
TRIGRAM_INDEXES = [
    ("ix_api_tokens_name_trgm", "api_tokens", "name"),
    ("ix_api_tokens_prefix_trgm", "api_tokens", "prefix"),
    ("ix_users_full_name_trgm", "users", "full_name"),
    ("ix_users_email_trgm", "users", "email"),
]


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _is_postgresql():
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade():
    if not _is_postgresql():
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # The extension stays: other objects may use it, and it costs nothing unused.
