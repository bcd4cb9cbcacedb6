"""The token-authenticated JSON API (SPEC section 7)."""

from datetime import timedelta

import pytest
from conftest import (
    PASSWORD,
    auth_header,
    bad_checksum,
    count_queries,
    count_rows,
    make_org,
    make_token,
    make_user,
    reread,
    update_stored,
    wrong_secret,
)

from tokenaudit.models import ApiToken
from tokenaudit.tokens import generate_token


def get_me(client, value):
    return client.get("/api/v2/me/", headers=auth_header(value))


def assert_401(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.is_json and response.json["detail"]


def test_token_round_trip_create_use_show_usage_revoke(client, member):
    created = client.post(
        "/api/v2/api-token-auth/",
        json={"username": member.email, "password": PASSWORD, "name": "laptop"},
    )
    assert created.status_code == 200
    value = created.json["token"]
    assert created.json["name"] == "laptop" and created.json["prefix"] == value[:12]
    assert created.headers["Cache-Control"] == "private, no-store"

    me = get_me(client, value)
    assert me.status_code == 200
    assert me.json["email"] == member.email
    assert me.json["organization"]["name"] == "Acme"
    assert me.json["is_superuser"] is False

    listed = client.get("/api/v2/tokens/?secret=shh", headers=auth_header(value)).json["tokens"]
    assert [t["name"] for t in listed] == ["laptop"]
    assert listed[0]["last_used_method"] == "GET"
    assert listed[0]["last_used_path"] == "/api/v2/tokens/"  # never the query string
    assert "token" not in listed[0] and value not in str(listed)

    token_id = listed[0]["id"]
    assert (
        client.delete(f"/api/v2/tokens/{token_id}/", headers=auth_header(value)).status_code == 204
    )
    assert_401(get_me(client, value))


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_api_token_auth_refuses_anything_but_json_with_415(client, member, content_type):
    """A web page can post forms and text cross-site from its visitors' browsers, not JSON."""
    body = f"username={member.email}&password={PASSWORD}"
    response = client.post("/api/v2/api-token-auth/", data=body, content_type=content_type)
    assert response.status_code == 415
    assert "JSON" in response.json["detail"]
    assert count_rows(ApiToken) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bob@acme.test"},
        {"password": PASSWORD},
        {"username": 5, "password": PASSWORD},
        {"username": "bob@acme.test", "password": PASSWORD, "name": "x" * 101},
        {"username": "bob@acme.test", "password": PASSWORD, "name": "   "},
        ["bob@acme.test", PASSWORD],
        "just a string",
    ],
)
def test_api_token_auth_rejects_malformed_bodies_with_400(client, member, body):
    response = client.post("/api/v2/api-token-auth/", json=body)
    assert response.status_code == 400
    assert response.json["detail"]
    assert count_rows(ApiToken) == 0


