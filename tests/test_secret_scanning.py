"""Leaked tokens revoke themselves (SPEC section 12): signed secret-scanning reports.

Each test generates its own ECDSA P-256 key pairs and writes them into a keys file in GitHub's
public_keys format; reports are signed with the private keys exactly as GitHub signs them.
"""

from __future__ import annotations

import base64
import json
import string

import pytest
from conftest import (
    auth_header,
    bad_checksum,
    count_queries,
    count_rows,
    database_snapshot,
    every_stored_value,
    html_part,
    make_org,
    make_token,
    make_user,
    stored_rows,
    text_part,
    wrong_secret,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenaudit.models import Activity, ApiToken
from tokenaudit.tokens import generate_token

ENDPOINT = "/api/v2/secret-scanning/"
LEAK_URL = "https://github.com/octocat/Hello-World/blob/12345600b9/deploy.sh#L3"
TOKEN_TYPE = "tokenaudit_api_token"
REFUSED = "The report is not signed by a trusted key. Nothing was changed."
# Signing in records the time; nothing else may change.
USAGE_COLUMNS = frozenset({"users.last_login_at"})


class SigningKey:
    """A key pair as GitHub holds one: it signs, its public half goes in the keys file."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        self.private = ec.generate_private_key(ec.SECP256R1())

    def pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def headers(self, body: bytes) -> dict[str, str]:
        signature = self.private.sign(body, ec.ECDSA(hashes.SHA256()))
        return {
            "GITHUB-PUBLIC-KEY-IDENTIFIER": self.key_id,
            "GITHUB-PUBLIC-KEY-SIGNATURE": base64.b64encode(signature).decode(),
        }


def write_keys_file(path, current: SigningKey, *previous: SigningKey) -> None:
    keys = [{"key_identifier": current.key_id, "key": current.pem(), "is_current": True}]
    keys += [{"key_identifier": k.key_id, "key": k.pem(), "is_current": False} for k in previous]
    path.write_text(json.dumps({"public_keys": keys}))


@pytest.fixture
def current_key() -> SigningKey:
    return SigningKey("90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")


@pytest.fixture
def previous_key() -> SigningKey:
    return SigningKey("bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")


@pytest.fixture
def keys_file(tmp_path, current_key, previous_key):
    path = tmp_path / "secret_scanning_keys.json"
    write_keys_file(path, current_key, previous_key)
    return path


@pytest.fixture
def app_config(keys_file) -> dict:
    # Generous here; the endpoint's own limit has its test below.
    return {
        "SECRET_SCANNING_KEYS_FILE": str(keys_file),
        "SECRET_SCANNING_RATE_LIMIT": "1000/minute",
    }


def entry(value: str, url: str = LEAK_URL) -> dict:
    return {"token": value, "type": TOKEN_TYPE, "url": url, "source": "content"}


def send_report(client, body: bytes, key: SigningKey | None, **kwargs):
    headers = key.headers(body) if key is not None else {}
    headers.update(kwargs.pop("headers", {}))
    response = client.post(
        ENDPOINT, data=body, headers=headers, content_type="application/json", **kwargs
    )
    # As a WSGI server does once the response is sent: the owners' emails go out then.
    response.get_data()
    response.close()
    return response


def report(client, key: SigningKey, *values: str, url: str = LEAK_URL):
    return send_report(client, json.dumps([entry(v, url) for v in values]).encode(), key)


def labels(response) -> list[str]:
    return [item["label"] for item in response.json]


def api_status(client, value: str) -> int:
    return client.get("/api/v2/me/", headers=auth_header(value)).status_code


@pytest.fixture
def leaked(member):
    """Bob's token whose value was pushed to a public repository."""
    return make_token(member, "Deploy bot")


# --- A live token reported ------------------------------------------------------------------


def test_reported_live_token_is_revoked_recorded_and_its_owner_mailed(
    client, admin, leaked, smtp_server, current_key
):
    token, value = leaked
    prefix = token.prefix
    assert api_status(client, value) == 200

    response = report(client, current_key, value)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.json == [
        {"token_raw": value, "token_type": TOKEN_TYPE, "label": "true_positive"}
    ]
    assert api_status(client, value) == 401
    assert count_rows(ApiToken) == 0

    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.subject.email == "bob@acme.test"
    assert activity.actor is None  # the system
    assert activity.message == (
        f"API token “Deploy bot” ({prefix}) revoked automatically: found in public at {LEAK_URL}"
    )
    assert activity.details == {"token_name": "Deploy bot", "prefix": prefix, "found_at": LEAK_URL}

    (message,) = smtp_server.messages
    assert message["X-Envelope-To"] == "bob@acme.test"
    assert message["Subject"] == f"Your API token {prefix} was revoked: it was found in public"
    text, html = text_part(message), html_part(message)
    assert LEAK_URL in text and "What to do now" in text and "Remove the value" in text
    assert f'<a href="{LEAK_URL}">' in html and "What to do now" in html
    assert value not in message.as_string() and value[12:44] not in message.as_string()

    # The superuser sees it in the organization's recent activity.
    client.sign_in(admin.email)
    home = client.get("/").get_data(as_text=True)
    assert "revoked automatically: found in public at" in home and prefix in home


def test_the_same_report_again_changes_nothing(client, leaked, smtp_server, current_key):
    token, value = leaked
    assert labels(report(client, current_key, value)) == ["true_positive"]
    after_first = database_snapshot()

    again = report(client, current_key, value)

    assert again.status_code == 200 and labels(again) == ["false_positive"]
    assert database_snapshot() == after_first
    assert len(smtp_server.messages) == 1


def test_a_value_repeated_in_one_report_is_revoked_once(client, leaked, smtp_server, current_key):
    token, value = leaked
    response = report(client, current_key, value, value)
    assert labels(response) == ["true_positive", "true_positive"]
    assert count_rows(Activity, kind="token_revoked") == 1
    assert len(smtp_server.messages) == 1


def test_a_report_without_a_url_still_revokes_and_says_so(client, leaked, smtp_server, current_key):
    token, value = leaked
    body = json.dumps([{"token": value, "type": TOKEN_TYPE}]).encode()
    assert labels(send_report(client, body, current_key)) == ["true_positive"]
    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.message.endswith(
        "revoked automatically: found in public at a place the scanner did not name"
    )
    assert "a place the scanner did not name" in text_part(smtp_server.messages[0])


def test_mixed_report_labels_each_value_and_revokes_only_live_tokens(
    client, org, member, current_key
):
    other_org = make_user(make_org("Initech"), "peter@initech.test")
    mine, my_value = make_token(member, "mine")
    theirs, their_value = make_token(other_org, "theirs")
    kept, kept_value = make_token(member, "kept")
    unknown = generate_token().value
    values = [
        my_value,
        "ghp_" + "x" * 36,
        bad_checksum(kept_value),
        wrong_secret(kept_value),
        unknown,
        their_value,
        "",
    ]

    response = report(client, current_key, *values)

    assert response.status_code == 200
    assert [item["token_raw"] for item in response.json] == values
    assert labels(response) == ["true_positive"] + ["false_positive"] * 4 + [
        "true_positive",
        "false_positive",
    ]
    assert {item["token_type"] for item in response.json} == {TOKEN_TYPE}
    assert api_status(client, my_value) == 401 and api_status(client, their_value) == 401
    assert api_status(client, kept_value) == 200
    assert [t.prefix for t in stored_rows(ApiToken)] == [kept.prefix]


def test_a_report_signed_by_the_previous_key_is_accepted(client, leaked, previous_key):
    token, value = leaked
    assert labels(report(client, previous_key, value)) == ["true_positive"]
    assert api_status(client, value) == 401


# --- Refused reports: 401 and nothing changes -----------------------------------------------


def assert_refused_and_nothing_changed(client, response, value, before, status=401):
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        assert response.json["detail"] == REFUSED
    assert "Nothing was changed" in response.json["detail"] or status == 413
    assert database_snapshot() == before
    assert api_status(client, value) == 200


def tampered(body: bytes) -> bytes:
    return body.replace(b'"source": "content"', b'"source": "commit"')


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key, body: ({}, body), id="unsigned"),
        pytest.param(
            lambda key, body: (SigningKey(key.key_id).headers(body), body), id="other-key"
        ),
        pytest.param(
            lambda key, body: (SigningKey("unknown-key").headers(body), body), id="unknown-id"
        ),
        pytest.param(lambda key, body: (key.headers(body), tampered(body)), id="tampered-body"),
        pytest.param(
            lambda key, body: (
                {**key.headers(body), "GITHUB-PUBLIC-KEY-SIGNATURE": "not base64!"},
                body,
            ),
            id="signature-not-base64",
        ),
        pytest.param(
            lambda key, body: (
                {
                    **key.headers(body),
                    "GITHUB-PUBLIC-KEY-SIGNATURE": base64.b64encode(b"x" * 70).decode(),
                },
                body,
            ),
            id="signature-not-der",
        ),
    ],
)
def test_a_report_not_signed_by_a_trusted_key_is_401_and_changes_nothing(
    client, leaked, current_key, smtp_server, forge
):
    token, value = leaked
    body = json.dumps([entry(value)]).encode()
    headers, sent_body = forge(current_key, body)
    before = database_snapshot()
    response = client.post(
        ENDPOINT, data=sent_body, headers=headers, content_type="application/json"
    )
    assert_refused_and_nothing_changed(client, response, value, before)
    assert smtp_server.messages == []


