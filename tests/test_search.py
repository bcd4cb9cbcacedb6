"""Token search: the same matches on every database, answered by the database, always current.

Each token and each user carries its case-folded search text, written with it (models.py); the
search reads it through the engine's own index (token_listing.py). These tests drive it through
the API and the audit page, and change tokens and owners the ways other workers and processes do.
"""

import threading

import pytest
from conftest import (
    PASSWORD,
    auth_header,
    base_config,
    database,
    make_org,
    make_token,
    make_user,
    update_stored,
)
from reference import matches_search
from sqlalchemy import text

from tokenaudit import create_app
from tokenaudit.extensions import db
from tokenaudit.models import User, token_search_text


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


def test_a_search_finds_text_however_its_accents_were_encoded(client, admin):
    """A name typed on one system as é (one code point) and searched from another as e plus a
    combining accent (or the other way round) looks the same and must be found the same."""
    make_token(admin, "Cafe\u0301 export")  # decomposed, as macOS file names and some IMEs send
    make_token(admin, "Caf\u00e9 import")  # precomposed
    _, value = make_token(admin, "admin key")
    both = sorted(["Caf\u00e9 import", "Cafe\u0301 export"])
    assert search(client, value, "caf\u00e9") == both
    assert search(client, value, "CAFE\u0301") == both
    # Compatibility forms too: a full-width search finds the plain letters.
    assert search(client, value, "\uff25\uff38\uff30\uff2f\uff32\uff34") == ["Cafe\u0301 export"]


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

    # Another process through the models (as the app and its CLI write): the owner renamed.
    with create_app(base_config(database_url)).app_context():
        db.session.get(User, member.id).full_name = "Quentin Quill"
        db.session.commit()
    assert search(client, admin_value, "quentin") == ["nightly import"]
    assert search(client, admin_value, "bob builder") == []


def test_tokens_written_by_hand_written_sql_are_found_and_counted(client, admin):
    """Another program may write api_tokens directly: the search and its count follow (on
    PostgreSQL a trigger keeps token_search_rows, which the count reads)."""
    token, _ = make_token(admin, "cron job")
    _, admin_value = make_token(admin, "admin key")
    renamed = {"id": token.id, "text": token_search_text("nightly backup", token.prefix)}
    copied = {"id": token.id, "text": token_search_text("nightly restore", "tka_handmade")}
    with database():
        db.session.execute(
            text(
                "UPDATE api_tokens SET name = 'nightly backup', search_text = :text WHERE id = :id"
            ),
            renamed,
        )
        db.session.execute(
            text(
                "INSERT INTO api_tokens (user_id, organization_id, name, prefix, digest,"
                " created_at, search_text) SELECT user_id, organization_id, 'nightly restore',"
                " 'tka_handmade', 'not a digest', created_at, :text FROM api_tokens WHERE id = :id"
            ),
            copied,
        )
        db.session.commit()
    assert search(client, admin_value, "nightly") == ["nightly backup", "nightly restore"]
    assert search(client, admin_value, "cron") == []
    with database():
        db.session.execute(text("DELETE FROM api_tokens WHERE name = 'nightly backup'"))
        db.session.commit()
    assert search(client, admin_value, "nightly") == ["nightly restore"]


def test_a_token_moved_to_another_owner_by_hand_written_sql_is_searched_as_the_new_owners(
    client, org, admin
):
    """A program that hands a token to another member writes api_tokens.user_id only: the search
    and its count then go by the new owner (on PostgreSQL token_search_rows follows too)."""
    old = make_user(org, "olga.old@acme.test", "Olga Oldowner")
    new = make_user(org, "nina.new@acme.test", "Nina Newowner")
    token, _ = make_token(old, "handed over")
    _, admin_value = make_token(admin, "admin key")
    with database():
        db.session.execute(
            text("UPDATE api_tokens SET user_id = :user WHERE id = :id"),
            {"user": new.id, "id": token.id},
        )
        db.session.commit()
    assert search(client, admin_value, "newowner") == ["handed over"]
    assert search(client, admin_value, "oldowner") == []
    response = client.get(
        "/api/v2/organization/tokens/",
        query_string={"q": "handed", "owner": new.id},
        headers=auth_header(admin_value),
    )
    assert response.json["count"] == 1
    assert [t["name"] for t in response.json["tokens"]] == ["handed over"]


def test_a_token_moved_to_another_organization_by_hand_written_sql_is_searched_there_only(
    client, admin
):
    """The same for an organization: the token is found and counted by its new organization's
    searches, and no longer by its old one's."""
    token, _ = make_token(admin, "migrated job")
    _, admin_value = make_token(admin, "admin key")
    other = make_org("Other Org")
    other_admin = make_user(other, "root@other.test", "Other Root", superuser=True)
    _, other_value = make_token(other_admin, "other key")
    with database():
        db.session.execute(
            text("UPDATE api_tokens SET organization_id = :org, user_id = :user WHERE id = :id"),
            {"org": other.id, "user": other_admin.id, "id": token.id},
        )
        db.session.commit()
    assert search(client, other_value, "migrated") == ["migrated job"]
    assert search(client, admin_value, "migrated") == []


