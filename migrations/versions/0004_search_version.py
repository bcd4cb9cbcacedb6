"""Search from memory: organizations.search_version, bumped by triggers; search indexes dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:30:00

The audit page's substring search is answered from each worker's memory
(tokenaudit/token_search.py). A worker knows its copy is current by comparing
`organizations.search_version` with the version it copied. Triggers bump the version whenever
what a search reads changes: a token created, deleted or renamed, an owner's name or email
changed. In the database, not the application, so no write path (CLI, seed, a hand-written
UPDATE) can forget it. Recording a token's last use does not bump it.

SQLite runs row triggers that add one to the version. PostgreSQL runs statement triggers for
INSERT and DELETE and row triggers for UPDATE (which cannot both name columns and see the changed
rows as a table), and sets the version to the changing transaction's id instead of adding one:
every UPDATE of a row leaves a new row version behind, and a transaction inserting 100,000
tokens one statement each (the seed) made each UPDATE walk all the earlier ones (the seed did
not finish in 5 minutes). With the transaction id, only the transaction's first change updates
the row; the rest find it already set. Either way the version differs after every committed
change, which is all a worker compares.

A worker builds its copy from one index, in its order (owner by owner), without reading the
table: ix_api_tokens_searched. The indexes the database's own searches read (pg_trgm, migration
0002; SQLite's search index, migration 0003) have no reader any more and are dropped; downgrade
builds them again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SEARCHED_TOKEN_COLUMNS = ('name', 'prefix', 'user_id', 'organization_id')
SEARCHED_USER_COLUMNS = ('full_name', 'email', 'organization_id')
TRIGRAM_INDEXES = [
    ('ix_api_tokens_name_trgm', 'api_tokens', 'name'),
    ('ix_api_tokens_prefix_trgm', 'api_tokens', 'prefix'),
    ('ix_users_full_name_trgm', 'users', 'full_name'),
    ('ix_users_email_trgm', 'users', 'email'),
]
SQLITE_BUMP = 'UPDATE organizations SET search_version = search_version + 1 WHERE id IN ({ids})'
POSTGRES_BUMP = (
    'UPDATE organizations SET search_version = pg_current_xact_id()::text::bigint '
    'WHERE id IN ({ids}) AND search_version <> pg_current_xact_id()::text::bigint'
)


# trigger name: (table, event)
TRIGGERS = {
    'tr_api_tokens_search_insert': ('api_tokens', 'INSERT'),
    'tr_api_tokens_search_delete': ('api_tokens', 'DELETE'),
    'tr_api_tokens_search_update': (
        'api_tokens', f'UPDATE OF {", ".join(SEARCHED_TOKEN_COLUMNS)}'
    ),
    'tr_users_search_update': ('users', f'UPDATE OF {", ".join(SEARCHED_USER_COLUMNS)}'),
}


def _sqlite_trigger(table: str, event: str) -> str:
    rows = {'INSERT': 'NEW.organization_id', 'DELETE': 'OLD.organization_id'}
    ids = rows.get(event, 'OLD.organization_id, NEW.organization_id')
    return f'AFTER {event} ON {table} BEGIN {SQLITE_BUMP.format(ids=ids)}; END'


def _changed(columns: tuple[str, ...]) -> str:
    return ' OR '.join(f'OLD.{c} IS DISTINCT FROM NEW.{c}' for c in columns)


POSTGRES_FUNCTIONS = {
    # Statement triggers: the inserted or deleted rows are the transition table `changed_rows`.
    'bump_search_version_of_changed_rows': POSTGRES_BUMP.format(
        ids='SELECT organization_id FROM changed_rows'
    ),
    # Row triggers on UPDATE: a row that moved organization changes both.
    'bump_search_version_of_row': POSTGRES_BUMP.format(
        ids='OLD.organization_id, NEW.organization_id'
    ),
}


def _postgres_trigger(table: str, event: str) -> str:
    if event in ('INSERT', 'DELETE'):
        rows = 'NEW' if event == 'INSERT' else 'OLD'
        return (
            f'AFTER {event} ON {table} REFERENCING {rows} TABLE AS changed_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION bump_search_version_of_changed_rows()'
        )
    columns = SEARCHED_TOKEN_COLUMNS if table == 'api_tokens' else SEARCHED_USER_COLUMNS
    return (
        f'AFTER {event} ON {table} FOR EACH ROW WHEN ({_changed(columns)}) '
        'EXECUTE FUNCTION bump_search_version_of_row()'
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(
            sa.Column('search_version', sa.BigInteger(), nullable=False, server_default='0')
        )
    op.create_index(
        'ix_api_tokens_searched', 'api_tokens', ['organization_id', 'user_id', 'name', 'prefix']
    )
    if dialect == 'postgresql':
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(
                f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS '
                f'$$ BEGIN {body}; RETURN NULL; END $$'
            )
        for name, (table, event) in TRIGGERS.items():
            op.execute(f'CREATE TRIGGER {name} {_postgres_trigger(table, event)}')
        for name, _table, _column in TRIGRAM_INDEXES:
            op.execute(f'DROP INDEX IF EXISTS {name}')
    elif dialect == 'sqlite':
        for name, (table, event) in TRIGGERS.items():
            op.execute(f'CREATE TRIGGER {name} {_sqlite_trigger(table, event)}')
        op.drop_index('ix_api_tokens_org_search', table_name='api_tokens')


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for name, table, column in TRIGRAM_INDEXES:
            op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)')
        for name, (table, _event) in TRIGGERS.items():
            op.execute(f'DROP TRIGGER {name} ON {table}')
        for name in POSTGRES_FUNCTIONS:
            op.execute(f'DROP FUNCTION {name}()')
    elif dialect == 'sqlite':
        op.create_index(
            'ix_api_tokens_org_search',
            'api_tokens',
            ['organization_id', sa.text('lower(name)'), sa.text('lower(prefix)'), 'user_id'],
        )
        for name in TRIGGERS:
            op.execute(f'DROP TRIGGER {name}')
    op.drop_index('ix_api_tokens_searched', table_name='api_tokens')
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('search_version')
