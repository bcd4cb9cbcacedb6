"""Response headers every answer gets: what browsers may run, frame and cache."""

from __future__ import annotations

from flask import Flask, Response, request

from .request_log import signed_in_user_id

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _shows_account_data() -> bool:
    """Whether this answer is for a signed-in user or the API: never to be cached anywhere."""
    return request.blueprint == "api" or signed_in_user_id() is not None


def add_security_headers(response: Response) -> Response:
    if _shows_account_data():
        # Tokens, names and emails: not in a shared cache, not on disk, not in the back
        # button's copy (a new token's value is on such a page).
        response.headers["Cache-Control"] = "private, no-store"
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    return response


def retry_after_only_on_refusals(response: Response) -> Response:
    """Flask-Limiter writes `Retry-After: 0` on every answer of a limited route; only a 429 has
    something to wait for."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def register_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
