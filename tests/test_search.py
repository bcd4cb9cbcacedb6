"""Token search: the same matches on every database, from each worker's memory, always current.

The search is answered from a per-worker copy of the organization's searchable text
(tokenaudit/token_search.py), kept current by database triggers (migration 0004). These tests
drive it through the API and the audit page, and change tokens the ways other workers, other
processes and hand-written SQL do.
"""

import pytest
from conftest import PASSWORD, auth_header, base_config, make_org, make_token, make_user
from sqlalchemy import create_engine, text

from tokenaudit import create_app, token_search
from tokenaudit.extensions import db
from tokenaudit.token_search import SearchCache


@pytest.fixture
def searchable(org, admin):
    """Tokens whose name, prefix, owner name or owner email each match different searches."""
    zoe = make_user(org, "zoe.quartz@acme.test", "Zoë Müller")
    make_token(zoe, "Nightly EXPORT")
    make_token(admin, "100% coverage_bot")
    prefix_token, _ = make_token(admin, "plain")
    make_token(admin, "Straße ÅSA")
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
    assert search(client, value, "mÜLLER") == ["Nightly EXPORT"]
    assert search(client, value, "QUARTZ@") == ["Nightly EXPORT"]
    assert search(client, value, searchable["prefix"].lower()) == ["plain"]
    # % and _ are literal characters, not wildcards.
    assert search(client, value, "100%") == ["100% coverage_bot"]
    assert search(client, value, "e_b") == ["100% coverage_bot"]
    assert search(client, value, "no such thing") == []


def test_search_folds_case_across_unicode_on_every_database(client, searchable):
    value = searchable["admin_value"]
    assert search(client, value, "åsa") == ["Straße ÅSA"]
    assert search(client, value, "STRASSE") == ["Straße ÅSA"]
    assert search(client, value, "ZOË") == ["Nightly EXPORT"]


def test_each_token_is_listed_once_when_several_columns_match(client, org, admin):
    owner = make_user(org, "alpha@acme.test", "Alpha")
    make_token(owner, "alpha deploy")
    _, value = make_token(admin, "admin key")
    assert search(client, value, "alpha") == ["alpha deploy"]


def test_a_search_sees_what_another_worker_and_hand_written_sql_changed(
    client, database_url, admin, member
):
    _, admin_value = make_token(admin, "admin script")
    make_token(member, "nightly export")
    assert search(client, admin_value, "nightly") == ["nightly export"]  # this worker's copy

    # Another worker: its own app, its own copy, the same database.
    other = create_app(base_config(database_url)).test_client()
    created = other.post(
        "/api/v2/api-token-auth/",
        json={"username": member.email, "password": PASSWORD, "name": "nightly import"},
    )
    assert created.status_code == 200
    assert search(client, admin_value, "nightly") == ["nightly export", "nightly import"]

    own = other.get("/api/v2/tokens/", headers=auth_header(created.json["token"])).json
    revoked = next(t for t in own["tokens"] if t["name"] == "nightly export")
    response = other.delete(
        f"/api/v2/organization/tokens/{revoked['id']}/", headers=auth_header(admin_value)
    )
    assert response.status_code == 204
    assert search(client, admin_value, "nightly") == ["nightly import"]

    # Another process, by hand: the owner renamed, a token renamed.
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET full_name = 'Quentin Quill' WHERE id = :id"), {"id": member.id}
        )
        connection.execute(
            text("UPDATE api_tokens SET name = 'weekly import' WHERE name = 'nightly import'")
        )
    engine.dispose()
    assert search(client, admin_value, "quentin") == ["weekly import"]
    assert search(client, admin_value, "nightly") == []
    assert search(client, admin_value, "bob builder") == []


def test_recording_usage_keeps_the_copy_current(client, admin, member, monkeypatch):
    """Every API request records its token's last use; that must not make the next search
    rebuild the organization's copy (it is not searched)."""
    _, admin_value = make_token(admin, "admin script")
    make_token(member, "nightly export")
    loads = []
    real_load = token_search._load
    monkeypatch.setattr(token_search, "_load", lambda *a: loads.append(a) or real_load(*a))
    for _ in range(3):
        assert client.get("/api/v2/me/", headers=auth_header(admin_value)).status_code == 200
        assert search(client, admin_value, "nightly") == ["nightly export"]
    assert len(loads) == 1
    make_token(member, "nightly import")
    assert search(client, admin_value, "nightly") == ["nightly export", "nightly import"]
    assert len(loads) == 2


def test_separator_characters_written_by_hand_do_not_shift_other_tokens(client, admin, member):
    """The copy joins every token's text with control characters; the app refuses them in
    names, but a name written by hand may hold them and must not misplace any other token."""
    _, admin_value = make_token(admin, "admin script")
    for name in ("first", "second", "third"):
        make_token(member, name)
    db.session.execute(
        text("UPDATE api_tokens SET name = :name WHERE name = 'second'"),
        {"name": f"sec{token_search.TOKEN_END}ond{token_search.FIELD_END}x"},
    )
    db.session.commit()
    assert search(client, admin_value, "third") == ["third"]
    assert search(client, admin_value, "first") == ["first"]
    assert search(client, admin_value, "sec") == [f"sec{token_search.TOKEN_END}ond\x1fx"]


QUERIES = ["job", "JOB 1", "tka_", "b", "builder", "bob@", "7", "zz-none", "Ø"]


@pytest.mark.parametrize("sparse_share", [0.0, 1.0], ids=["scan-each-text", "find-in-one-string"])
def test_both_ways_of_finding_agree_with_a_plain_filter(
    client, org, admin, member, monkeypatch, sparse_share
):
    """Rare searches find each occurrence in one long string, common ones test every token's
    text, and searches that match most tokens pass the others' ids: all must find the same."""
    monkeypatch.setattr(token_search, "SPARSE_SHARE", sparse_share)
    admin_token, admin_value = make_token(admin, "admin script")
    tokens = [admin_token] + [make_token(member, f"job {i}")[0] for i in range(12)]
    tokens += [make_token(admin, f"Øvelse {i}")[0] for i in range(3)]
    for q in QUERIES:
        needle = q.casefold()
        expected = sorted(
            t.name
            for t in tokens
            if needle in t.name.casefold()
            or needle in t.prefix.casefold()
            or needle in t.owner.full_name.casefold()
            or needle in t.owner.email.casefold()
        )
        assert search(client, admin_value, q) == expected, q


def test_each_organization_searches_only_its_own_tokens(client, admin, member):
    _, admin_value = make_token(admin, "admin script")
    make_token(member, "shared name")
    other_org = make_org("Globex")
    make_token(make_user(other_org, "eve@globex.test", "Eve"), "shared name")
    assert search(client, admin_value, "shared") == ["shared name"]
    assert search(client, admin_value, "eve") == []


def test_the_cache_keeps_a_bounded_number_of_tokens(app, admin, member):
    """Memory: least recently searched organizations are dropped past the bound."""
    make_token(member, "one")
    make_token(member, "two")
    other_org = make_org("Globex")
    make_token(make_user(other_org, "eve@globex.test", "Eve"), "three")
    cache = SearchCache(max_tokens=2)
    assert cache.searchable(admin.organization_id).find("one").count == 1
    assert cache.searchable(other_org.id).find("three").count == 1
    assert list(cache._entries) == [other_org.id]


def test_searching_an_organization_without_tokens_finds_none(admin_client):
    page = admin_client.htmx_get("/tokens", query_string={"q": "anything"})
    assert page.status_code == 200
    assert "No tokens match “<bdi>anything</bdi>”." in page.get_data(as_text=True)
