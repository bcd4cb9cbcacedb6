"""Revoking from the audit page and its API twin (SPEC section 6), with a real SMTP server."""

import re

import pytest
from conftest import (
    PASSWORD,
    auth_header,
    count_rows,
    html_part,
    make_org,
    make_token,
    make_user,
    stored_rows,
    text_part,
)

from tokenaudit.config import load_config
from tokenaudit.external_links import InvalidExternalUrl
from tokenaudit.models import Activity, ApiToken, OutboxEmail


@pytest.fixture
def doomed(member):
    """Bob's token that a superuser will revoke, with its value."""
    return make_token(member, "Deploy bot")


def htmx_revoke(client, token_id):
    return client.post(
        f"/tokens/{token_id}/revoke",
        data={"csrf_token": client.csrf_token()},
        headers={"HX-Request": "true"},
    )


def test_dialog_partial_shows_prefix_and_owner(admin_client, doomed):
    token, value = doomed
    dialog = admin_client.htmx_get(f"/tokens/{token.id}/revoke").get_data(as_text=True)
    assert dialog.lstrip().startswith("<dialog")
    assert token.prefix in dialog and "Bob Builder" in dialog and "bob@acme.test" in dialog
    assert "Cancel" in dialog and 'type="submit"' in dialog and "csrf_token" in dialog
    assert value not in dialog
    page = admin_client.get(f"/tokens/{token.id}/revoke").get_data(as_text=True)
    assert "<html" in page and token.prefix in page and 'href="/tokens"' in page


def test_superuser_revoke_deletes_records_activity_and_emails_owner(
    admin_client, client, doomed, smtp_server
):
    token, value = doomed
    prefix = token.prefix
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200

    response = htmx_revoke(admin_client, token.id)
    status = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "tokens-changed"
    assert "Deploy bot" in status and prefix in status and "Bob Builder" in status
    assert "has been emailed" in status

    # 1. Deleted: the next API call gets 401, and the row and count are gone from the table.
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    assert count_rows(ApiToken) == 0
    table = admin_client.htmx_get("/tokens").get_data(as_text=True)
    assert prefix not in table and "0 tokens" in table

    # 2. The Activity against the owner names the superuser, and shows on the home feed.
    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.subject.email == "bob@acme.test"
    assert activity.actor.full_name == "Carol Admin"
    assert activity.message == f"API token “Deploy bot” ({prefix}) revoked by superuser Carol Admin"
    assert activity.details == {"token_name": "Deploy bot", "prefix": prefix}
    assert "revoked by superuser Carol Admin" in admin_client.get("/").get_data(as_text=True)

    # 3. The owner's email: who, what, when, what it means, how to get a new one.
    [message] = smtp_server.messages
    assert message["X-Envelope-To"] == "bob@acme.test"
    assert prefix in message["Subject"]
    for part in (text_part(message), html_part(message)):
        assert "Deploy bot" in part and prefix in part
        assert "superuser Carol Admin" in part
        assert "UTC" in part and "401 Unauthorized" in part
        assert "http://127.0.0.1:5000/profile/tokens" in part  # EXTERNAL_URL's default
        assert value not in part


def test_revoke_without_javascript_redirects_with_a_message(admin_client, doomed, smtp_server):
    token, _ = doomed
    response = admin_client.submit(f"/tokens/{token.id}/revoke")
    assert response.status_code == 302 and response.headers["Location"] == "/tokens"
    page = admin_client.get("/tokens").get_data(as_text=True)
    assert "Revoked “Deploy bot”" in page and "Bob Builder" in page


def test_revoking_a_token_already_gone_says_so_and_changes_nothing(
    admin_client, doomed, smtp_server
):
    token, _ = doomed
    htmx_revoke(admin_client, token.id)
    again = htmx_revoke(admin_client, token.id)
    assert again.status_code == 404
    assert "already been revoked" in again.get_data(as_text=True)
    assert again.headers["HX-Trigger"] == "tokens-changed"  # the stale row leaves the table
    assert count_rows(Activity, kind="token_revoked") == 1
    assert len(smtp_server.messages) == 1


def test_token_of_another_organization_is_404_and_untouched(admin_client, smtp_server):
    foreign, value = make_token(make_user(make_org("Other"), "x@other.test"))
    assert htmx_revoke(admin_client, foreign.id).status_code == 404
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200
    assert smtp_server.messages == []


def test_revoke_without_csrf_changes_nothing(admin_client, doomed):
    token, value = doomed
    assert admin_client.post(f"/tokens/{token.id}/revoke").status_code == 400
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200


def test_smtp_failure_leaves_the_revoke_done_and_tells_the_superuser(
    admin_client, doomed, refusing_smtp_server
):
    token, value = doomed
    response = htmx_revoke(admin_client, token.id)
    assert response.status_code == 200
    assert "could not be sent" in response.get_data(as_text=True)
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    assert count_rows(Activity, kind="token_revoked") == 1
    [pending] = stored_rows(OutboxEmail)
    assert (
        pending.status == "pending" and pending.attempts == 1 and "Connection" in pending.last_error
    )


def test_owner_revoking_own_token_sends_no_email(member_client, doomed, smtp_server):
    token, _ = doomed
    member_client.submit(f"/profile/tokens/{token.id}/revoke")
    assert smtp_server.messages == []


def test_api_twin_revokes_with_the_same_effects(client, admin, doomed, smtp_server):
    token, value = doomed
    _, admin_value = make_token(admin, "admin script")
    response = client.delete(
        f"/api/v2/organization/tokens/{token.id}/", headers=auth_header(admin_value)
    )
    assert response.status_code == 204
    assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.message.endswith("revoked by superuser Carol Admin")
    assert len(smtp_server.messages) == 1
    again = client.delete(
        f"/api/v2/organization/tokens/{token.id}/", headers=auth_header(admin_value)
    )
    assert again.status_code == 404 and again.is_json


