"""Every API endpoint but the token-issuing one requires `Authorization: Token <value>`."""

from flask import Flask, g, jsonify, request
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface

from ..extensions import limiter
from ..token_auth import check_authorization_header
from ..web.sign_in import log_auth_failure
from . import bp

# Endpoints reachable without a token: the one that exchanges a password for a token, and the
# secret scanners' reports (authenticated by their signature instead).
PUBLIC_ENDPOINTS = {"api.create_token", "api.secret_scanning_report"}
UNAUTHORIZED_DETAIL = "Authentication credentials were not provided or are not valid."


@bp.before_request
def authenticate_token():
    """Resolve the token before any view runs; refuse with 401 when it is not good."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    check = check_authorization_header(
        request.headers.get("Authorization"), request.method, request.path, request.remote_addr
    )
    if check.token is None:
        log_auth_failure(check.failure)
        response = jsonify(detail=check.detail or UNAUTHORIZED_DETAIL)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Token"
        return response
    g.api_token = check.token
    g.api_user = check.token.owner
    return None


# Limits guard the sign-ins (the public endpoint and /login); a token-authenticated endpoint
# has none, so it skips resolving them (docs/benchmark-changes.md). A limit added to one of
# them must also come off this filter. (Registered once: the limiter is shared by every app.)
@limiter.request_filter
def _token_authenticated() -> bool:
    return request.blueprint == bp.name and request.endpoint not in PUBLIC_ENDPOINTS


class NoCookieSessionOnTokenRequests(SecureCookieSessionInterface):
    """Token-authenticated requests never read or write the cookie session: they have none,
    and opening it cost time on every API call (docs/benchmark-changes.md)."""

    def open_session(self, app, request):
        # Flask opens the session before it matches the URL, so the endpoint is not known yet:
        # match it now (~5 µs; Flask matches again right after, to the same result).
        if request_ctx.url_adapter is not None:
            request_ctx.match_request()
        if _token_authenticated():
            return None  # Flask's null session: reading works, writing would fail loudly
        return super().open_session(app, request)


def register_token_request_shortcuts(app: Flask) -> None:
    """Token-authenticated requests skip the cookie session (and, above, limit resolution)."""
    app.session_interface = NoCookieSessionOnTokenRequests()