def test_a_renamed_owner_is_found_by_the_new_name_at_once_and_not_by_the_old(client, org, admin):
    """Owners' names are searched from their own row: one update, seen by the next search."""
    _, admin_value = make_token(admin, "admin script")
    owner = make_user(org, "dana@acme.test", "Dana Old")
    for number in range(3):
        make_token(owner, f"job {number}")
    assert search(client, admin_value, "dana old") == ["job 0", "job 1", "job 2"]
    update_stored(owner, full_name="Dana Neuwald", email="dana.n@acme.test")
    assert search(client, admin_value, "NEUWALD") == ["job 0", "job 1", "job 2"]
    assert search(client, admin_value, "dana.n@") == ["job 0", "job 1", "job 2"]
    assert search(client, admin_value, "dana old") == []


def test_counts_follow_creates_and_revokes_from_any_worker(client, database_url, admin, member):
    """The unfiltered total is kept, not counted: it must follow every create and revoke."""
    _, admin_value = make_token(admin, "admin script")

    def total() -> int:
        listing = client.get("/api/v2/organization/tokens/", headers=auth_header(admin_value))
        return listing.json["count"]

    other = create_app(base_config(database_url)).test_client()
    values = []
    for number in range(3):
        created = other.post(
            "/api/v2/api-token-auth/",
            json={"username": member.email, "password": PASSWORD, "name": f"t{number}"},
        )
        values.append(created.json["token"])
    assert total() == 4
    own = other.get("/api/v2/tokens/", headers=auth_header(values[0])).json["tokens"]
    assert (
        other.delete(f"/api/v2/tokens/{own[0]['id']}/", headers=auth_header(values[0])).status_code
        == 204
    )
    assert total() == 3
    # A revoke that finds the token already gone changes nothing.
    response = client.delete(
        f"/api/v2/organization/tokens/{own[0]['id']}/", headers=auth_header(admin_value)
    )
    assert response.status_code == 404
    assert total() == 3


QUERIES = ["job", "JOB 1", "tka_", "b", "builder", "bob@", "7", "zz-none", "Ø"]


def test_search_agrees_with_a_plain_filter(client, org, admin, member):
    """Common, rare, short and one-character searches find what a casefold filter finds."""
    admin_token, admin_value = make_token(admin, "admin script")
    tokens = [admin_token] + [make_token(member, f"job {i}")[0] for i in range(12)]
    tokens += [make_token(admin, f"Øvelse {i}")[0] for i in range(3)]
    for q in QUERIES:
        expected = sorted(t.name for t in tokens if matches_search(t, q))
        assert search(client, admin_value, q) == expected, q


def test_each_organization_searches_only_its_own_tokens(client, admin, member):
    _, admin_value = make_token(admin, "admin script")
    make_token(member, "shared name")
    other_org = make_org("Globex")
    make_token(make_user(other_org, "eve@globex.test", "Eve"), "shared name")
    assert search(client, admin_value, "shared") == ["shared name"]
    assert search(client, admin_value, "eve") == []


def test_searching_an_organization_without_tokens_finds_none(admin_client):
    page = admin_client.htmx_get("/tokens", query_string={"q": "anything"})
    assert page.status_code == 200
    assert "No tokens match “<bdi>anything</bdi>”." in page.get_data(as_text=True)


def test_tokens_created_at_once_are_each_counted(client, database_url, admin, member):
    """Two clients creating tokens at the same moment: the kept total loses none of them."""
    _, admin_value = make_token(admin, "admin script")
    workers = [create_app(base_config(database_url)).test_client() for _ in range(2)]
    start = threading.Barrier(len(workers))
    answers: list[int] = []
    email = member.email

    def create_tokens(worker) -> None:
        start.wait()
        for number in range(8):
            answers.append(
                worker.post(
                    "/api/v2/api-token-auth/",
                    json={"username": email, "password": PASSWORD, "name": f"burst {number}"},
                ).status_code
            )

    threads = [threading.Thread(target=create_tokens, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 16
    listing = client.get("/api/v2/organization/tokens/", headers=auth_header(admin_value)).json
    assert listing["count"] == 17
    assert (
        client.get(
            "/api/v2/organization/tokens/",
            query_string={"q": "burst"},
            headers=auth_header(admin_value),
        ).json["count"]
        == 16
    )


def test_a_rotated_token_is_found_by_its_new_prefix_and_no_longer_by_the_old(client, admin):
    token, value = make_token(admin, "deploy key")
    _, admin_value = make_token(admin, "admin key")
    old_prefix = token.prefix
    rotated = client.post(f"/api/v2/tokens/{token.id}/rotate/", headers=auth_header(value))
    assert rotated.status_code == 200
    new_prefix = rotated.json["prefix"]
    assert search(client, admin_value, new_prefix.lower()) == ["deploy key"]
    assert search(client, admin_value, old_prefix.lower()) == []