def test_a_superusers_token_or_session_is_no_signature(client, admin, leaked, current_key):
    token, value = leaked
    _, admin_value = make_token(admin, "admin script")
    body = json.dumps([entry(value)]).encode()
    client.sign_in(admin.email)  # signing in writes its own session rows: before the snapshot
    before = database_snapshot(USAGE_COLUMNS)
    with_token = client.post(
        ENDPOINT, data=body, headers=auth_header(admin_value), content_type="application/json"
    )
    with_session = client.post(ENDPOINT, data=body, content_type="application/json")
    for response in (with_token, with_session):
        assert response.status_code == 401 and response.json["detail"] == REFUSED
    assert database_snapshot(USAGE_COLUMNS) == before
    assert api_status(client, value) == 200


def test_a_refused_key_identifier_is_logged_without_a_token_value_and_bounded(
    client, leaked, current_key, logs
):
    # A confused client may put its token in the key id header; a forger, anything at all.
    token, value = leaked
    body = json.dumps([entry(value)]).encode()
    for key_id in (value, "x" * 5000):
        headers = {**current_key.headers(body), "GITHUB-PUBLIC-KEY-IDENTIFIER": key_id}
        assert send_report(client, body, None, headers=headers).status_code == 401
    assert value not in logs.text and value[12:44] not in logs.text
    assert "unknown key identifier" in logs.text and f'key_id="{token.prefix}' in logs.text
    assert "x" * 200 not in logs.text


