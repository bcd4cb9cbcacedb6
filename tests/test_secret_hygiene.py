"""After tokens are created and used, no value is anywhere but in the one response that made it."""

import re

from conftest import PASSWORD, auth_header, every_stored_value, make_user

VALUE = re.compile(r'id="new-token-value"[^>]*value="(tka_\w+)"')


def secrets_of(value: str) -> list[str]:
    """The whole value and its secret part (which must not leak on its own either)."""
    return [value, value[12:44]]


def test_no_token_value_in_database_logs_emails_or_later_pages(
    app, client, make_client, org, admin, smtp_server, logs, database_url
):
    member = make_user(org, "bob@acme.test", "Bob Builder")
    owner = make_client()
    owner.sign_in(member.email)
    admin_browser = make_client()
    admin_browser.sign_in(admin.email)

    # Created three ways: the profile page, the API (a member's and a superuser's).
    created = owner.submit("/profile/tokens", {"name": "Laptop"})
    values = [VALUE.search(created.get_data(as_text=True)).group(1)]
    for email in (member.email, admin.email):
        body = {"username": email, "password": PASSWORD, "name": "script"}
        values.append(client.post("/api/v2/api-token-auth/", json=body).json["token"])
    laptop, script, admin_script = values

    # Used: successfully (one with the value in the query string too), and refused.
    for value in values:
        assert (
            client.get(f"/api/v2/me/?token={value}", headers=auth_header(value)).status_code == 200
        )
    assert (
        client.get("/api/v2/organization/tokens/", headers=auth_header(script)).status_code == 403
    )
    near_miss = laptop[:-7] + ("A" if laptop[-7] != "A" else "B") + laptop[-6:]
    assert client.get("/api/v2/me/", headers=auth_header(near_miss)).status_code == 401
    # Revoked: by a superuser (an email goes out) and by its owner through the API.
    listed = client.get("/api/v2/organization/tokens/?q=Laptop", headers=auth_header(admin_script))
    laptop_id = listed.json["tokens"][0]["id"]
    admin_browser.submit(f"/tokens/{laptop_id}/revoke")
    own = client.get("/api/v2/tokens/", headers=auth_header(script)).json["tokens"]
    client.delete(f"/api/v2/tokens/{own[0]['id']}/", headers=auth_header(script))
    assert len(smtp_server.messages) == 1

    # Everything anyone can look at afterwards.
    pages = [
        admin_browser.get(path).get_data(as_text=True)
        for path in ("/", "/team", f"/team/{member.id}", "/tokens", "/profile/tokens")
    ]
    pages += [owner.get(path).get_data(as_text=True) for path in ("/", "/profile/tokens")]
    pages += [
        client.get(path, headers=auth_header(admin_script)).get_data(as_text=True)
        for path in ("/api/v2/tokens/", "/api/v2/organization/tokens/", "/api/v2/me/")
    ]
    database_files = [every_stored_value(database_url)]
    emails = [message.as_bytes() for message in smtp_server.messages]

    for value in values:
        for secret in secrets_of(value):
            assert not any(secret.encode() in data for data in database_files)
            assert secret not in logs.text
            assert not any(secret.encode() in email for email in emails)
            assert not any(secret in page for page in pages)
    # The checks above can find what they look for: the prefixes are everywhere.
    assert laptop[:12] in logs.text or any(laptop[:12] in page for page in pages)
    assert any(laptop[:12].encode() in data for data in database_files)
