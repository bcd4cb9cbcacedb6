"""Bulk revoke (SPEC section 11): confirm a selection, revoke exactly it, one email per owner."""

import re

import pytest
from conftest import (
    CSRF_PATTERN,
    auth_header,
    count_rows,
    database,
    make_org,
    make_token,
    make_user,
    text_part,
)

from tokenaudit.extensions import db
from tokenaudit.models import Activity, ApiToken, OutboxEmail

CONFIRMED_PATTERN = re.compile(r'name="confirmed" value="([^"]*)"')


@pytest.fixture
def team(org, admin):
    """Two owners with 'deploy' tokens, one with another token, and their values."""
    ann = make_user(org, "ann@acme.test", "Ann Archer")
    ben = make_user(org, "ben@acme.test", "Ben Baker")
    tokens = {
        name: make_token(owner, name)
        for owner, name in [
            (ann, "deploy one"),
            (ann, "deploy two"),
            (ben, "deploy three"),
            (ben, "grafana"),
        ]
    }
    return {"ann": ann, "ben": ben, "tokens": tokens}


def confirm(client, query, htmx=False):
    """GET the confirmation; returns its HTML and the form fields it would post."""
    response = (
        client.htmx_get(f"/tokens/revoke?{query}")
        if htmx
        else client.get(f"/tokens/revoke?{query}")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["csrf_token"] = CSRF_PATTERN.search(html).group(1)
    return html, fields


def remaining():
    with database():
        return sorted(db.session.scalars(db.select(ApiToken.name)))


def test_confirmation_names_the_count_and_each_owner_with_their_count(admin_client, team):
    html, _ = confirm(admin_client, "all_matching=1&q=deploy")
    assert "Revoke 3 API tokens?" in html
    assert re.search(r"Ann Archer</bdi> .*?ann@acme.test.*?<strong>2</strong> tokens", html)
    assert re.search(r"Ben Baker</bdi> .*?ben@acme.test.*?<strong>1</strong> token<", html)
    assert "Grafana" not in html
    # Confirming changes nothing.
    assert len(remaining()) == 4


def test_filtered_set_is_revoked_exactly_while_another_client_creates_tokens(
    admin_client, client, make_client, team, smtp_server
):
    """The superuser confirms "deploy" tokens never used; meanwhile Ann makes a new one."""
    _, fields = confirm(admin_client, "all_matching=1&q=deploy&status=never_used", htmx=True)
    other = make_client()
    created = other.post(
        "/api/v2/api-token-auth/",
        json={
            "username": "ann@acme.test",
            "password": "correct horse battery",
            "name": "deploy four",
        },
    )
    assert created.status_code == 200
    new_value = created.json["token"]

    response = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "tokens-changed"
    assert "Revoked 3 tokens. 2 owners have been emailed." in response.get_data(as_text=True)

    # Exactly the confirmed set: the new "deploy four" and "grafana" stay.
    assert remaining() == ["deploy four", "grafana"]
    assert other.get("/api/v2/me/", headers=auth_header(new_value)).status_code == 200
    for name in ("deploy one", "deploy two", "deploy three"):
        value = team["tokens"][name][1]
        assert client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401

    # One Activity per token, each against its owner and naming the superuser.
    with database():
        activities = db.session.scalars(db.select(Activity).filter_by(kind="token_revoked")).all()
        assert sorted(a.details["token_name"] for a in activities) == [
            "deploy one",
            "deploy three",
            "deploy two",
        ]
        assert all(a.actor.full_name == "Carol Admin" for a in activities)
        subjects = {a.details["token_name"]: a.subject.email for a in activities}
        assert subjects["deploy three"] == "ben@acme.test"

    # One email per owner, listing all of their revoked tokens and nothing else.
    by_recipient = {m["X-Envelope-To"]: m for m in smtp_server.messages}
    assert sorted(by_recipient) == ["ann@acme.test", "ben@acme.test"]
    ann_mail = text_part(by_recipient["ann@acme.test"])
    assert by_recipient["ann@acme.test"]["Subject"] == "2 of your API tokens were revoked"
    assert "deploy one" in ann_mail and "deploy two" in ann_mail
    assert "deploy three" not in ann_mail and "deploy four" not in ann_mail
    assert "superuser Carol Admin" in ann_mail and "401 Unauthorized" in ann_mail
    ben_mail = text_part(by_recipient["ben@acme.test"])
    assert "deploy three" in ben_mail and "grafana" not in ben_mail


def test_submitting_twice_says_the_second_time_nothing_was_left(admin_client, team, smtp_server):
    _, fields = confirm(admin_client, "all_matching=1&q=deploy")
    first = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    assert "Revoked 3 tokens." in first.get_data(as_text=True)
    second = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    assert second.status_code == 200
    message = second.get_data(as_text=True)
    assert (
        "Nothing was revoked: the 3 selected tokens no longer exist (already revoked)." in message
    )
    assert "Revoked" not in message
    assert count_rows(Activity, kind="token_revoked") == 3
    assert len(smtp_server.messages) == 2


def test_tokens_revoked_meanwhile_are_reported_not_errors(admin_client, team, smtp_server):
    _, fields = confirm(admin_client, "all_matching=1&q=deploy")
    one = team["tokens"]["deploy one"][0]
    assert admin_client.submit(f"/tokens/{one.id}/revoke").status_code == 302
    response = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    message = response.get_data(as_text=True)
    assert "Revoked 2 tokens. 1 of the selected no longer existed (already revoked)." in message
    assert count_rows(Activity, kind="token_revoked") == 3


def test_checked_rows_are_revoked_without_javascript(admin_client, team, smtp_server):
    ids = [team["tokens"][name][0].id for name in ("deploy two", "grafana")]
    html, fields = confirm(admin_client, "&".join(f"ids={i}" for i in ids) + "&q=a")
    assert "Revoke 2 API tokens?" in html and "<html" in html
    response = admin_client.post("/tokens/revoke", data=fields)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/tokens?q=a&")
    page = admin_client.get("/tokens").get_data(as_text=True)
    assert "Revoked 2 tokens. 2 owners have been emailed." in page
    assert remaining() == ["deploy one", "deploy three"]


def test_ids_repeated_are_revoked_as_named(admin_client, team, smtp_server):
    ids = [team["tokens"][name][0].id for name in ("deploy one", "deploy two")]
    response = admin_client.submit("/tokens/revoke", {"ids": ids})
    assert response.status_code == 302
    assert remaining() == ["deploy three", "grafana"]
    [message] = smtp_server.messages
    assert message["X-Envelope-To"] == "ann@acme.test"


def test_another_organizations_tokens_are_never_revoked(admin_client, team):
    stranger, _ = make_token(make_user(make_org("Other"), "olga@other.test"), "deploy theirs")
    html, _ = confirm(admin_client, f"ids={stranger.id}")
    assert "Nothing to revoke" in html and "olga" not in html
    response = admin_client.submit("/tokens/revoke", {"ids": [stranger.id]})
    assert response.status_code == 302
    assert "deploy theirs" in remaining()
    assert count_rows(Activity, kind="token_revoked") == 0


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"ids": ["12x"]}, "is not a token id"),
        ({"ids": ["99999999999"]}, "is not a token id"),
        ({}, "Select at least one token"),
        ({"all_matching": "1", "q": "deploy"}, "Confirm which tokens to revoke first"),
        ({"confirmed": "forged.value"}, "no longer valid"),
    ],
)
def test_bad_or_unconfirmed_requests_change_nothing(admin_client, team, fields, message):
    response = admin_client.submit("/tokens/revoke", fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert len(remaining()) == 4


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1" * 5000, "\uff11"])
def test_ids_that_only_look_like_digits_are_refused_not_a_server_error(admin_client, team, value):
    """A superscript, another script's digit or 5,000 digits: 400 on confirm and revoke."""
    confirmation = admin_client.get("/tokens/revoke", query_string={"ids": value})
    assert confirmation.status_code == 400
    assert "is not a token id" in confirmation.get_data(as_text=True)
    response = admin_client.submit("/tokens/revoke", {"ids": [value]})
    assert response.status_code == 400
    assert "is not a token id" in response.get_data(as_text=True)
    assert len(remaining()) == 4


def test_a_confirmation_is_good_only_for_the_superuser_who_saw_it(
    admin_client, make_client, org, team
):
    _, fields = confirm(admin_client, "all_matching=1&q=deploy")
    make_user(org, "dan@acme.test", "Dan Admin", superuser=True)
    dan = make_client()
    dan.sign_in("dan@acme.test")
    fields["csrf_token"] = dan.csrf_token()
    assert dan.post("/tokens/revoke", data=fields).status_code == 400
    assert len(remaining()) == 4


def test_tampered_selection_is_refused(admin_client, team):
    _, fields = confirm(admin_client, "all_matching=1&q=deploy")
    fields["confirmed"] = fields["confirmed"][:-2] + (
        "AA" if fields["confirmed"][-2:] != "AA" else "BB"
    )
    assert admin_client.post("/tokens/revoke", data=fields).status_code == 400
    assert len(remaining()) == 4


def test_many_tokens_go_in_batches_with_one_email_per_owner(
    admin_client, org, smtp_server, monkeypatch
):
    monkeypatch.setattr("tokenaudit.bulk_revocation.BATCH_SIZE", 4)
    owners = [make_user(org, f"owner{n}@acme.test", f"Owner {n}") for n in range(3)]
    for index in range(11):
        make_token(owners[index % 3], f"bot {index}")
    _, fields = confirm(admin_client, "all_matching=1&q=bot")
    response = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    assert "Revoked 11 tokens. 3 owners have been emailed." in response.get_data(as_text=True)
    assert remaining() == []
    assert count_rows(Activity, kind="token_revoked") == 11
    assert sorted(m["X-Envelope-To"] for m in smtp_server.messages) == [
        "owner0@acme.test",
        "owner1@acme.test",
        "owner2@acme.test",
    ]
    # owner0 had tokens 0, 3, 6, 9: spread over three batches, named in one email.
    owner0 = text_part(next(m for m in smtp_server.messages if "owner0" in m["X-Envelope-To"]))
    assert all(f"bot {i}" in owner0 for i in (0, 3, 6, 9))


def test_emails_that_cannot_be_sent_wait_in_the_outbox(admin_client, team, refusing_smtp_server):
    _, fields = confirm(admin_client, "all_matching=1&q=deploy")
    response = admin_client.post("/tokens/revoke", data=fields, headers={"HX-Request": "true"})
    assert "2 of those emails will be sent shortly." in response.get_data(as_text=True)
    assert remaining() == ["grafana"]
    assert count_rows(OutboxEmail, status="pending") == 2


# The JSON twin.


@pytest.fixture
def admin_header(admin):
    return auth_header(make_token(admin, "admin script")[1])


def test_api_revokes_the_ids_and_reports_those_already_gone(
    client, team, admin_header, smtp_server
):
    ids = [team["tokens"][name][0].id for name in ("deploy one", "grafana")]
    response = client.post(
        "/api/v2/organization/tokens/revoke/",
        json={"ids": [*ids, ids[0], 999999]},
        headers=admin_header,
    )
    assert response.status_code == 200
    assert response.json == {"revoked": 2, "not_found": 1}
    assert remaining() == ["admin script", "deploy three", "deploy two"]
    assert count_rows(Activity, kind="token_revoked") == 2
    assert sorted(m["X-Envelope-To"] for m in smtp_server.messages) == [
        "ann@acme.test",
        "ben@acme.test",
    ]
    again = client.post(
        "/api/v2/organization/tokens/revoke/", json={"ids": ids}, headers=admin_header
    )
    assert again.json == {"revoked": 0, "not_found": 2}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": "1"},
        {"ids": [1, "2"]},
        {"ids": [0]},
        {"ids": [True]},
        [1, 2],
        {"ids": [2**40]},
    ],
)
def test_api_refuses_malformed_bodies_and_changes_nothing(client, team, admin_header, body):
    response = client.post("/api/v2/organization/tokens/revoke/", json=body, headers=admin_header)
    assert response.status_code == 400 and "detail" in response.json
    assert len(remaining()) == 5