def test_a_key_rotated_out_of_the_file_is_refused_and_a_new_one_trusted_without_restart(
    client, member, keys_file, current_key, previous_key
):
    first, first_value = make_token(member, "first")
    second, second_value = make_token(member, "second")
    new_key = SigningKey("2b8c6f1e0a7d4c3b9e5f8a1d6c4b2e7f0a9d8c7b6e5f4a3b2c1d0e9f8a7b6c5d")
    write_keys_file(keys_file, new_key, current_key)  # previous_key has expired

    before = database_snapshot()
    expired = report(client, previous_key, first_value)
    assert_refused_and_nothing_changed(client, expired, first_value, before)

    assert labels(report(client, new_key, first_value)) == ["true_positive"]
    assert labels(report(client, current_key, second_value)) == ["true_positive"]


# --- Malformed reports: a clear 4xx and nothing changes -------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"not json", "The body must be a JSON array."),
        (b'{"token": "x"}', "The body must be a JSON array."),
        (b"[" * 100_000 + b"]" * 100_000, "The body must be a JSON array."),
        (b"[1]", "Entry 0 is not an object."),
        (b'[{"type": "t", "url": "u"}]', "Entry 0: “token” must be a string."),
        (b'[{"token": 5, "type": "t"}]', "Entry 0: “token” must be a string."),
        (b'[{"token": "x", "type": "t", "url": ["u"]}]', "Entry 0: “url” must be a string."),
        (
            b'[{"token": "x", "type": "t", "url": "https://x/\\u0000"}]',
            "Entry 0: “url” must be at most 2000 printable characters.",
        ),
        (
            json.dumps([{"token": "x", "type": "t"}] * 1001).encode(),
            "A report holds at most 1000 entries.",
        ),
    ],
    ids=[
        "not-json",
        "object",
        "deeply-nested",
        "entry-not-object",
        "no-token",
        "token-not-string",
        "url-not-string",
        "url-with-nul",
        "1001-entries",
    ],
)
def test_a_malformed_signed_report_is_400_with_why_and_changes_nothing(
    client, leaked, current_key, body, detail
):
    token, value = leaked
    # A well-formed live entry first: refusing the whole report must not revoke it either.
    if body.startswith(b"[{"):
        body = b"[" + json.dumps(entry(value)).encode() + b"," + body[1:]
        detail = detail.replace("Entry 0", "Entry 1")
    before = database_snapshot()
    response = send_report(client, body, current_key)
    assert_refused_and_nothing_changed(client, response, value, before, status=400)
    assert response.json["detail"] == f"{detail} Nothing was changed."


