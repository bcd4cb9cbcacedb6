"""Token search: the same matches on every database, and indexed on PostgreSQL (migration 0002)."""

import pytest
from conftest import TEST_DATABASE_URL, auth_header, make_token, make_user
from sqlalchemy import event, text

from tokenaudit.extensions import db
from tokenaudit.token_listing import TokenListParams, find_org_tokens

TRIGRAM_INDEXES = {
    "ix_api_tokens_name_trgm",
    "ix_api_tokens_prefix_trgm",
    "ix_users_full_name_trgm",
    "ix_users_email_trgm",
}


@pytest.fixture
def searchable(org, admin):
    """Tokens whose name, prefix, owner name or owner email each match different searches."""
    zoe = make_user(org, "zoe.quartz@acme.test", "Zoë Müller")
    make_token(zoe, "Nightly EXPORT")
    make_token(admin, "100% coverage_bot")
    prefix_token, _ = make_token(admin, "plain")
    _, admin_value = make_token(admin, "admin key")
    return {"admin_value": admin_value, "prefix": prefix_token.prefix}


def search(client, value: str, q: str) -> list[str]:
    response = client.get(
        "/api/v2/organization/tokens/", query_string={"q": q}, headers=auth_header(value)
    )
    assert response.status_code == 200
    assert response.json["count"] == len(response.json["tokens"])
    return sorted(token["name"] for token in response.json["tokens"])


def test_search_matches_name_prefix_owner_name_and_email_in_any_case(client, searchable):
    value = searchable["admin_value"]
    assert search(client, value, "nightly export") == ["Nightly EXPORT"]
    # Non-ASCII: SQLite's lower() folds ASCII only, so the same case here.
    assert search(client, value, "Müller") == ["Nightly EXPORT"]
    assert search(client, value, "QUARTZ@") == ["Nightly EXPORT"]
    assert search(client, value, searchable["prefix"].lower()) == ["plain"]
    # % and _ are literal characters, not wildcards.
    assert search(client, value, "100%") == ["100% coverage_bot"]
    assert search(client, value, "e_b") == ["100% coverage_bot"]
    assert search(client, value, "no such thing") == []


def test_each_token_is_listed_once_when_several_columns_match(client, org, admin):
    owner = make_user(org, "alpha@acme.test", "Alpha")
    make_token(owner, "alpha deploy")
    _, value = make_token(admin, "admin key")
    assert search(client, value, "alpha") == ["alpha deploy"]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="trigram indexes exist on PostgreSQL only")
def test_migrations_create_the_trigram_indexes(app):
    names = set(db.session.scalars(text("SELECT indexname FROM pg_indexes")))
    assert names >= TRIGRAM_INDEXES


def explain_search(organization_id: int, q: str) -> str:
    """PostgreSQL's plan for the query that finds the search's matches."""
    statements = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        find_org_tokens(organization_id, TokenListParams(q=q))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = next(s for s in statements if " ILIKE " in s[0])
    with db.session.connection().connection.dbapi_connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="trigram indexes exist on PostgreSQL only")
def test_search_reads_the_trigram_indexes_on_a_large_organization(app):
    from tokenaudit.demo import seed_demo_organization

    seed_demo_organization(users=3000, tokens_per_user=4)
    db.session.commit()
    # What autovacuum does in production: move new rows out of the GIN pending lists, gather stats.
    for name in TRIGRAM_INDEXES:
        db.session.execute(
            text("SELECT gin_clean_pending_list(CAST(:name AS regclass))"), {"name": name}
        )
    db.session.execute(text("ANALYZE"))
    organization_id = db.session.scalar(text("SELECT id FROM organizations"))
    # A rare substring: each branch of the search should read its own table's trigram indexes
    # rather than scan every row (an OR across the token/owner join could not).
    plan = explain_search(organization_id, "zqxj")
    assert {name for name in TRIGRAM_INDEXES if name in plan} == TRIGRAM_INDEXES, plan
    assert "Seq Scan" not in plan.split("Append")[1], plan
