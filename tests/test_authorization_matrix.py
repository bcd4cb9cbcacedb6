"""Every route against every kind of caller: the expected status, and no change when refused.

Callers: anonymous, a member without "Can create and manage personal API tokens", a holder of
that permission (Bob, who owns the target token), a superuser of another organization, and a
superuser of Bob's organization.
"""

import re
from dataclasses import dataclass

import pytest
from conftest import (
    PASSWORD,
    auth_header,
    database_snapshot,
    make_org,
    make_token,
    make_user,
    update_stored,
)

ROLES = ["anonymous", "no_permission", "holder", "other_org_superuser", "superuser"]
REFUSED = {400, 401, 403, 404, 415}
# Authenticating records the token's use (SPEC section 7) even when the endpoint then refuses.
USAGE_COLUMNS = frozenset(
    f"api_tokens.{c}"
    for c in ("last_used_at", "last_used_method", "last_used_path", "last_used_ip")
)


@dataclass
class Cast:
    """The people and the things they reach for."""

    emails: dict[str, str]
    values: dict[str, str]  # each signed-in role's own API token
    member_id: int
    token_id: int  # Bob's token


@pytest.fixture
def cast(org) -> Cast:
    bob = make_user(org, "bob@acme.test", "Bob Builder")
    people = {
        "no_permission": make_user(org, "nora@acme.test", "Nora"),
        "holder": bob,
        "other_org_superuser": make_user(make_org("Other"), "olga@other.test", superuser=True),
        "superuser": make_user(org, "carol@acme.test", "Carol Admin", superuser=True),
    }
    values = {role: make_token(user, f"{role} script")[1] for role, user in people.items()}
    update_stored(people["no_permission"], can_manage_tokens=False)  # her token stays, blocked
    target, _ = make_token(bob, "Bob's deploy")
    return Cast(
        emails={role: user.email for role, user in people.items()},
        values=values,
        member_id=bob.id,
        token_id=target.id,
    )


# (method, path, form data, status for: anonymous, no permission, holder, other org, superuser)
PAGES = [
    ("GET", "/", None, (302, 200, 200, 200, 200)),
    ("GET", "/team", None, (302, 403, 403, 200, 200)),
    ("GET", "/team/{member}", None, (302, 403, 403, 404, 200)),
    ("POST", "/team/{member}", {"is_superuser": "y", "is_active": "y"}, (302, 403, 403, 404, 302)),
    ("GET", "/tokens", None, (302, 403, 403, 200, 200)),
    ("GET", "/tokens/{token}/revoke", None, (302, 403, 403, 404, 200)),
    ("POST", "/tokens/{token}/revoke", {}, (302, 403, 403, 404, 302)),
    ("GET", "/tokens.csv", None, (302, 403, 403, 200, 200)),
    # Another organization's token is not theirs to see: an empty confirmation, and nothing
    # revoked (test_bulk_revoke.py shows it stays).
    ("GET", "/tokens/revoke?ids={token}", None, (302, 403, 403, 200, 200)),
    ("POST", "/tokens/revoke", {"ids": "{token}"}, (302, 403, 403, 302, 302)),
    ("GET", "/profile/tokens", None, (302, 403, 200, 200, 200)),
    ("POST", "/profile/tokens", {"name": "new one"}, (302, 403, 200, 200, 200)),
    ("GET", "/profile/tokens/{token}/revoke", None, (302, 403, 200, 404, 404)),
    ("POST", "/profile/tokens/{token}/revoke", {}, (302, 403, 302, 404, 404)),
    ("GET", "/profile/tokens/{token}/rotate", None, (302, 403, 200, 404, 404)),
    ("POST", "/profile/tokens/{token}/rotate", {}, (302, 403, 200, 404, 404)),
    ("GET", "/settings", None, (302, 403, 403, 200, 200)),
    (
        "POST",
        "/settings",
        {"max_token_lifetime_days": "9", "default_token_lifetime_days": "9"},
        (302, 403, 403, 302, 302),
    ),
    ("GET", "/reauthenticate", None, (302, 200, 200, 200, 200)),
    ("POST", "/reauthenticate", {"password": PASSWORD}, (302, 302, 302, 302, 302)),
    ("POST", "/reauthenticate", {"password": "not it"}, (302, 400, 400, 400, 400)),
    ("GET", "/activity", None, (302, 200, 200, 200, 200)),
    ("GET", "/activity.csv", None, (302, 200, 200, 200, 200)),
    ("POST", "/logout", {}, (302, 302, 302, 302, 302)),
    ("GET", "/sessions", None, (302, 200, 200, 200, 200)),
    ("POST", "/sessions/revoke", {}, (302, 302, 302, 302, 302)),
]
# (method, path, status for: anonymous, no permission, holder, other org, superuser)
API = [
    ("GET", "/api/v2/me/", (401, 401, 200, 200, 200)),
    ("GET", "/api/v2/tokens/", (401, 401, 200, 200, 200)),
    ("DELETE", "/api/v2/tokens/{token}/", (401, 401, 204, 404, 404)),
    ("POST", "/api/v2/tokens/{token}/rotate/", (401, 401, 200, 404, 404)),
    ("GET", "/api/v2/organization/tokens/", (401, 401, 403, 200, 200)),
    ("DELETE", "/api/v2/organization/tokens/{token}/", (401, 401, 403, 404, 204)),
    # Without a JSON body (test_bulk_revoke.py sends one).
    ("POST", "/api/v2/organization/tokens/revoke/", (401, 401, 403, 415, 415)),
]