def test_a_report_over_1_mb_is_413_and_changes_nothing_while_one_under_is_read(
    client, leaked, current_key
):
    token, value = leaked
    over = json.dumps([entry(value), entry("x" * 1024 * 1024)]).encode()
    before = database_snapshot()
    response = send_report(client, over, current_key)
    assert_refused_and_nothing_changed(client, response, value, before, status=413)

    under = json.dumps([entry(value), entry("x" * (1024 * 1024 - 1000))]).encode()
    assert labels(send_report(client, under, current_key)) == ["true_positive", "false_positive"]


# Any JSON at all, and entries in nearly the partner format, with odd values in every field.
hostile_text = st.text(max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
near_entries = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            name: json_values | st.text(string.printable + "\x00\u202e\ud800", max_size=80)
            for name in ("token", "type", "url", "source")
        },
    ),
    max_size=5,
)
hostile_bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | near_entries.map(lambda value: json.dumps(value).encode())
)


@settings(max_examples=20)
@given(body=hostile_bodies)
def test_hostile_signed_bodies_never_500_and_change_nothing(client, leaked, current_key, body):
    token, value = leaked
    before = database_snapshot()
    response = send_report(client, body, current_key)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert database_snapshot() == before
    if response.status_code == 200:
        assert set(labels(response)) <= {"false_positive"}


# --- Secrecy, cost and limits ----------------------------------------------------------------


def test_values_that_are_not_well_formed_tokens_are_answered_without_a_database_query(
    client, leaked, current_key
):
    token, value = leaked
    not_tokens = ["ghp_" + "x" * 36, bad_checksum(value), value[:-1], "tka_" + "A" * 46, ""]
    statements, stop = count_queries()
    try:
        response = report(client, current_key, *not_tokens)
    finally:
        stop()
    assert labels(response) == ["false_positive"] * len(not_tokens)
    assert statements == []
    # The counter does count: one well-formed value is one lookup, of every value at once.
    statements, stop = count_queries()
    try:
        report(client, current_key, generate_token().value, generate_token().value)
    finally:
        stop()
    assert len(statements) == 1 and "api_tokens" in statements[0]


def test_no_reported_value_is_logged_or_stored(
    client, member, current_key, smtp_server, logs, database_url
):
    token, value = make_token(member, "Deploy bot")
    unknown, not_token = generate_token().value, "ghp_" + "s3cr3t" * 6
    values = [value, unknown, bad_checksum(value), not_token]
    assert labels(report(client, current_key, *values))[0] == "true_positive"
    client.post(ENDPOINT, data=json.dumps([entry(unknown)]), content_type="application/json")

    stored = every_stored_value(database_url)
    for reported in values:
        assert reported not in logs.text
        assert reported.encode() not in stored
    assert value[12:44] not in logs.text and value[12:44].encode() not in stored
    # The log does say what happened, by prefix.
    assert f"revoked {token.prefix} automatically" in logs.text
    assert "secret-scanning report refused: missing signature headers" in logs.text