def test_api_token_auth_rejects_invalid_json(client, member):
    response = client.post(
        "/api/v2/api-token-auth/", data=b"{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json["detail"]


def test_api_token_auth_wrong_credentials_get_one_generic_401(client, member):
    wrong_password = client.post(
        "/api/v2/api-token-auth/", json={"username": member.email, "password": "nope nope"}
    )
    unknown_user = client.post(
        "/api/v2/api-token-auth/", json={"username": "ghost@acme.test", "password": "nope nope"}
    )
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json == unknown_user.json


def test_api_token_auth_without_permission_is_403(client, org):
    user = make_user(org, "nora@acme.test", can_manage_tokens=False)
    response = client.post(
        "/api/v2/api-token-auth/", json={"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert count_rows(ApiToken) == 0


def test_api_token_auth_is_rate_limited(client, member):
    body = {"username": member.email, "password": "wrong wrong"}
    statuses = [client.post("/api/v2/api-token-auth/", json=body).status_code for _ in range(11)]
    assert statuses[-1] == 429
    blocked = client.post("/api/v2/api-token-auth/", json=body)
    assert blocked.status_code == 429 and blocked.is_json and "Retry-After" in blocked.headers


@pytest.fixture
def token_value(member):
    return make_token(member)[1]


@pytest.mark.parametrize(
    "make_header",
    [
        lambda value: None,
        lambda value: "Token",
        lambda value: "Token ",
        lambda value: f"Token  {value}",
        lambda value: f" Token {value}",
        lambda value: f"Token {value} ",
        lambda value: f"Bearer {value}",
        lambda value: f"Basic {value}",
        lambda value: value,
        lambda value: f"Token {bad_checksum(value)}",
        lambda value: f"Token {generate_token().value}",  # unknown prefix, valid checksum
        lambda value: "Token " + wrong_secret(value),  # right prefix, wrong secret
    ],
    ids=[
        "missing",
        "keyword-alone",
        "keyword-and-space",
        "two-spaces",
        "leading-space",
        "trailing-space",
        "bearer",
        "basic",
        "no-keyword",
        "bad-checksum",
        "unknown-prefix",
        "wrong-secret",
    ],
)
def test_every_malformed_or_wrong_authorization_header_gets_401(client, token_value, make_header):
    header = make_header(token_value)
    headers = {"Authorization": header} if header is not None else {}
    assert_401(client.get("/api/v2/me/", headers=headers))
    assert get_me(client, token_value).status_code == 200  # the real token still works


@pytest.mark.parametrize(
    "header",
    ["Token tka_" + "A" * 46, "Token tka_short", "Token " + "x" * 50, "Bearer abc", "Token"],
)
def test_malformed_tokens_are_refused_without_a_database_query(app, client, member, header):
    statements, stop = count_queries()
    try:
        response = client.get("/api/v2/me/", headers={"Authorization": header})
    finally:
        stop()
    assert response.status_code == 401
    assert statements == []


def test_a_good_token_is_checked_with_one_query(app, client, token_value):
    statements, stop = count_queries()
    try:
        client.get("/api/v2/tokens/", headers=auth_header(token_value))
    finally:
        stop()
    lookups = [s for s in statements if "api_tokens.prefix = " in s]
    assert len(lookups) == 1
    assert "JOIN users" in lookups[0]  # the owner comes with it, for the active/permission checks
    assert not any(s.startswith("SELECT users") for s in statements)


def test_permission_off_blocks_the_token_and_on_restores_it(client, member, token_value):
    update_stored(member, can_manage_tokens=False)
    assert_401(get_me(client, token_value))
    update_stored(member, can_manage_tokens=True)
    assert get_me(client, token_value).status_code == 200


def test_deactivated_owner_token_gets_401(client, member, token_value):
    update_stored(member, is_active=False)
    assert_401(get_me(client, token_value))


def test_every_request_records_time_method_and_path_exactly(client, member):
    token, value = make_token(member)
    assert token.last_used_at is None
    stamps = []
    for path in ("/api/v2/me/", "/api/v2/tokens/?page=2&q=secret", "/api/v2/me/"):
        client.get(path, headers=auth_header(value))
        token = reread(token)
        stamps.append((token.last_used_at, token.last_used_method, token.last_used_path))
    assert [s[2] for s in stamps] == ["/api/v2/me/", "/api/v2/tokens/", "/api/v2/me/"]
    assert stamps[0][0] <= stamps[1][0] <= stamps[2][0]
    assert stamps[0][0].tzinfo is not None
    client.delete("/api/v2/tokens/999999/", headers=auth_header(value))
    token = reread(token)
    assert (token.last_used_method, token.last_used_path) == ("DELETE", "/api/v2/tokens/999999/")


def test_a_use_timed_earlier_but_recorded_later_never_replaces_the_latest_use(
    client, member, clock
):
    """Two uses at once: the one whose time was read first can commit second (it waited for the
    row or SQLite's write lock; or its server's clock is a little behind). The token keeps its
    latest use, time, method and path together, instead of going back in time."""
    token, value = make_token(member)
    client.get("/api/v2/me/", headers=auth_header(value))
    token = reread(token)
    latest = (token.last_used_at, token.last_used_method, token.last_used_path)
    clock(timedelta(seconds=-2))  # the other request's time, read before this one's
    client.delete("/api/v2/tokens/999999/", headers=auth_header(value))
    token = reread(token)
    assert (token.last_used_at, token.last_used_method, token.last_used_path) == latest


def test_cannot_revoke_someone_elses_token_through_own_endpoint(client, org, member, token_value):
    other = make_user(org, "eve@acme.test")
    other_token, other_value = make_token(other)
    response = client.delete(f"/api/v2/tokens/{other_token.id}/", headers=auth_header(token_value))
    assert response.status_code == 404 and response.is_json
    assert get_me(client, other_value).status_code == 200


def test_api_errors_are_json_never_html(client, token_value):
    for response in (
        client.get("/api/v2/nope/", headers=auth_header(token_value)),
        client.post("/api/v2/me/", headers=auth_header(token_value)),
        client.get("/api/v2/nope/"),
    ):
        assert response.is_json, response.status_code
        assert response.status_code in (404, 405)


def test_api_ignores_session_cookies(client, admin, member):
    client.sign_in(admin.email)
    assert_401(client.get("/api/v2/me/"))


def test_organization_endpoints_need_a_superuser(client, member, token_value):
    assert (
        client.get("/api/v2/organization/tokens/", headers=auth_header(token_value)).status_code
        == 403
    )
    other_org_admin = make_user(make_org("Other"), "root@other.test", superuser=True)
    token, _ = make_token(member)
    _, admin_value = make_token(other_org_admin)
    response = client.delete(
        f"/api/v2/organization/tokens/{token.id}/", headers=auth_header(admin_value)
    )
    assert response.status_code == 404
    assert get_me(client, token_value).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v2/tokens/99999999999999999999/", "/api/v2/organization/tokens/2147483648/"]
)
def test_ids_too_large_for_the_database_are_404_not_500(client, admin, path):
    _, value = make_token(admin)
    response = client.delete(path, headers=auth_header(value))
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("username", ["bob\x00@acme.test", "\ud800@acme.test"])
def test_unstorable_characters_in_credentials_are_a_plain_401(client, member, username):
    response = client.post(
        "/api/v2/api-token-auth/", json={"username": username, "password": "x" * 10}
    )
    assert response.status_code == 401


def test_a_page_past_the_end_is_404_so_a_client_loop_stops(client, admin):
    for n in range(3):
        make_token(admin, f"t{n}")
    _, value = make_token(admin, "lister")
    pages = []
    for number in range(1, 10):
        response = client.get(
            f"/api/v2/organization/tokens/?page={number}", headers=auth_header(value)
        )
        if response.status_code != 200:
            break
        pages.append(response.get_json()["page"])
    assert pages == [1] and response.status_code == 404 and "detail" in response.get_json()


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "２", "1" * 5000])
def test_a_page_that_is_not_a_page_number_is_404(client, admin, page):
    """As Django REST framework: "Invalid page." A client counting from 0 must not be handed
    page 1 twice (attack 12)."""
    _, value = make_token(admin, "lister")
    response = client.get(f"/api/v2/organization/tokens/?page={page}", headers=auth_header(value))
    assert response.status_code == 404, page
    assert response.get_json()["detail"].startswith("Invalid page")
    first = client.get("/api/v2/organization/tokens/?page=01", headers=auth_header(value))
    assert first.status_code == 200 and first.get_json()["page"] == 1


def test_a_missing_trailing_slash_is_answered_in_json(client, token_value):
    response = client.get("/api/v2/me", headers=auth_header(token_value))
    assert response.status_code == 308 and response.is_json
    assert response.headers["Location"].endswith("/api/v2/me/")


def test_a_successful_token_exchange_has_no_retry_after(client, member):
    response = client.post(
        "/api/v2/api-token-auth/", json={"username": member.email, "password": PASSWORD}
    )
    assert response.status_code == 200 and "Retry-After" not in response.headers
