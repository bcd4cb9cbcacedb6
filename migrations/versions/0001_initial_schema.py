"""Initial schema: organizations, users, API tokens, activities, mail outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Nothing has been released, so the schema is one migration (the earlier 0002-0004 were folded
in; docs/benchmark-changes.md keeps their history). Add a new revision for each change from
the first release on.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('outbox_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=100), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_superuser', sa.Boolean(), nullable=False),
    sa.Column('can_manage_tokens', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_organization_id'), ['organization_id'], unique=False)

    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_org_created', ['organization_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activities_subject_created', ['subject_id', 'created_at'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_method', sa.String(length=10), nullable=True),
    sa.Column('last_used_path', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix'),
    # SQLite: AUTOINCREMENT, so the id of a revoked token is never given to a new one (SQLite
    # otherwise reuses the highest id after a delete, and a stale page or revoke would reach
    # the newcomer). PostgreSQL's sequences never reuse ids anyway.
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_api_tokens_org_created', ['organization_id', 'created_at'], unique=False)
        batch_op.create_index('ix_api_tokens_org_last_usage', ['organization_id', 'last_used_method', 'last_used_path'], unique=False)
        batch_op.create_index('ix_api_tokens_org_last_used', ['organization_id', 'last_used_at'], unique=False)
        batch_op.create_index('ix_api_tokens_org_prefix', ['organization_id', 'prefix'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    _natural_name_sort_key()
    # Case-insensitive sorting by token name and owner name reads these indexes.
    op.create_index('ix_api_tokens_org_name', 'api_tokens', ['organization_id', 'name_sort_key'])
    _user_sessions()
    _known_sign_in_addresses()
    op.create_index('ix_users_org_lower_name', 'users', ['organization_id', sa.text('lower(full_name)')])
    _sort_indexes_for_postgresql()
    _search_text_and_token_count()
    _token_lifetime()
    _last_used_ip()
    _status_filter_indexes()
    _rate_limit_counters()






# PostgreSQL: the page sorts `col ASC NULLS FIRST, id ASC` or `col DESC NULLS LAST, id DESC`
# (never-used tokens count as oldest). Built NULLS FIRST and ending with the id, each index reads
# forwards for one direction and backwards for the other. SQLite already walks its indexes so.
# name: (table, columns as PostgreSQL reads them in the page's order)
POSTGRES_SORT_INDEXES = {
    'ix_api_tokens_org_created': ('api_tokens', 'organization_id, created_at NULLS FIRST, id'),
    'ix_api_tokens_org_last_used': ('api_tokens', 'organization_id, last_used_at NULLS FIRST, id'),
    'ix_api_tokens_org_name': ('api_tokens', 'organization_id, name_sort_key NULLS FIRST, id'),
    'ix_api_tokens_org_prefix': ('api_tokens', 'organization_id, prefix NULLS FIRST, id'),
    'ix_api_tokens_org_last_usage': (
        'api_tokens',
        'organization_id, last_used_method NULLS FIRST, last_used_path NULLS FIRST, id',
    ),
    'ix_users_org_lower_name': ('users', 'organization_id, lower(full_name) NULLS FIRST, id'),
}


# Natural sort of token names ("job 2" before "job 10"): the key is written with the token by the
# app (tokenaudit.text.natural_sort_key), so the database sorts by it with an index.
def _natural_name_sort_key():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('name_sort_key', sa.String(length=500), nullable=False, server_default='')
        )


def _sort_indexes_for_postgresql():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, (table, columns) in POSTGRES_SORT_INDEXES.items():
        op.execute(f'DROP INDEX IF EXISTS {name}')
        op.execute(f'CREATE INDEX {name} ON {table} ({columns})')
    # Sorting by user walks owners in name order, then each owner's tokens by id.
    op.execute('CREATE INDEX ix_api_tokens_user_id_id ON api_tokens (user_id, id)')


# Search and totals (issue 11): each token's and each user's case-folded search text, written
# by the app with what it folds (models.py), the engine's own index on it, and each
# organization's exact token count, kept by the transactions that create and delete tokens.
def _search_text_and_token_count():
    op.add_column(
        'organizations',
        sa.Column('token_count', sa.BigInteger(), nullable=False, server_default='0'),
    )
    for table in ('users', 'api_tokens'):
        op.add_column(table, sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    if op.get_bind().dialect.name == 'postgresql':
        # A trusted extension: the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for name, table in SEARCH_TRIGRAM_INDEXES.items():
            op.execute(f'CREATE INDEX {name} ON {table} USING gin (search_text gin_trgm_ops)')
        _token_search_rows()
    else:
        # SQLite reads an organization's folded texts in one range of this narrow index.
        op.create_index(
            'ix_api_tokens_org_search', 'api_tokens', ['organization_id', 'search_text', 'user_id']
        )


# name: table
SEARCH_TRIGRAM_INDEXES = {'ix_users_search_trgm': 'users'}  # the tokens': token_search_rows


# PostgreSQL counts a search's matches in this narrow copy of each token's search text (models.py
# says why); the trigger writes it whoever writes api_tokens, the foreign key deletes it. Every
# column it copies fires it: a token handed to another owner by hand is searched as theirs.
def _token_search_rows():
    op.create_table('token_search_rows',
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id')
    )
    op.execute(
        'CREATE INDEX ix_token_search_rows_trgm ON token_search_rows '
        'USING gin (search_text gin_trgm_ops)'
    )
    op.create_index('ix_token_search_rows_user_id', 'token_search_rows', ['user_id'])
    op.execute('''
        CREATE FUNCTION write_token_search_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO token_search_rows (token_id, organization_id, user_id, search_text)
            VALUES (NEW.id, NEW.organization_id, NEW.user_id, NEW.search_text)
            ON CONFLICT (token_id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
                user_id = EXCLUDED.user_id, search_text = EXCLUDED.search_text;
            RETURN NULL;
        END $$''')
    op.execute('''
        CREATE TRIGGER api_tokens_search_row AFTER INSERT
        OR UPDATE OF search_text, user_id, organization_id ON api_tokens
        FOR EACH ROW EXECUTE FUNCTION write_token_search_row()''')


def _drop_search_text_and_token_count():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER api_tokens_search_row ON api_tokens')
        op.execute('DROP FUNCTION write_token_search_row()')
        op.drop_table('token_search_rows')
        for name in SEARCH_TRIGRAM_INDEXES:
            op.execute(f'DROP INDEX {name}')
    else:
        op.drop_index('ix_api_tokens_org_search', table_name='api_tokens')
    # The columns go with their tables, dropped next (a SQLite batch drop here would rebuild
    # the tables without their expression indexes).


# Issue 10, finding 4: sign-in budgets counted in the database every worker shares.
def _rate_limit_counters():
    op.create_table('rate_limit_counters',
    sa.Column('key_digest', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key_digest')
    )
    op.create_index(op.f('ix_rate_limit_counters_expires_at'), 'rate_limit_counters', ['expires_at'], unique=False)


def _drop_rate_limit_counters():
    op.drop_index(op.f('ix_rate_limit_counters_expires_at'), table_name='rate_limit_counters')
    op.drop_table('rate_limit_counters')


def _user_sessions():
    # Server-side sessions (SPEC 13): signing out deletes the row, so a copied cookie dies too.
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)


def _known_sign_in_addresses():
    # Addresses each user signed in from: exempt from the per-account sign-in budget (SPEC 13).
    op.create_table('known_sign_in_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('last_signed_in_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'address')
    )


# Issue 14: the client address of each token's last use (api_tokens.last_used_ip).
def _last_used_ip():
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('last_used_ip', sa.String(length=45), nullable=True))


# --- Issue 14, the status filters' speed: the indexes they count and list from (models.py). ---
USAGE_COLUMNS = ['organization_id', 'last_used_at', 'created_at', 'user_id', 'expires_at']


def _status_filter_indexes():
    # SQLite also holds the search text, so a search within a status reads this index alone.
    searched = ['search_text'] if op.get_bind().dialect.name == 'sqlite' else []
    op.create_index('ix_api_tokens_org_usage', 'api_tokens', USAGE_COLUMNS + searched)
    op.create_index(
        'ix_api_tokens_org_owner',
        'api_tokens',
        ['organization_id', 'user_id', 'last_used_at', 'expires_at'],
    )


def _drop_status_filter_indexes():
    op.drop_index('ix_api_tokens_org_owner', table_name='api_tokens')
    op.drop_index('ix_api_tokens_org_usage', table_name='api_tokens')
# --- end of the status filters' indexes ---


def _drop_sessions_and_known_addresses():
    op.drop_table('known_sign_in_addresses')
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')


# --- Token lifetime (issue 13, SPEC 10): expiry, the organization's policy, reminders. ---
def _token_lifetime():
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('max_token_lifetime_days', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('default_token_lifetime_days', sa.Integer(), nullable=True, server_default='90')
        )
    # Existing tokens keep NULL: they never expire until a policy says otherwise.
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    # The page sorts expiry as (expires_at IS NULL, expires_at, id): never-expiring tokens come
    # after every date in both directions, and one index reads forwards or backwards for each.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'CREATE INDEX ix_api_tokens_org_expires ON api_tokens '
            '(organization_id, (expires_at IS NULL) NULLS FIRST, expires_at NULLS FIRST, id)'
        )
    else:
        op.execute(
            'CREATE INDEX ix_api_tokens_org_expires ON api_tokens '
            '(organization_id, (expires_at IS NULL), expires_at)'
        )
    op.create_index('ix_api_tokens_expires_at', 'api_tokens', ['expires_at'])
    op.create_table('token_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_id', 'kind', 'expires_at')
    )


def _drop_token_lifetime():
    op.drop_table('token_reminders')
    op.drop_index('ix_api_tokens_expires_at', table_name='api_tokens')
    op.drop_index('ix_api_tokens_org_expires', table_name='api_tokens')
    # Plain ALTER TABLE (SQLite 3.35+): a batch copy of api_tokens would lose its triggers.
    op.execute('ALTER TABLE api_tokens DROP COLUMN expires_at')
    op.execute('ALTER TABLE organizations DROP COLUMN default_token_lifetime_days')
    op.execute('ALTER TABLE organizations DROP COLUMN max_token_lifetime_days')
# --- end of token lifetime ---


def downgrade():
    _drop_rate_limit_counters()
    # Issue 14's indexes hold expires_at, which _drop_token_lifetime drops.
    _drop_status_filter_indexes()
    _drop_token_lifetime()
    _drop_sessions_and_known_addresses()
    _drop_search_text_and_token_count()
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_api_tokens_user_id_id')

    op.drop_index('ix_users_org_lower_name', table_name='users')
    op.drop_index('ix_api_tokens_org_name', table_name='api_tokens')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('name_sort_key')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_index('ix_api_tokens_org_prefix')
        batch_op.drop_index('ix_api_tokens_org_last_used')
        batch_op.drop_index('ix_api_tokens_org_last_usage')
        batch_op.drop_index('ix_api_tokens_org_created')

    op.drop_table('api_tokens')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_subject_created')
        batch_op.drop_index('ix_activities_org_created')

    op.drop_table('activities')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_organization_id'))

    op.drop_table('users')
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_next')

    op.drop_table('outbox_emails')
    op.drop_table('organizations')

