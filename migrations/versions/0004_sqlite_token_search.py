"""SQLite: a trigram full-text index for the audit page's substring search.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 22:20:00

`LIKE '%q%'` reads every token of the organization: about 90 ms at 100,000 tokens, over the
50 ms target (docs/benchmarks.md). An FTS5 table with the trigram tokenizer answers a substring
of three or more characters from its index, in any case (Unicode case folding). Triggers keep it
in step with the tokens and their owners, so no application code has to remember it. Shorter
searches still use LIKE. PostgreSQL has pg_trgm (migration 0002) instead: nothing to do there.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# One row per token, rowid = api_tokens.id: what the search looks in.
SEARCH_COLUMNS = "name, prefix, owner_name, owner_email"
INSERT_FOR_TOKENS = """
    INSERT INTO token_search (rowid, name, prefix, owner_name, owner_email)
    SELECT t.id, t.name, t.prefix, u.full_name, u.email
    FROM api_tokens t JOIN users u ON u.id = t.user_id
"""


def upgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute(f"CREATE VIRTUAL TABLE token_search USING fts5({SEARCH_COLUMNS}, tokenize='trigram')")
    op.execute(INSERT_FOR_TOKENS)
    op.execute(f"""
        CREATE TRIGGER token_search_after_token_insert AFTER INSERT ON api_tokens BEGIN
            {INSERT_FOR_TOKENS} WHERE t.id = new.id;
        END
    """)
    op.execute("""
        CREATE TRIGGER token_search_after_token_delete AFTER DELETE ON api_tokens BEGIN
            DELETE FROM token_search WHERE rowid = old.id;
        END
    """)
    op.execute(f"""
        CREATE TRIGGER token_search_after_token_update AFTER UPDATE OF name, prefix, user_id
        ON api_tokens BEGIN
            DELETE FROM token_search WHERE rowid = old.id;
            {INSERT_FOR_TOKENS} WHERE t.id = new.id;
        END
    """)
    op.execute(f"""
        CREATE TRIGGER token_search_after_owner_update AFTER UPDATE OF full_name, email
        ON users BEGIN
            DELETE FROM token_search
            WHERE rowid IN (SELECT id FROM api_tokens WHERE user_id = new.id);
            {INSERT_FOR_TOKENS} WHERE t.user_id = new.id;
        END
    """)


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    for trigger in ('after_token_insert', 'after_token_delete', 'after_token_update',
                    'after_owner_update'):
        op.execute(f"DROP TRIGGER IF EXISTS token_search_{trigger}")
    op.execute("DROP TABLE IF EXISTS token_search")
