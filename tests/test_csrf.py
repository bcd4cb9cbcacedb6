"""CSRF: every state-changing page route answers 400 without a valid token, and changes nothing.

The app under test has CSRF protection on, as in production.
"""

import pytest
from conftest import PASSWORD, database_snapshot, make_token

ROUTES = {
    "/login": {"email": "carol@acme.test", "password": PASSWORD},
    "/logout": {},
    "/sessions/revoke": {},
    "/reauthenticate": {"password": PASSWORD},
    "/team/{member}": {"is_superuser": "y", "is_active": "y", "can_manage_tokens": "y"},
    "/tokens/{members_token}/revoke": {},
    "/tokens/revoke": {"ids": "{members_token}"},
    "/profile/tokens": {"name": "forged"},
    "/profile/tokens/{own_token}/revoke": {},
    "/profile/tokens/{own_token}/rotate": {},
    "/settings": {"max_token_lifetime_days": "1", "default_token_lifetime_days": "1"},
}


@pytest.fixture
def targets(admin, member) -> dict:
    return {
        "member": member.id,
        "members_token": make_token(member, "Bob's deploy")[0].id,
        "own_token": make_token(admin, "Carol's script")[0].id,
    }


def forged_tokens(make_client, member) -> dict:
    """What an attacker could send instead of the victim's token."""
    attacker = make_client()
    attacker.sign_in(member.email)
    return {
        "missing": None,
        "garbage": "not-a-csrf-token",
        "another session's": attacker.csrf_token(),
    }


@pytest.mark.parametrize("kind", ["missing", "garbage", "another session's"])
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("route", list(ROUTES))
def test_state_changing_route_without_valid_csrf_token_is_400_and_changes_nothing(
    admin_client, make_client, member, targets, route, htmx, kind
):
    token = forged_tokens(make_client, member)[kind]
    fields = {name: value.format(**targets) for name, value in ROUTES[route].items()}
    data = {**fields, **({"csrf_token": token} if token else {})}
    headers = {"HX-Request": "true"} if htmx else {}
    before = database_snapshot()

    response = admin_client.post(route.format(**targets), data=data, headers=headers)

    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert database_snapshot() == before
    assert admin_client.get("/").status_code == 200  # still signed in (logout refused too)


def test_every_state_changing_page_route_is_checked(app):
    """A new POST route must join ROUTES above."""
    checked = {route.split("{")[0] for route in ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or not rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        assert rule.rule.split("<")[0] in checked, rule.rule


def test_api_ignores_session_cookies_so_needs_no_csrf_token(admin_client, targets):
    """The API is exempt from CSRF because a cookie alone never authenticates it."""
    before = database_snapshot()
    response = admin_client.delete(f"/api/v2/organization/tokens/{targets['members_token']}/")
    assert response.status_code == 401 and response.is_json
    assert database_snapshot() == before
