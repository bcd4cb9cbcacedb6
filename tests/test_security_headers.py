"""Security headers on every response, and cookies that scripts and other sites cannot use."""

from pathlib import Path

import pytest
from conftest import auth_header, make_token

from tokenaudit.config import load_config


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/api/v2/me/", "/static/app.js"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = csp_directives(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_need_no_inline_script_that_the_policy_would_block(admin_client, member):
    make_token(member)
    for path in ("/", "/team", "/tokens", "/login"):
        page = admin_client.get(path).get_data(as_text=True)
        for tag in page.split("<script")[1:]:
            assert " src=" in tag.split(">")[0], f"inline script on {path}"
        assert " onclick=" not in page and " onload=" not in page and "javascript:" not in page


def test_hsts_only_when_served_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://tokenaudit.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_behind_a_proxy_that_says_https(client):
    """gunicorn turns X-Forwarded-Proto from a trusted proxy into the https scheme."""
    response = client.get("/login", environ_overrides={"wsgi.url_scheme": "https"})
    assert "Strict-Transport-Security" in response.headers


def test_session_cookie_is_httponly_samesite_lax_and_secure(client, admin):
    client.sign_in(admin.email)
    cookie = client.get_cookie("session", domain="tokenaudit.test")
    assert cookie is not None
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.secure


def test_api_sets_no_cookies(client, member):
    _, value = make_token(member)
    response = client.get("/api/v2/me/", headers=auth_header(value))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_token_requests_leave_a_signed_in_browsers_cookie_alone(client, member):
    """A token-authenticated answer depends on the token alone: the session cookie a browser
    sends along is not opened, so the answer neither varies on it nor sets it."""
    client.sign_in(member.email)
    _, value = make_token(member)
    response = client.get("/api/v2/me/", headers=auth_header(value))
    assert response.status_code == 200 and response.json["email"] == member.email
    assert "Set-Cookie" not in response.headers
    assert "cookie" not in response.vary
    assert client.get("/profile/tokens").status_code == 200  # the browser is still signed in


@pytest.mark.parametrize(
    ("environment", "secure"),
    [
        ({}, True),  # production unless told otherwise
        ({"FLASK_DEBUG": "1"}, False),  # `flask run --debug` on http://127.0.0.1
        ({"SESSION_COOKIE_SECURE": "false"}, False),  # `make run`
        ({"FLASK_DEBUG": "1", "SESSION_COOKIE_SECURE": "true"}, True),
    ],
)
def test_cookies_are_secure_outside_development(monkeypatch, tmp_path: Path, environment, secure):
    for name in ("FLASK_DEBUG", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "x")
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is secure
    assert config["REMEMBER_COOKIE_SECURE"] is secure
    assert config["SESSION_COOKIE_HTTPONLY"] and config["REMEMBER_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize("path", ["/", "/team", "/tokens", "/tokens?q=ci", "/profile/tokens"])
def test_every_signed_in_page_is_kept_out_of_every_cache(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    fragment = admin_client.htmx_get(path)
    assert fragment.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("path", ["/api/v2/me/", "/api/v2/tokens/", "/api/v2/organization/tokens/"])
def test_every_api_answer_is_kept_out_of_every_cache(client, admin, path):
    _, value = make_token(admin)
    response = client.get(path, headers=auth_header(value))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    refused = client.get(path)
    assert refused.status_code == 401
    assert refused.headers["Cache-Control"] == "private, no-store"