def cases(table: list) -> list:
    return [
        pytest.param(*route, role, statuses[index], id=f"{route[0]} {route[1]} as {role}")
        for *route, statuses in table
        for index, role in enumerate(ROLES)
    ]


def fill(path: str, cast: Cast) -> str:
    return path.format(member=cast.member_id, token=cast.token_id)


@pytest.mark.parametrize("method, path, data, role, expected", cases(PAGES))
def test_pages(client, cast, method, path, data, role, expected):
    if role != "anonymous":
        client.sign_in(cast.emails[role])
    before = database_snapshot()
    if method == "GET":
        response = client.get(fill(path, cast))
    else:
        response = client.submit(fill(path, cast), {k: fill(v, cast) for k, v in data.items()})
    assert response.status_code == expected
    if role == "anonymous":
        assert response.headers["Location"].startswith("/login")
    # Pages never change anything on GET; a refused POST (or one sent to sign in) neither.
    if method == "GET" or expected in REFUSED or role == "anonymous":
        assert database_snapshot() == before


@pytest.mark.parametrize("method, path, role, expected", cases(API))
def test_api(client, cast, method, path, role, expected):
    headers = auth_header(cast.values[role]) if role != "anonymous" else {}
    before = database_snapshot(USAGE_COLUMNS)
    response = client.open(fill(path, cast), method=method, headers=headers)
    assert response.status_code == expected
    assert response.is_json or expected == 204
    if expected in REFUSED:
        assert database_snapshot(USAGE_COLUMNS) == before


@pytest.mark.parametrize("role, expected", list(zip(ROLES, (401, 403, 200, 200, 200), strict=True)))
def test_api_token_auth(client, cast, role, expected):
    email = cast.emails.get(role, "nobody@acme.test")
    before = database_snapshot()
    response = client.post(
        "/api/v2/api-token-auth/", json={"username": email, "password": PASSWORD}
    )
    assert response.status_code == expected
    if expected in REFUSED:
        assert database_snapshot() == before


def route_shape(path: str) -> str:
    """A path with its placeholders blanked and its query dropped, so that the matrix's
    `/tokens/{token}/revoke` and the app's `/tokens/<id:token_id>/revoke` compare equal."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", path.split("?")[0])


def test_every_route_is_in_the_matrix(app):
    """A new route, or a new method on a route, must be added above, with who may use it."""
    covered = {(method, route_shape(path)) for method, path, *_ in PAGES + API}
    covered.add(("POST", "/api/v2/api-token-auth/"))  # test_api_token_auth
    # Authenticated by a scanner's signature, never by a user: tests/test_secret_scanning.py.
    covered.add(("POST", "/api/v2/secret-scanning/"))
    missing = [
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ("static", "favicon", "auth.login")  # open to everyone
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        if (method, route_shape(rule.rule)) not in covered
    ]
    assert missing == []
