"""Signing in and out (SPEC section 4)."""

import pytest
from conftest import PASSWORD, database, make_user

from tokenaudit.extensions import db
from tokenaudit.models import User


def test_sign_in_lands_on_home_and_sign_out_ends_the_session(client, admin):
    response = client.sign_in(admin.email)
    assert response.headers["Location"] == "/"
    assert "Carol Admin" in client.get("/").get_data(as_text=True)
    assert client.submit("/logout").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_email_is_compared_case_insensitively(client, admin):
    client.sign_in("CAROL@Acme.TEST")
    assert client.get("/").status_code == 200


def test_wrong_password_shows_one_generic_message_and_no_session(client, admin):
    for email in (admin.email, "nobody@acme.test"):
        response = client.submit("/login", {"email": email, "password": "wrong password"})
        assert response.status_code == 400
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_passwords_are_stored_as_bcrypt_hashes(app, admin):
    with database():
        stored = db.session.get(User, admin.id).password_hash
    assert stored.startswith("$2b$") and PASSWORD not in stored


def test_login_without_csrf_token_is_refused(client, admin):
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(admin_client):
    assert admin_client.post("/logout").status_code == 400
    assert admin_client.get("/").status_code == 200


def test_deactivated_user_cannot_sign_in_and_existing_session_ends(client, org, make_client):
    user = make_user(org, "dan@acme.test", "Dan")
    client.sign_in(user.email)
    with database():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert client.get("/").status_code == 302
    other = make_client()
    response = other.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


def test_too_many_failed_sign_ins_get_429_with_retry_after(client, admin):
    statuses = [
        client.submit("/login", {"email": admin.email, "password": "nope nope"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    blocked = client.submit("/login", {"email": admin.email, "password": PASSWORD})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


@pytest.mark.parametrize(
    "next_",
    [
        "//evil.example/",
        "/%09/evil.example/phish",  # browsers drop the tab: //evil.example/phish
        "/%0d%0a/evil.example/phish",  # a line break in Location was a 500
        "/%5C/evil.example/",  # browsers read the backslash as a slash
        "https://evil.example/",
        "/%0aSet-Cookie:%20x=y",
    ],
)
def test_next_parameter_only_redirects_within_the_site(client, admin, next_):
    token = client.csrf_token()
    data = {"csrf_token": token, "email": admin.email, "password": PASSWORD}
    response = client.post(f"/login?next={next_}", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Signed in already: the login page redirects at once, with the same rule.
    again = client.get(f"/login?next={next_}")
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_next_parameter_keeps_a_path_of_this_site(client, admin):
    token = client.csrf_token()
    data = {"csrf_token": token, "email": admin.email, "password": PASSWORD}
    response = client.post("/login?next=/tokens%3Fq%3Ddeploy", data=data)
    assert response.headers["Location"] == "/tokens?q=deploy"


def test_anonymous_users_are_sent_to_login(client):
    for path in ("/", "/team", "/tokens", "/profile/tokens"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