def test_token_values_in_a_reported_url_are_masked_in_the_log_activity_and_email(
    client, member, current_key, smtp_server, logs, database_url
):
    # A paste site's URL can carry the leaked value, or another live token's value, itself.
    token, value = make_token(member, "Deploy bot")
    other, other_value = make_token(member, "Nightly export")
    url = f"https://paste.example/raw?leak={value}&also={other_value}"

    assert labels(report(client, current_key, value, url=url)) == ["true_positive"]

    shown = f"https://paste.example/raw?leak={token.prefix}…[masked]&also={other.prefix}…[masked]"
    [activity] = stored_rows(Activity, kind="token_revoked")
    assert activity.details["found_at"] == shown and activity.message.endswith(shown)
    (message,) = smtp_server.messages
    assert shown in text_part(message)
    stored = every_stored_value(database_url)
    for secret in (value, other_value):
        assert secret not in logs.text and secret[12:44] not in logs.text
        assert secret.encode() not in stored and secret not in message.as_string()
    assert api_status(client, other_value) == 200  # not reported, so not revoked


@pytest.mark.parametrize("limit", ["3/minute"])
def test_the_endpoint_has_its_own_rate_limit(app, client, leaked, current_key, limit):
    app.config["SECRET_SCANNING_RATE_LIMIT"] = limit
    token, value = leaked
    statuses = [report(client, current_key, "not a token").status_code for _ in range(3)]
    blocked = report(client, current_key, value)
    assert statuses == [200] * 3
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert api_status(client, value) == 200
    # Sign-ins have their own budget, untouched by reports.
    assert (
        client.post("/api/v2/api-token-auth/", json={"username": "x", "password": "y"}).status_code
        == 401
    )


def test_without_a_keys_file_the_endpoint_is_off(app, client, leaked, current_key):
    app.config["SECRET_SCANNING_KEYS_FILE"] = None
    token, value = leaked
    response = report(client, current_key, value)
    assert response.status_code == 404 and "not set up" in response.json["detail"]
    assert api_status(client, value) == 200


@pytest.mark.parametrize(
    "contents",
    [
        pytest.param(
            '{"public_keys": [{"key_identifier": "k", "key": "not a PEM key"}]}', id="pem"
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
    ],
)
def test_an_unreadable_keys_file_is_503_and_changes_nothing(
    client, leaked, current_key, keys_file, logs, contents
):
    token, value = leaked
    keys_file.write_text(contents)
    before = database_snapshot()
    response = report(client, current_key, value)
    assert_refused_and_nothing_changed(client, response, value, before, status=503)
    assert "secret-scanning keys file unusable" in logs.text


@pytest.mark.parametrize(
    "key_ids",
    [
        pytest.param([None], id="null-is-not-the-id-None"),
        pytest.param([7], id="a-number"),
        pytest.param([""], id="empty"),
        pytest.param(["same", "same"], id="one-id-two-keys"),
    ],
)
def test_a_keys_file_whose_key_identifiers_are_ambiguous_is_503(
    client, leaked, current_key, keys_file, key_ids
):
    # Which key a header names must never be a guess: str(None), str(7), or the last of two.
    token, value = leaked
    keys = [{"key_identifier": key_id, "key": current_key.pem()} for key_id in key_ids]
    keys_file.write_text(json.dumps({"public_keys": keys}))
    before = database_snapshot()
    body = json.dumps([entry(value)]).encode()
    headers = {**current_key.headers(body), "GITHUB-PUBLIC-KEY-IDENTIFIER": str(key_ids[0])}
    response = send_report(client, body, None, headers=headers)
    assert_refused_and_nothing_changed(client, response, value, before, status=503)
