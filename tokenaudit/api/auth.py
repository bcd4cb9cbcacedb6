"""Every API endpoint but the token-issuing one requires `Authorization: Token <value>`."""

from flask import g, jsonify, request

from ..accounts import log_auth_failure
from ..token_auth import check_authorization_header, record_token_use
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
    check = check_authorization_header(request.headers.get("Authorization"))
    if check.token is None:
        log_auth_failure(check.failure)
        response = jsonify(detail=check.detail or UNAUTHORIZED_DETAIL)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Token"
        return response
    record_token_use(check.token, request.method, request.path)
    g.api_token = check.token
    g.api_user = check.token.owner
    return None
