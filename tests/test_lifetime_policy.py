"""The organization's token lifetime policy on /settings (SPEC 10)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from conftest import (
    PASSWORD,
    count_rows,
    database_snapshot,
    make_token,
    make_user,
    reread,
    stored_rows,
    text_part,
    update_stored,
)

from tokenaudit.clock import utcnow
from tokenaudit.models import Activity, ApiToken, OutboxEmail


def token_expiring_in(owner, days: int | None, name: str = "deploy") -> ApiToken:
    token, _ = make_token(owner, name)
    update_stored(token, expires_at=None if days is None else utcnow() + timedelta(days=days))
    return token


def expiry_of(token: ApiToken):
    return reread(token).expires_at


@pytest.mark.parametrize("path", ["/settings"])
def test_settings_are_for_superusers_only(member_client, path):
    assert member_client.get(path).status_code == 403
    assert member_client.submit(path, {"max_token_lifetime_days": "1"}).status_code == 403


def test_lowering_the_maximum_shortens_exactly_the_longer_tokens_and_mails_each_owner_once(
    admin_client, org, admin, runner, smtp_server
):
    olive = make_user(org, "olive@acme.test", "Olive Owner")
    pat = make_user(org, "pat@acme.test", "Pat Short")
    forever = token_expiring_in(olive, None, "forever")
    long_one = token_expiring_in(olive, 200, "long one")
    short_one = token_expiring_in(pat, 10, "short one")
    pats_long = token_expiring_in(pat, 45, "pat long")
    untouched = expiry_of(short_one)

    response = admin_client.submit(
        "/settings", {"max_token_lifetime_days": "30", "default_token_lifetime_days": "30"}
    )
    assert response.status_code == 302
    assert "3 tokens now expire sooner" in admin_client.get("/settings").get_data(as_text=True)

    limit = utcnow() + timedelta(days=30)
    for shortened in (forever, long_one, pats_long):
        assert abs(expiry_of(shortened) - limit) < timedelta(minutes=1)
    assert expiry_of(short_one) == untouched
    activities = stored_rows(Activity, kind="token_policy_changed")
    assert len(activities) == 1 and "3 tokens shortened" in activities[0].message

    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    recipients = sorted(m["X-Envelope-To"] for m in smtp_server.messages)
    assert recipients == ["olive@acme.test", "pat@acme.test"]
    olives = text_part(next(m for m in smtp_server.messages if "olive" in m["X-Envelope-To"]))
    assert forever.prefix in olives and long_one.prefix in olives
    assert f"{expiry_of(long_one):%Y-%m-%d %H:%M:%S} UTC" in olives
    assert short_one.prefix not in olives


def test_raising_the_maximum_changes_no_token(admin_client, org, member):
    update_stored(org, max_token_lifetime_days=30, default_token_lifetime_days=30)
    token = token_expiring_in(member, 20)
    before = expiry_of(token)
    response = admin_client.submit(
        "/settings", {"max_token_lifetime_days": "365", "default_token_lifetime_days": "90"}
    )
    assert response.status_code == 302
    assert expiry_of(token) == before
    assert count_rows(OutboxEmail) == 0
    org = reread(org)
    assert (org.max_token_lifetime_days, org.default_token_lifetime_days) == (365, 90)


def test_removing_the_maximum_allows_never_again(admin_client, org, member):
    update_stored(org, max_token_lifetime_days=30, default_token_lifetime_days=30)
    response = admin_client.submit(
        "/settings", {"max_token_lifetime_days": "", "default_token_lifetime_days": ""}
    )
    assert response.status_code == 302
    org = reread(org)
    assert org.max_token_lifetime_days is None and org.default_token_lifetime_days is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"max_token_lifetime_days": "30", "default_token_lifetime_days": "90"}, "at most"),
        ({"max_token_lifetime_days": "30", "default_token_lifetime_days": ""}, "at most"),
        ({"max_token_lifetime_days": "0", "default_token_lifetime_days": ""}, "from 1 to"),
        ({"max_token_lifetime_days": "-3", "default_token_lifetime_days": "1"}, "from 1 to"),
        ({"max_token_lifetime_days": "ten", "default_token_lifetime_days": "1"}, "from 1 to"),
        ({"max_token_lifetime_days": "99999", "default_token_lifetime_days": "1"}, "from 1 to"),
    ],
)
def test_a_bad_policy_is_refused_and_changes_nothing(admin_client, member, fields, message):
    token_expiring_in(member, None)
    before = database_snapshot()
    response = admin_client.submit("/settings", fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert database_snapshot() == before


@pytest.mark.parametrize("field", ["max_token_lifetime_days", "default_token_lifetime_days"])
@pytest.mark.parametrize("days", ["²", "٣٠", "9" * 5000])
def test_settings_refuse_non_ascii_or_endless_digits_and_change_nothing(
    admin_client, org, field, days
):
    before = database_snapshot()
    fields = {"max_token_lifetime_days": "90", "default_token_lifetime_days": "30", field: days}
    response = admin_client.submit("/settings", fields)
    assert response.status_code == 400
    assert "whole number of days from 1 to 3650" in response.get_data(as_text=True)
    assert database_snapshot() == before


def _lower_the_maximum_midway(monkeypatch, make_client, admin, settled: list) -> threading.Thread:
    """While the next token is being made (its lifetime already ruled on), a superuser lowers
    the maximum to 30 days in another request; waits up to 2 s for that request to finish."""
    import tokenaudit.personal_tokens as personal_tokens

    real_generate = personal_tokens.generate_token
    superuser = make_client()
    superuser.sign_in(admin.email)
    done = threading.Event()

    def lower():
        fields = {"max_token_lifetime_days": "30", "default_token_lifetime_days": "30"}
        settled.append(superuser.submit("/settings", fields).status_code)
        done.set()

    thread = threading.Thread(target=lower)

    def generate_midway():
        if not thread.is_alive() and not done.is_set():
            thread.start()
            done.wait(2)  # a fixed app keeps it waiting for this token's commit
        return real_generate()

    monkeypatch.setattr(personal_tokens, "generate_token", generate_midway)
    return thread


@pytest.mark.slow  # waits 2 s for a request a fixed app holds back
def test_a_token_created_while_the_maximum_is_lowered_still_obeys_it(
    client, make_client, monkeypatch, admin, member
):
    settled: list = []
    thread = _lower_the_maximum_midway(monkeypatch, make_client, admin, settled)
    answer = client.post(
        "/api/v2/api-token-auth/",
        json={
            "username": member.email,
            "password": PASSWORD,
            "name": "racer",
            "expires_in_days": 0,
        },
    )
    thread.join(10)
    assert settled == [302]
    tokens = stored_rows(ApiToken, name="racer")
    limit = utcnow() + timedelta(days=30)
    # Either refused under the new maximum, or created first and then shortened by it.
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    assert all(t.expires_at is not None and t.expires_at <= limit for t in tokens), [
        t.expires_at for t in tokens
    ]


@pytest.mark.slow  # waits 2 s for a request a fixed app holds back
def test_a_token_rotated_while_the_maximum_is_lowered_still_obeys_it(
    member_client, make_client, monkeypatch, org, admin, member
):
    update_stored(org, default_token_lifetime_days=365)
    token = token_expiring_in(member, 5)
    settled: list = []
    thread = _lower_the_maximum_midway(monkeypatch, make_client, admin, settled)
    answer = member_client.submit(f"/profile/tokens/{token.id}/rotate")
    thread.join(10)
    assert settled == [302]
    assert answer.status_code == 200
    assert expiry_of(token) <= utcnow() + timedelta(days=30)
