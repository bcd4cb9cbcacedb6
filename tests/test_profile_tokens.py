"""Managing your API tokens on the profile (SPEC section 4)."""

import re
import time

from conftest import PASSWORD, auth_header, count_rows, make_token, make_user, reread, stored_rows

from tokenaudit.models import Activity, ApiToken
from tokenaudit.web.access import REAUTH_SESSION_KEY

VALUE_PATTERN = 'id="new-token-value"'


def test_tokens_tab_needs_the_password_entered_in_the_last_10_minutes(member_client):
    assert member_client.get("/profile/tokens").status_code == 200  # just signed in
    with member_client.session_transaction() as session:
        session[REAUTH_SESSION_KEY] = time.time() - 601
    response = member_client.get("/profile/tokens")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/reauthenticate?next=/profile/tokens")

    wrong = member_client.submit("/reauthenticate?next=/profile/tokens", {"password": "wrong one"})
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    right = member_client.submit("/reauthenticate?next=/profile/tokens", {"password": PASSWORD})
    assert right.headers["Location"] == "/profile/tokens"
    assert member_client.get("/profile/tokens").status_code == 200


def test_expired_reauthentication_on_htmx_request_redirects_the_window(member_client):
    with member_client.session_transaction() as session:
        session[REAUTH_SESSION_KEY] = 0
    response = member_client.htmx_get("/profile/tokens")
    assert response.headers["HX-Redirect"].startswith("/reauthenticate")


def test_create_token_shows_the_value_once(member_client, member):
    response = member_client.submit("/profile/tokens", {"name": "  Laptop  "})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert 'hx-history="false"' in page
    [token] = stored_rows(ApiToken)
    assert token.name == "Laptop"
    value = page.split(VALUE_PATTERN)[1].split('value="')[1].split('"')[0]
    assert value.startswith(token.prefix) and len(value) == 50
    assert "data-copy-from" in page

    # The value works against the API...
    assert member_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200
    # ...and a reload does not show it again.
    reloaded = member_client.get("/profile/tokens").get_data(as_text=True)
    assert value not in reloaded and VALUE_PATTERN not in reloaded
    assert token.prefix in reloaded and "GET /api/v2/me/" in re.sub(r"<[^>]+>", "", reloaded)

    [activity] = stored_rows(Activity, kind="token_created")
    assert value not in activity.message and activity.details["prefix"] == token.prefix


def test_create_token_by_htmx_returns_the_fragment(member_client):
    response = member_client.post(
        "/profile/tokens",
        data={"csrf_token": member_client.csrf_token(), "name": "CI"},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and VALUE_PATTERN in page
    assert "<html" not in page


def test_token_names_are_validated(member_client):
    for name, message in [
        ("", "Give the token a name."),
        ("   ", "Give the token a name."),
        ("\u200b", "Give the token a name."),  # zero width space: nothing anyone can read
        ("\u200b\u2066\u00a0", "Give the token a name."),
        # Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern.
        ("\u3164", "Give the token a name."),
        ("\u115f\u1160\uffa0\u2800", "Give the token a name."),
        ("x" * 101, "at most 100 characters"),
        ("bad\x00name", "control characters"),
    ]:
        response = member_client.submit("/profile/tokens", {"name": name})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert count_rows(ApiToken) == 0
    assert member_client.submit("/profile/tokens", {"name": "ü" * 100}).status_code == 200


def test_create_token_without_csrf_is_refused(member_client):
    assert member_client.post("/profile/tokens", data={"name": "x"}).status_code == 400
    assert count_rows(ApiToken) == 0


def test_owner_revokes_own_token_after_confirmation(member_client, member):
    token, value = make_token(member, "old script")
    confirm = member_client.get(f"/profile/tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and token.prefix in confirm.get_data(as_text=True)
    response = member_client.submit(f"/profile/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert "Revoked your token" in member_client.get("/profile/tokens").get_data(as_text=True)
    assert member_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.message.endswith("revoked by the owner") and activity.actor_id == member.id


def test_owner_cannot_touch_someone_elses_token(member_client, org):
    other_token, value = make_token(make_user(org, "eve@acme.test"))
    assert member_client.get(f"/profile/tokens/{other_token.id}/revoke").status_code == 404
    assert member_client.submit(f"/profile/tokens/{other_token.id}/revoke").status_code == 404
    assert reread(other_token) is not None


def test_without_the_permission_there_is_no_tab_no_card_and_403(client, org):
    user = make_user(org, "nora@acme.test", can_manage_tokens=False)
    client.sign_in(user.email)
    home = client.get("/").get_data(as_text=True)
    assert "/profile/tokens" not in home and "Your API tokens" not in home
    assert client.get("/profile/tokens").status_code == 403
    assert client.submit("/profile/tokens", {"name": "x"}).status_code == 403
    assert count_rows(ApiToken) == 0


def test_name_field_is_marked_invalid_only_when_it_has_an_error(member_client):
    page = member_client.get("/profile/tokens").get_data(as_text=True)
    assert 'aria-describedby="name-help"' in page
    assert "aria-invalid" not in page  # not even aria-invalid="None", which is invalid ARIA
    failed = member_client.submit("/profile/tokens", {"name": ""}).get_data(as_text=True)
    assert 'aria-invalid="true"' in failed
    assert 'aria-describedby="name-help name-error"' in failed
