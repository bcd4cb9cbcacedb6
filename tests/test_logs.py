"""Logs: one line per request, every authentication failure with its reason, never a secret."""

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterable

import pytest
from conftest import PASSWORD, auth_header, bad_checksum, make_token, update_stored

from bench.server import PROJECT_ROOT, free_port, wait_until_listening
from tokenaudit.tokens import generate_token


def request_lines(records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    return [record for record in records if record.name == "tokenaudit.requests"]


def auth_failures(records: Iterable[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records if record.name == "tokenaudit.auth"]


def test_api_request_line_has_method_path_status_duration_and_token_prefix(
    client, member, log_records
):
    token, value = make_token(member)
    client.get("/api/v2/tokens/?q=secret-in-query", headers=auth_header(value))
    [line] = request_lines(log_records)
    message = line.getMessage()
    assert message.startswith("method=GET path=/api/v2/tokens/ status=200 duration_ms=")
    assert f"user_id={member.id} token={token.prefix}" in message
    assert "secret-in-query" not in message
    assert line.request["status"] == 200 and line.request["duration_ms"] >= 0


def test_page_request_line_names_the_signed_in_user(admin_client, admin, log_records):
    admin_client.get("/team?page=1")
    [line] = request_lines(log_records)
    assert line.getMessage().startswith("method=GET path=/team status=200 ")
    assert f"user_id={admin.id}" in line.getMessage() and "page=1" not in line.getMessage()


def test_refused_requests_are_logged_too(client, log_records):
    client.get("/api/v2/me/")
    client.get("/no-such-page")
    statuses = [line.request["status"] for line in request_lines(log_records)]
    assert statuses == [401, 404]


def test_paths_are_quoted_so_a_line_cannot_be_forged(client, log_records):
    client.get("/nope%0Amethod=GET path=/forged status=200")
    [line] = request_lines(log_records)
    assert "\n" not in line.getMessage()
    assert 'path="/nope\\nmethod=GET path=/forged status=200"' in line.getMessage()


@pytest.mark.parametrize(
    ("attempt", "reason"),
    [
        ({"email": "carol@acme.test", "password": "wrong password"}, "wrong password"),
        ({"email": "ghost@acme.test", "password": "wrong password"}, "unknown email"),
    ],
)
def test_failed_sign_in_is_logged_with_its_reason(client, admin, log_records, attempt, reason):
    client.submit("/login", attempt)
    [failure] = auth_failures(log_records)
    assert f'reason="{reason}"' in failure and "path=/login" in failure
    assert "wrong password" not in failure.replace(f'"{reason}"', "")  # the password itself
    assert "ghost@acme.test" not in failure  # an unknown "email" may be a mistyped password


def test_api_failures_are_logged_with_their_reasons(client, member, log_records):
    token, value = make_token(member)
    unknown = generate_token()
    client.get("/api/v2/me/")
    client.get("/api/v2/me/", headers=auth_header("not-a-token"))
    client.get("/api/v2/me/", headers=auth_header(unknown.value))
    client.post("/api/v2/api-token-auth/", json={"username": member.email, "password": "nope!"})
    failures = auth_failures(log_records)
    assert len(failures) == 4
    assert "missing Authorization header" in failures[0]
    assert "malformed token" in failures[1]
    assert f"unknown token {unknown.prefix}" in failures[2]
    assert (
        f'reason="wrong password" method=POST path=/api/v2/api-token-auth/ user_id={member.id}'
        in failures[3]
    )


def test_session_of_a_deactivated_user_is_refused_and_logged(admin_client, admin, log_records):
    update_stored(admin, is_active=False)
    assert admin_client.get("/").status_code == 302
    assert (
        f'reason="session of a deactivated user" method=GET path=/ user_id={admin.id}'
        in (auth_failures(log_records)[-1])
    )


def test_rate_limited_sign_in_is_logged(client, admin, log_records):
    for _ in range(11):
        client.submit("/login", {"email": admin.email, "password": "nope nope"})
    assert "too many attempts" in auth_failures(log_records)[-1]


def test_no_log_line_ever_holds_a_token_value_or_password(client, admin, member, log_records):
    token, value = make_token(member)
    secret = "hunter2 hunter2"
    client.submit("/login", {"email": admin.email, "password": secret})
    client.submit("/login", {"email": secret, "password": secret})
    client.post("/api/v2/api-token-auth/", json={"username": member.email, "password": secret})
    created = client.post(
        "/api/v2/api-token-auth/", json={"username": member.email, "password": PASSWORD}
    ).json["token"]
    client.get(f"/api/v2/me/?token={value}", headers=auth_header(value))
    client.get(f"/api/v2/{value}/", headers=auth_header(value))  # a token pasted into a path
    client.get("/api/v2/me/", headers=auth_header(bad_checksum(value)))
    client.delete(f"/api/v2/tokens/{token.id}/", headers=auth_header(value))
    client.get("/api/v2/me/", headers=auth_header(value))  # revoked
    logged = "\n".join(record.getMessage() for record in log_records)
    assert request_lines(log_records) and auth_failures(log_records)
    for secret_text in (value, value[12:], created, created[12:], secret, PASSWORD):
        assert secret_text not in logged


@pytest.mark.parametrize(
    ("request_line", "status", "logged"),
    [
        (
            "GET /login?next=/tokens&secret=s3cr3t-in-query HTTP/1.1",
            200,
            "method=GET path=/login status=200",
        ),
        # A request line Werkzeug cannot parse (a space in the query): its error line quotes it.
        ("GET /login?q=my s3cr3t-in-query HTTP/1.1", 400, "Bad request syntax ('GET /login?…"),
    ],
)
@pytest.mark.slow  # a real `flask run` server per case
def test_development_server_logs_no_query_string(
    database_url, tmp_path, request_line, status, logged
):
    """`make run` (flask run): Werkzeug's own lines, which hold the query, never log it."""
    port = free_port()
    log_path = tmp_path / "flask-run.log"
    environment = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test secret key"}
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_listening(port, server)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(f"{request_line}\r\nHost: 127.0.0.1\r\n\r\n".encode())
                answer = connection.recv(100)
            assert answer.startswith(f"HTTP/1.1 {status} ".encode())
        finally:
            server.terminate()
            server.wait(10)
    output = log_path.read_text()
    assert logged in output
    assert "s3cr3t-in-query" not in output