def test_api_wants_json(client, team, admin_header):
    response = client.post(
        "/api/v2/organization/tokens/revoke/", data={"ids": "1"}, headers=admin_header
    )
    assert response.status_code == 415
    assert len(remaining()) == 5


def test_api_bulk_revoke_is_for_superusers(client, team):
    value = team["tokens"]["grafana"][1]
    ids = [token.id for token, _ in team["tokens"].values()]
    response = client.post(
        "/api/v2/organization/tokens/revoke/", json={"ids": ids}, headers=auth_header(value)
    )
    assert response.status_code == 403
    assert len(remaining()) == 4


NESTED_TOO_DEEP = '{"ids": ' + "[" * 100_000 + "]" * 100_000 + "}"


def test_api_bulk_revoke_refuses_json_nested_too_deep(client, team, admin_header):
    """Python's parser gives up on deep nesting with a RecursionError: a 400, not a 500."""
    response = client.post(
        "/api/v2/organization/tokens/revoke/",
        data=NESTED_TOO_DEEP,
        content_type="application/json",
        headers=admin_header,
    )
    assert response.status_code == 400 and "detail" in response.json
    assert len(remaining()) == 5


def test_sign_in_for_a_token_refuses_json_nested_too_deep(client):
    """The same body without any credentials: the one JSON route anybody may call."""
    response = client.post(
        "/api/v2/api-token-auth/", data=NESTED_TOO_DEEP, content_type="application/json"
    )
    assert response.status_code == 400 and "detail" in response.json
