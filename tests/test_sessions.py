"""Sessions end on the server (SPEC 13): sign-out, deactivation, other sessions, idle timeout."""

from datetime import timedelta

import pytest
from conftest import CSRF_PATTERN, PASSWORD, count_rows, database, stored_rows
from flask_login.utils import encode_cookie
from sqlalchemy import update

from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import UserSession


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def copy_session_cookie(source, target) -> None:
    """What an attacker who read the cookie (a shared machine, a proxy log) can do."""
    target.set_cookie(
        "session",
        source.get_cookie("session", domain="tokenaudit.test").value,
        domain="tokenaudit.test",
    )


def from_elsewhere(client, path: str = "/"):
    return client.get(path, environ_overrides={"REMOTE_ADDR": "203.0.113.9"})


def test_a_copied_session_cookie_stops_working_at_sign_out(client, make_client, member):
    client.sign_in(member.email)
    thief = make_client()
    copy_session_cookie(client, thief)
    assert from_elsewhere(thief).status_code == 200
    response = client.submit("/logout")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert from_elsewhere(thief).status_code == 302
    assert not signed_in(client)


def test_a_deactivated_users_cookie_stays_dead_after_reactivation(
    client, make_client, admin, member
):
    client.sign_in(member.email)
    admin_client = make_client()
    admin_client.sign_in(admin.email)
    assert admin_client.submit(f"/team/{member.id}", {}).status_code == 302  # deactivated
    assert not signed_in(client)
    reactivate = {"is_active": "y", "can_manage_tokens": "y"}
    assert admin_client.submit(f"/team/{member.id}", reactivate).status_code == 302
    assert not signed_in(client)
    client.sign_in(member.email)  # a new sign-in works again
    assert signed_in(client)


def test_sign_out_other_sessions_keeps_only_this_one(make_client, member):
    here, laptop, phone = make_client(), make_client(), make_client()
    for browser in (here, laptop, phone):
        browser.sign_in(member.email)
    page = here.get("/sessions").get_data(as_text=True)
    assert "3 browsers" in page and "Sign out other sessions" in page
    response = here.submit("/sessions/revoke")
    assert response.status_code == 302
    assert "Signed out 2 other sessions." in here.get("/sessions").get_data(as_text=True)
    assert signed_in(here)
    assert not signed_in(laptop) and not signed_in(phone)


def test_sign_out_other_sessions_needs_the_forms_csrf_token(make_client, member):
    here, laptop = make_client(), make_client()
    here.sign_in(member.email)
    laptop.sign_in(member.email)
    assert here.post("/sessions/revoke").status_code == 400
    assert signed_in(laptop)


def last_seen(when, session_id: int | None = None) -> None:
    """Move the stored last use of every session (or of one) to `when`, as time passing would."""
    with database():
        sessions = update(UserSession).values(last_seen_at=when)
        if session_id is not None:
            sessions = sessions.where(UserSession.id == session_id)
        db.session.execute(sessions)
        db.session.commit()


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_MINUTES": 30}])
def test_an_idle_session_ends_after_session_idle_minutes(client, member):
    client.sign_in(member.email)
    assert signed_in(client)
    last_seen(utcnow() - timedelta(minutes=29))
    assert signed_in(client)  # and this use counts: the clock starts again
    last_seen(utcnow() - timedelta(minutes=31))
    assert not signed_in(client)
    assert count_rows(UserSession) == 0


def test_last_seen_is_written_at_most_once_a_minute(client, member):
    client.sign_in(member.email)
    a_moment_ago = utcnow() - timedelta(seconds=30)
    last_seen(a_moment_ago)
    assert signed_in(client)
    [session] = stored_rows(UserSession)
    assert session.last_seen_at == a_moment_ago
    earlier = utcnow() - timedelta(minutes=2)
    last_seen(earlier)
    assert signed_in(client)
    [session] = stored_rows(UserSession)
    assert session.last_seen_at > earlier + timedelta(minutes=1)


def test_the_csrf_token_changes_at_sign_in_and_is_cleared_at_sign_out(client, member):
    """A token planted or read before sign-in (or left from a sign-out) is worthless after."""
    before_sign_in = client.csrf_token()
    client.sign_in(member.email)
    refused = client.post("/profile/tokens", data={"csrf_token": before_sign_in, "name": "x"})
    assert refused.status_code == 400
    signed_in_token = CSRF_PATTERN.search(client.get("/").get_data(as_text=True)).group(1)
    client.submit("/logout")
    # Signed out, the browser holds no token: the old one does not even sign in again.
    stale = {"csrf_token": signed_in_token, "email": member.email, "password": PASSWORD}
    assert client.post("/login", data=stale).status_code == 400
    client.sign_in(member.email)
    again = client.post("/sessions/revoke", data={"csrf_token": signed_in_token})
    assert again.status_code == 400


def test_a_remember_me_cookie_alone_signs_nobody_in(app, client, member):
    """Flask-Login would restore a user from a valid remember cookie: it needs a session too."""
    with app.app_context():  # the cookie is signed with the app's key
        cookie = encode_cookie(str(member.id))
    client.set_cookie("remember_token", cookie, domain="tokenaudit.test")
    assert not signed_in(client)


def test_the_database_holds_a_digest_of_the_session_never_the_cookies_secret(client, member):
    client.sign_in(member.email)
    with client.session_transaction() as session:
        secret = session["session_secret"]
    [row] = stored_rows(UserSession)
    assert secret not in row.digest and len(row.digest) == 64


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_MINUTES": 30}])
def test_the_sessions_page_does_not_count_sessions_that_idled_out(make_client, member):
    here, laptop = make_client(), make_client()
    here.sign_in(member.email)
    laptop.sign_in(member.email)
    laptops_session = stored_rows(UserSession)[-1]  # the latest sign-in
    last_seen(utcnow() - timedelta(minutes=31), laptops_session.id)
    page = here.get("/sessions").get_data(as_text=True)
    assert "signed in on 1 browser," in page
    assert not signed_in(laptop)
