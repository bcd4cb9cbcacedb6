"""Audit page at 100,000 tokens: a SQLite search index; PostgreSQL sort indexes in sort order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:10:00

A substring search (LIKE '%q%') cannot seek in any B-tree, so it reads every token of the
organization. Reading them through this index (organization, lower-cased name and prefix,
owner) costs one narrow index pass instead of a table lookup per token (measured by
`make bench`: see docs/benchmarks.md). SQLite only: PostgreSQL searches with pg_trgm instead.

PostgreSQL: the page sorts `col ASC NULLS FIRST, id ASC` or `col DESC NULLS LAST, id DESC`
(never-used tokens count as oldest). A default index (ASC NULLS LAST) matches neither, so
PostgreSQL sorted all 100,000 rows for every page (~170 ms). Built NULLS FIRST and ending with
the id, each index reads forwards for one direction and backwards for the other. SQLite already
walks its indexes for these orders (its NULLs sort first, and every index ends with the rowid).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# name: (table, columns as PostgreSQL reads them in the page's order)
POSTGRES_SORT_INDEXES = {
    'ix_api_tokens_org_created': ('api_tokens', 'organization_id, created_at NULLS FIRST, id'),
    'ix_api_tokens_org_last_used': ('api_tokens', 'organization_id, last_used_at NULLS FIRST, id'),
    'ix_api_tokens_org_name': ('api_tokens', 'organization_id, lower(name) NULLS FIRST, id'),
    'ix_api_tokens_org_prefix': ('api_tokens', 'organization_id, prefix NULLS FIRST, id'),
    'ix_api_tokens_org_last_usage': (
        'api_tokens',
        'organization_id, last_used_method NULLS FIRST, last_used_path NULLS FIRST, id',
    ),
    'ix_users_org_lower_name': ('users', 'organization_id, lower(full_name) NULLS FIRST, id'),
}
ORIGINAL_INDEXES = {
    'ix_api_tokens_org_created': 'organization_id, created_at',
    'ix_api_tokens_org_last_used': 'organization_id, last_used_at',
    'ix_api_tokens_org_name': 'organization_id, lower(name)',
    'ix_api_tokens_org_prefix': 'organization_id, prefix',
    'ix_api_tokens_org_last_usage': 'organization_id, last_used_method, last_used_path',
    'ix_users_org_lower_name': 'organization_id, lower(full_name)',
}


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name, (table, columns) in POSTGRES_SORT_INDEXES.items():
            op.execute(f'DROP INDEX IF EXISTS {name}')
            op.execute(f'CREATE INDEX {name} ON {table} ({columns})')
        # Sorting by user walks owners in name order, then each owner's tokens by id.
        op.execute('CREATE INDEX ix_api_tokens_user_id_id ON api_tokens (user_id, id)')
        return
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.create_index(
        'ix_api_tokens_org_search',
        'api_tokens',
        ['organization_id', sa.text('lower(name)'), sa.text('lower(prefix)'), 'user_id'],
    )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_api_tokens_user_id_id')
        for name, (table, _columns) in POSTGRES_SORT_INDEXES.items():
            op.execute(f'DROP INDEX IF EXISTS {name}')
            op.execute(f'CREATE INDEX {name} ON {table} ({ORIGINAL_INDEXES[name]})')
        return
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.drop_index('ix_api_tokens_org_search', table_name='api_tokens')
