"""Tokens that expire (SPEC 10): refused after their date, created with a lifetime."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import (
    PASSWORD,
    auth_header,
    database_snapshot,
    make_token,
    stored_rows,
    update_stored,
)

from tokenaudit.clock import utcnow
from tokenaudit.models import ApiToken

VALUE = re.compile(r'id="new-token-value"[^>]*value="([^"]+)"')


def issue_token(client, user, **fields):
    return client.post(
        "/api/v2/api-token-auth/",
        json={"username": user.email, "password": PASSWORD, "name": "script", **fields},
    )


def test_token_past_its_date_gets_401_token_has_expired(client, member, clock):
    response = issue_token(client, member, expires_in_days=7)
    value = response.json["token"]
    assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200

    clock(timedelta(days=7, seconds=-5))
    assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200
    clock(timedelta(seconds=10))
    expired = client.get("/api/v2/me/", headers=auth_header(value))
    assert expired.status_code == 401
    assert expired.json == {"detail": "Token has expired."}
    assert expired.headers["WWW-Authenticate"] == "Token"
    # Only an expired token is told why: any other failure keeps the one generic message.
    wrong_secret = value[:12] + "x" * 32 + value[44:]
    refused = client.get("/api/v2/me/", headers=auth_header(wrong_secret))
    assert refused.status_code == 401 and refused.json["detail"] != "Token has expired."


def test_api_token_auth_takes_the_organization_default_and_shows_expires_at(client, org, member):
    update_stored(org, default_token_lifetime_days=30)
    response = issue_token(client, member)
    expires_at = datetime.fromisoformat(response.json["expires_at"].replace("Z", "+00:00"))
    assert abs(expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    listed = client.get("/api/v2/tokens/", headers=auth_header(response.json["token"])).json
    assert listed["tokens"][0]["expires_at"] == response.json["expires_at"]


def test_api_token_auth_never_expires_only_without_a_maximum(client, org, member):
    assert issue_token(client, member, expires_in_days="never").json["expires_at"] is None
    for not_never in (False, 0.0, None):  # JSON's false and 0.0 are not guessed to mean "never"
        answer = issue_token(client, member, expires_in_days=not_never)
        assert answer.status_code == 400 if not_never is not None else answer.json["expires_at"]
    update_stored(org, max_token_lifetime_days=60)
    refused = issue_token(client, member, expires_in_days=0)
    assert refused.status_code == 400
    assert refused.json["detail"] == "Tokens in this organization must expire within 60 days."


@pytest.mark.parametrize("lifetime", [61, 3651, -1, 2.5, True, False, 0.0, "ten", [7], {}])
def test_api_token_auth_refuses_a_bad_or_too_long_lifetime_and_creates_nothing(
    client, org, member, lifetime
):
    update_stored(org, max_token_lifetime_days=60)
    before = database_snapshot()
    response = issue_token(client, member, expires_in_days=lifetime)
    assert response.status_code == 400 and response.json["detail"]
    assert database_snapshot() == before


def test_profile_form_offers_lifetimes_with_their_dates_and_creates_with_one(member_client):
    page = member_client.get("/profile/tokens").get_data(as_text=True)
    in_30_days = f"{utcnow() + timedelta(days=30):%Y-%m-%d}"
    assert f"30 days (until {in_30_days})" in page
    assert '<option selected value="90">' in page  # the organization's default
    assert ">Never</option>" in page

    response = member_client.submit("/profile/tokens", {"name": "CI", "expires_in_days": "30"})
    assert response.status_code == 200
    [token] = stored_rows(ApiToken)
    assert abs(token.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)


def test_profile_form_custom_date(member_client):
    day = (utcnow() + timedelta(days=12)).date()
    response = member_client.submit(
        "/profile/tokens",
        {"name": "CI", "expires_in_days": "custom", "expires_on": day.isoformat()},
    )
    assert response.status_code == 200
    [token] = stored_rows(ApiToken)
    assert token.expires_at == datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"expires_in_days": "never"}, "must expire within 60 days"),
        ({"expires_in_days": "90"}, "must expire within 60 days"),
        ({"expires_in_days": "custom"}, "Choose the custom expiry date"),
        ({"expires_in_days": "custom", "expires_on": "2001-01-01"}, "must be in the future"),
        ({"expires_in_days": "custom", "expires_on": "3000-01-01"}, "must expire within 60 days"),
        ({"expires_in_days": "soon"}, "whole number of days"),
    ],
)
def test_profile_form_refuses_lifetimes_the_policy_forbids(member_client, org, fields, message):
    update_stored(org, max_token_lifetime_days=60, default_token_lifetime_days=30)
    before = database_snapshot()
    response = member_client.submit("/profile/tokens", {"name": "CI", **fields})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert database_snapshot() == before


def test_profile_without_never_where_the_organization_has_a_maximum(member_client, org):
    update_stored(org, max_token_lifetime_days=45, default_token_lifetime_days=30)
    page = member_client.get("/profile/tokens").get_data(as_text=True)
    assert ">Never</option>" not in page
    assert 'value="60"' not in page and "45 days, the maximum" in page


def test_expired_tokens_are_marked_expired_on_profile_and_audit_page(
    client, make_client, admin, member, clock
):
    token, _ = make_token(member, "old deploy")
    update_stored(token, expires_at=utcnow() + timedelta(days=1))
    client.sign_in(member.email)
    row = client.get("/profile/tokens").get_data(as_text=True).split('id="own-token-')[1]
    assert "Expired" not in row and "in 23 hours" in row
    clock(timedelta(days=2))
    client.sign_in(member.email)  # two idle days ended the first session (SESSION_IDLE_MINUTES)
    row = client.get("/profile/tokens").get_data(as_text=True).split('id="own-token-')[1]
    assert ">Expired</strong>" in row
    admin_client = make_client()
    admin_client.sign_in(admin.email)
    audit_page = admin_client.get("/tokens").get_data(as_text=True)
    row = audit_page.split(f'id="token-{token.id}"')[1]
    assert ">Expired</strong>" in row.split("</tr>")[0]


# "²" and "٣" pass str.isdigit(); int() refuses the first (was a 500) and reads the second as 3.
# A 5,000-digit string passes isdigit() and int() refuses it too (Python's digit limit).
ODD_DIGITS = ["²", "٣", "７", "1²", "9" * 5000]


@pytest.mark.parametrize("lifetime", ODD_DIGITS)
def test_api_token_auth_refuses_lifetimes_of_non_ascii_or_endless_digits(client, member, lifetime):
    before = database_snapshot()
    response = issue_token(client, member, expires_in_days=lifetime)
    assert response.status_code == 400
    assert response.json["detail"] == (
        "expires_in_days must be a whole number of days from 1 to 3650."
    )
    assert database_snapshot() == before


@pytest.mark.parametrize("lifetime", ODD_DIGITS)
def test_profile_form_refuses_lifetimes_of_non_ascii_or_endless_digits(member_client, lifetime):
    before = database_snapshot()
    response = member_client.submit("/profile/tokens", {"name": "CI", "expires_in_days": lifetime})
    assert response.status_code == 422
    assert "whole number of days" in response.get_data(as_text=True)
    assert database_snapshot() == before
