"""Rotating a token (SPEC 10): a new value for the same record, the old value dead at once."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from conftest import (
    auth_header,
    make_token,
    make_user,
    run_at_the_same_moment,
    stored_rows,
    update_stored,
)

from tokenaudit.clock import utcnow
from tokenaudit.models import Activity, ApiToken

VALUE = re.compile(r'id="new-token-value"[^>]*value="([^"]+)"')


def test_rotating_on_the_profile_kills_the_old_value_and_shows_the_new_one_once(
    member_client, member, org
):
    update_stored(org, max_token_lifetime_days=30, default_token_lifetime_days=20)
    token, old_value = make_token(member, "CI deploy")
    old_prefix = token.prefix
    confirm = member_client.get(f"/profile/tokens/{token.id}/rotate")
    assert confirm.status_code == 200 and old_prefix in confirm.get_data(as_text=True)

    response = member_client.submit(f"/profile/tokens/{token.id}/rotate")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    new_value = VALUE.search(response.get_data(as_text=True)).group(1)

    old = member_client.get("/api/v2/me/", headers=auth_header(old_value))
    assert old.status_code == 401
    assert member_client.get("/api/v2/me/", headers=auth_header(new_value)).status_code == 200
    [rotated] = stored_rows(ApiToken)
    assert (rotated.id, rotated.name) == (token.id, "CI deploy")
    assert new_value.startswith(rotated.prefix) and rotated.prefix != old_prefix
    assert abs(rotated.expires_at - (utcnow() + timedelta(days=20))) < timedelta(minutes=1)
    [activity] = stored_rows(Activity, kind="token_rotated")
    assert old_prefix in activity.message and rotated.prefix in activity.message
    assert new_value not in activity.message

    reloaded = member_client.get("/profile/tokens").get_data(as_text=True)
    assert new_value not in reloaded and rotated.prefix in reloaded


def test_rotating_through_the_api(client, member):
    token, old_value = make_token(member)
    response = client.post(f"/api/v2/tokens/{token.id}/rotate/", headers=auth_header(old_value))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.json
    assert body["name"] == token.name and body["token"].startswith(body["prefix"])
    assert body["expires_at"]
    assert client.get("/api/v2/me/", headers=auth_header(old_value)).status_code == 401
    assert client.get("/api/v2/me/", headers=auth_header(body["token"])).status_code == 200


def test_only_the_owner_rotates_a_token(client, org, member):
    token, value = make_token(member)
    other = make_user(org, "eve@acme.test")
    _, eves_value = make_token(other)
    response = client.post(f"/api/v2/tokens/{token.id}/rotate/", headers=auth_header(eves_value))
    assert response.status_code == 404
    assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200
    # ...while its owner can.
    own = client.post(f"/api/v2/tokens/{token.id}/rotate/", headers=auth_header(value))
    assert own.status_code == 200


def test_two_rotations_at_once_leave_one_live_value_and_never_replace_one_value_twice(app, member):
    token, _ = make_token(member, "rotated twice")
    _, caller = make_token(member, "caller")
    answers = []

    def rotate() -> None:
        answers.append(
            app.test_client().post(
                f"/api/v2/tokens/{token.id}/rotate/", headers=auth_header(caller)
            )
        )

    for _ in range(5):
        answers.clear()
        run_at_the_same_moment(app, rotate, threads=2)
        assert {answer.status_code for answer in answers} <= {200, 409}
        values = [answer.json["token"] for answer in answers if answer.status_code == 200]
        client = app.test_client()
        live = [
            v
            for v in values
            if client.get("/api/v2/me/", headers=auth_header(v)).status_code == 200
        ]
        assert len(live) == 1
    # A value replaced twice would mean a client was handed a value that was dead on arrival.
    replaced = [a.details["old_prefix"] for a in stored_rows(Activity, kind="token_rotated")]
    assert len(replaced) == len(set(replaced)) >= 5


def test_the_rotate_confirmation_says_what_lifetime_the_new_value_gets(member_client, org, member):
    token, _ = make_token(member, "forever")
    update_stored(token, expires_at=None)
    update_stored(org, default_token_lifetime_days=90)
    page = member_client.get(f"/profile/tokens/{token.id}/rotate").get_data(as_text=True)
    # A never-expiring token comes back from rotation with the policy's 90 days: say so first.
    assert "It never expires." in page
    assert "The new value will expire 90 days after you rotate it." in page
    update_stored(org, default_token_lifetime_days=None)
    page = member_client.get(f"/profile/tokens/{token.id}/rotate").get_data(as_text=True)
    assert "The new value will never expire." in page


@pytest.mark.slow  # waits 2 s for a request a fixed app holds back
def test_revoking_a_token_while_it_is_rotated_is_never_a_500(
    member_client, make_client, monkeypatch, member
):
    """Rotation holds the organization row (the lifetime policy) before it updates the token; a
    revoke of the same token at that moment must queue behind it in the same order, not lock
    the token first and then wait for the organization (PostgreSQL: a deadlock, one 500)."""
    import tokenaudit.personal_tokens as personal_tokens

    token, _ = make_token(member, "rotated and revoked")
    revoker = make_client()
    revoker.sign_in(member.email)
    revoke_page = revoker.get(f"/profile/tokens/{token.id}/revoke")
    assert revoke_page.status_code == 200
    answers: dict[str, int] = {}
    real_generate = personal_tokens.generate_token

    def revoke():
        answers["revoke"] = revoker.submit(f"/profile/tokens/{token.id}/revoke").status_code

    thread = threading.Thread(target=revoke)

    def generate_midway():
        if not thread.is_alive() and "revoke" not in answers:
            thread.start()
            thread.join(2)  # a fixed app keeps the revoke waiting for this rotation
        return real_generate()

    monkeypatch.setattr(personal_tokens, "generate_token", generate_midway)
    answers["rotate"] = member_client.submit(f"/profile/tokens/{token.id}/rotate").status_code
    thread.join(15)
    assert answers["rotate"] in (200, 409) and answers["revoke"] in (200, 302, 404), answers
    assert 500 not in answers.values()
