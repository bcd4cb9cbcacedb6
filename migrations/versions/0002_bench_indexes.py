"""Audit page search at 100,000 tokens: a narrow SQLite index that a substring search reads.

Revision ID: 0002b
Revises: 0001
Create Date: 2026-11-27 21:10:00

A substring search (LIKE '%q%') cannot seek in any B-tree, so it reads every token of the
organization. Reading them through this index (organization, lower-cased name and prefix,
owner) costs one narrow index pass instead of a table lookup per token (measured by
`make bench`: see docs/benchmarks.md). SQLite only: PostgreSQL searches with pg_trgm instead.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002b'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.create_index(
        'ix_api_tokens_org_search',
        'api_tokens',
        ['organization_id', sa.text('lower(name)'), sa.text('lower(prefix)'), 'user_id'],
    )


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.drop_index('ix_api_tokens_org_search', table_name='api_tokens')
