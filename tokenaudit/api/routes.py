"""The JSON endpoints under /api/v2/: issuing a token for a password, the caller and their
tokens (list, revoke, rotate), and the organization's tokens for superusers (list, revoke one or
many). Secret-scanning reports are in secret_scanning.py; authentication is in auth.py."""

from flask import abort, g, jsonify, request

from ..bulk_revocation import revoke_tokens
from ..clock import iso_utc, utcnow
from ..models import MAX_ID, ApiToken, User, parse_positive_int
from ..personal_tokens import (
    InvalidTokenName,
    TokenAlreadyRotated,
    clean_token_name,
    create_personal_token,
    rotate_personal_token,
    tokens_of,
)
from ..revocation import TokenAlreadyRevoked, revoke_token
from ..token_filters import TokenFilters
from ..token_lifetime import LifetimeRefused, expiry_in_days, means_never, parse_days
from ..token_listing import TokenListParams, search_org_tokens
from ..web.access import TOKEN_GONE, get_org_token_or_404, get_own_token_or_404, require_superuser
from ..web.sign_in import checked_credentials, log_auth_failure, sign_in_budget, sign_in_succeeded
from . import bp


def token_json(token: ApiToken, filters: TokenFilters | None = None) -> dict:
    """A token as the API shows it: never its value. With `filters`, as the audit shows it:
    its owner and its status too."""
    data = {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso_utc(token.created_at),
        "last_used_at": iso_utc(token.last_used_at),
        "last_used_method": token.last_used_method,
        "last_used_path": token.last_used_path,
        "expires_at": iso_utc(token.expires_at),
        "last_used_ip": token.last_used_ip,
    }
    if filters is not None:
        data["user"] = {
            "id": token.owner.id,
            "name": token.owner.full_name,
            "email": token.owner.email,
        }
        data["status"] = filters.status_of(token)
    return data


def _credentials() -> dict:
    """The api-token-auth body: JSON only (415 otherwise); 400 unless an object of strings.

    A web page can make its visitors' browsers post a form anywhere, but not JSON (that needs a
    CORS preflight we never grant): refusing forms stops pages using visitors to guess passwords.
    """
    if not request.is_json:
        abort(415, "Send the credentials as JSON (Content-Type: application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "The request body must be a JSON object.")
    for field in ("username", "password"):
        if not isinstance(body.get(field), str) or not body[field]:
            abort(400, f"The field “{field}” is required and must be a string.")
    return body


def _revoke_or_404(token: ApiToken):
    try:
        revoke_token(token, actor=g.api_user)
    except TokenAlreadyRevoked:
        abort(404, TOKEN_GONE)
    return "", 204


@bp.post("/api-token-auth/")
@sign_in_budget
def create_token():
    """Exchange an email and password for a new token (only hashes are kept: always a new one)."""
    body = _credentials()
    try:
        name = clean_token_name(body.get("name") or f"API token {utcnow():%Y-%m-%d %H:%M} UTC")
    except InvalidTokenName as problem:
        abort(400, str(problem))
    requested_lifetime = body.get("expires_in_days")
    try:
        # Its form first, before the password is checked; the policy once the owner is known.
        if not means_never(requested_lifetime):
            parse_days(requested_lifetime, "expires_in_days")
    except LifetimeRefused as problem:
        abort(400, str(problem))
    user = checked_credentials(body["username"], body["password"])
    if user is None:
        abort(401, "Unable to sign in with the credentials provided.")
    if not user.can_manage_tokens:
        log_auth_failure("user lacks the token permission", user_id=user.id)
        abort(403, "You do not have permission to create and manage personal API tokens.")
    try:
        expires_at = expiry_in_days(user.organization, requested_lifetime)
    except LifetimeRefused as problem:
        abort(400, str(problem))
    sign_in_succeeded(user)
    try:
        token, value = create_personal_token(user, name, expires_at)
    except LifetimeRefused as problem:  # the maximum was lowered since the check above
        abort(400, str(problem))
    # 200 rather than 201, as the api-token-auth endpoint of the product this is modelled on.
    return _new_value_response(token, value)


def _new_value_response(token: ApiToken, value: str):
    """A token's value, shown this once (never cached: every API answer is no-store)."""
    return jsonify(
        token=value, prefix=token.prefix, name=token.name, expires_at=iso_utc(token.expires_at)
    )


def user_json(user: User) -> dict:
    """A user as GET /api/v2/me/ shows them (the benchmark probe renders the same)."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.full_name,
        "organization": {"id": user.organization.id, "name": user.organization.name},
        "is_superuser": user.is_superuser,
    }


@bp.get("/me/")
def me():
    """The token's owner."""
    return jsonify(user_json(g.api_user))


@bp.get("/tokens/")
def own_tokens():
    """The caller's own tokens."""
    return jsonify(tokens=[token_json(token) for token in tokens_of(g.api_user)])


@bp.delete("/tokens/<id:token_id>/")
def revoke_own_token(token_id: int):
    """Revoke one of the caller's own tokens."""
    return _revoke_or_404(get_own_token_or_404(token_id, g.api_user))


@bp.post("/tokens/<id:token_id>/rotate/")
def rotate_own_token(token_id: int):
    """Give one of the caller's own tokens a new value and lifetime; the old value dies now."""
    token = get_own_token_or_404(token_id, g.api_user)
    try:
        value = rotate_personal_token(token, actor=g.api_user)
    except TokenAlreadyRotated:
        abort(409, "That token was just rotated or revoked by another request.")
    return _new_value_response(token, value)


@bp.get("/organization/tokens/")
def organization_tokens():
    """Every token of the organization: the audit page's search, sort and pages."""
    require_superuser(g.api_user)
    raw_page = request.args.get("page") or "1"  # empty means the first, as in DRF
    if parse_positive_int(raw_page) is None:
        # page=0 or -1 is not read as page 1 (as the page does): a client counting from 0
        # would get it twice.
        abort(404, "Invalid page: pages are numbered from 1.")
    params = TokenListParams.from_args(request.args)
    result = search_org_tokens(g.api_user.organization_id, params)
    if result.page != params.page:  # the page shows the last page instead; a client must know
        abort(404, f"Invalid page: there are {result.pages} pages.")
    return jsonify(
        tokens=[token_json(token, params.filters) for token in result.tokens],
        count=result.total,
        page=result.page,
        pages=result.pages,
    )


@bp.delete("/organization/tokens/<id:token_id>/")
def revoke_organization_token(token_id: int):
    """Revoke any token of the organization, with the same effects as the audit page."""
    require_superuser(g.api_user)
    return _revoke_or_404(get_org_token_or_404(token_id, g.api_user))


def _requested_token_ids() -> list[int]:
    """The JSON body's "ids": a list of token ids; 415 or 400 otherwise, before anything changes."""
    if not request.is_json:
        abort(415, 'Send a JSON body: {"ids": [...]}.')
    body = request.get_json(silent=True)
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids:
        abort(400, "The field “ids” is required: a non-empty list of token ids.")
    if not all(type(i) is int and 1 <= i <= MAX_ID for i in ids):
        abort(400, "Every entry of “ids” must be a token id (a positive integer).")
    return ids


@bp.post("/organization/tokens/revoke/")
def revoke_organization_tokens():
    """Revoke many tokens of the organization at once; ids already gone are listed, not errors."""
    require_superuser(g.api_user)
    ids = _requested_token_ids()
    result = revoke_tokens(ids, actor=g.api_user)
    return jsonify(revoked=result.revoked, not_found=result.gone)
