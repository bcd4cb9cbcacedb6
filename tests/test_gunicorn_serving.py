"""The app as `make serve` runs it: gunicorn with gunicorn.conf.py."""

import pytest

from bench.server import Gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture
def server(database_url, tmp_path):
    # As deployed: SESSION_COOKIE_SECURE comes from gunicorn.conf.py, not from the test.
    server = Gunicorn(
        {"DATABASE_URL": database_url, "SESSION_COOKIE_SECURE": None}, tmp_path / "gunicorn.log"
    )
    yield server
    server.stop()


def get(server: Gunicorn, path: str, headers: dict | None = None):
    connection = server.connection()
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_cookies_are_secure_under_gunicorn(server):
    response = get(server, "/login")
    cookie = response.getheader("Set-Cookie")
    assert response.status == 200 and cookie.startswith("session=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax"} <= attributes


def test_hsts_when_the_local_proxy_says_https(server):
    assert get(server, "/login").getheader("Strict-Transport-Security") is None
    behind_tls = get(server, "/login", {"X-Forwarded-Proto": "https"})
    assert behind_tls.getheader("Strict-Transport-Security").startswith("max-age=")


def test_access_log_and_request_log_leave_out_query_strings(server):
    get(server, "/login?next=/tokens&secret=s3cr3t-value")
    server.stop()
    log = server.log()
    assert '"GET /login" 200' in log  # gunicorn's access line
    assert "tokenaudit.requests method=GET path=/login status=200" in log
    assert "s3cr3t-value" not in log