def test_without_mail_server_the_email_is_written_to_the_log(admin_client, doomed, logs):
    token, value = doomed
    htmx_revoke(admin_client, token.id)
    assert "MAIL_SERVER is not set" in logs.text and "To: bob@acme.test" in logs.text
    assert "Revoked by:  superuser Carol Admin" in logs.text
    assert value not in logs.text


def test_revoking_a_gone_token_without_javascript_says_so(admin_client, doomed):
    token, _ = doomed
    admin_client.submit(f"/tokens/{token.id}/revoke")
    again = admin_client.submit(f"/tokens/{token.id}/revoke")
    assert again.status_code == 404
    page = again.get_data(as_text=True)
    assert "already been revoked" in page and page.count("already been revoked") == 1
    assert count_rows(Activity, kind="token_revoked") == 1


LINK = re.compile(r"""(?:href=["']|^)(https?://[^\s"'<>]+)""", re.MULTILINE)


# No SERVER_NAME, as in production: the app then answers whatever Host a request names.
@pytest.mark.parametrize(
    "app_config", [{"EXTERNAL_URL": "https://tokens.example.com/audit", "SERVER_NAME": None}]
)
@pytest.mark.parametrize("route", ["page", "api"])
def test_email_links_use_external_url_never_the_host_header(
    client, admin, member, doomed, smtp_server, route
):
    """A revoke requested with a forged Host header still mails the owner a link to us."""
    token, _ = doomed
    forged = {"Host": "login.evil-phish.example"}
    if route == "page":
        client.sign_in(admin.email)
        data = {"csrf_token": client.csrf_token()}
        # The signed-in superuser's own session, sent to us with a Host header naming another
        # site (the test client picks cookies by the Host header, so give it one for that host).
        session = client.get_cookie("session").value
        client.set_cookie("session", session, domain=forged["Host"])
        response = client.post(f"/tokens/{token.id}/revoke", data=data, headers=forged)
    else:
        _, admin_value = make_token(admin)
        headers = {**auth_header(admin_value), **forged}
        response = client.delete(f"/api/v2/organization/tokens/{token.id}/", headers=headers)
    assert response.status_code in (204, 302)
    [message] = smtp_server.messages
    for part in (text_part(message), html_part(message)):
        assert "evil-phish" not in part
        links = LINK.findall(part)
        assert links and all(link.startswith("https://tokens.example.com/audit/") for link in links)
        assert "https://tokens.example.com/audit/profile/tokens" in links


@pytest.mark.parametrize("url", ["tokens.example.com", "ftp://tokens.example.com", "https://"])
def test_an_external_url_that_is_not_an_absolute_http_address_is_refused_at_start(
    monkeypatch, tmp_path, url
):
    monkeypatch.setenv("EXTERNAL_URL", url)
    monkeypatch.setenv("SECRET_KEY", "x")
    with pytest.raises(InvalidExternalUrl, match="EXTERNAL_URL must be an absolute"):
        load_config(tmp_path)


def create_token_by_api(client, email: str) -> str:
    response = client.post(
        "/api/v2/api-token-auth/", json={"username": email, "password": PASSWORD, "name": "new"}
    )
    assert response.status_code == 200
    return response.json["token"]


@pytest.mark.parametrize("route", ["audit page", "profile", "api"])
def test_a_repeated_revoke_never_reaches_a_token_created_since(
    client, admin, member, smtp_server, route
):
    """A stale revoke (double submit, back button, retried script) of a revoked id is 404: the
    id is never given to a newer token (SQLite reused the highest id after a delete)."""
    _, older_value = make_token(member, "older")
    newest, _ = make_token(member, "newest")
    if route == "audit page":
        client.sign_in(admin.email)
        revoke = lambda: client.submit(f"/tokens/{newest.id}/revoke")  # noqa: E731
    elif route == "profile":
        client.sign_in(member.email)
        revoke = lambda: client.submit(f"/profile/tokens/{newest.id}/revoke")  # noqa: E731
    else:
        headers = auth_header(older_value)
        revoke = lambda: client.delete(f"/api/v2/tokens/{newest.id}/", headers=headers)  # noqa: E731
    assert revoke().status_code in (204, 302)
    new_value = create_token_by_api(client, member.email)
    assert revoke().status_code == 404
    assert client.get("/api/v2/me/", headers=auth_header(new_value)).status_code == 200


def test_a_token_already_gone_is_told_in_the_same_words_on_every_path(admin_client, admin, doomed):
    token, _ = doomed
    _, script_value = make_token(admin, "script")
    admin_client.submit(f"/tokens/{token.id}/revoke")
    api = admin_client.delete(
        f"/api/v2/organization/tokens/{token.id}/", headers=auth_header(script_value)
    )
    page = admin_client.submit(f"/tokens/{token.id}/revoke")
    rotate = admin_client.get(f"/profile/tokens/{token.id}/rotate")
    assert (api.status_code, page.status_code, rotate.status_code) == (404, 404, 404)
    said = api.json["detail"]
    assert "already been revoked" in said
    assert said in page.get_data(as_text=True) and said in rotate.get_data(as_text=True)


def test_a_member_is_refused_the_superusers_pages_and_api_in_the_same_words(member_client, member):
    _, value = make_token(member, "script")
    page = member_client.get("/tokens")
    api = member_client.get("/api/v2/organization/tokens/", headers=auth_header(value))
    assert (page.status_code, api.status_code) == (403, 403)
    assert api.json["detail"] in page.get_data(as_text=True)
