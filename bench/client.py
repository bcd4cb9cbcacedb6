"""A small HTTP client for loopback benchmarks: keep-alive when the server allows, cookies."""

from __future__ import annotations

import http.client
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Client:
    """One connection to 127.0.0.1:port; reconnects when the server closes it (sync workers do)."""

    port: int
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
        """Send one request; the time covers sending it and reading the whole response."""
        all_headers = {**self.headers, **headers}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=body, headers=all_headers)
            response = self._connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection between requests: once more.
            self._connection.close()
            started = time.perf_counter()
            self._connection.request(method, path, body=body, headers=all_headers)
            response = self._connection.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self._connection.close()
        return Reply(response.status, data, seconds)

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, **headers)

    def post_json(self, path: str, payload: dict) -> Reply:
        return self.request(
            "POST", path, json.dumps(payload).encode(), **{"Content-Type": "application/json"}
        )

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        return self.request(
            "POST",
            path,
            urlencode(fields).encode(),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )

    def close(self) -> None:
        self._connection.close()


def sign_in(port: int, email: str, password: str) -> Client:
    """A client with a session cookie, signed in through the login form like a browser."""
    client = Client(port)
    page = client.get("/login").body.decode()
    match = CSRF_PATTERN.search(page)
    if match is None:
        raise RuntimeError("no CSRF token on /login")
    reply = client.post_form(
        "/login", {"csrf_token": match.group(1), "email": email, "password": password}
    )
    if reply.status != 302:
        raise RuntimeError(f"sign-in failed with {reply.status}")
    return client


def api_token(port: int, email: str, password: str) -> str:
    """A new API token for the user, from POST /api/v2/api-token-auth/."""
    client = Client(port)
    try:
        reply = client.post_json(
            "/api/v2/api-token-auth/", {"username": email, "password": password, "name": "bench"}
        )
    finally:
        client.close()
    if reply.status != 200:
        raise RuntimeError(f"api-token-auth failed with {reply.status}: {reply.body[:200]!r}")
    return reply.json()["token"]
