"""The request plumbing every blueprint shares: who may see what (access), htmx answers, error
pages, the request log, response headers, template filters, the revoke views, CSV downloads and
sign-in budgets. Nothing here knows a business rule; the domain modules in tokenaudit/ know no
request (docs/architecture.md; tests/test_layers.py holds both to it).
"""

from __future__ import annotations

from flask import Flask, Response, request, url_for
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from ..extensions import db, login_manager
from ..models import User, parse_positive_int
from .errors import register_error_handlers
from .headers import register_headers
from .htmx import redirect_window_or_page
from .request_log import register_request_log
from .sign_in import log_auth_failure
from .templating import register_templating


class IdConverter(IntegerConverter):
    """`<id:name>`: a database id, read as every id is (parse_positive_int): anything else,
    a larger number included, is 404 rather than a database overflow.

    ASCII digits only in the pattern too: Werkzeug's `\\d` also matches other scripts' digits.
    NotFound, not ValidationError: Werkzeug answers a ValidationError with 405 when another
    rule has the same path for another method (POST /tokens/0/revoke beside its GET).
    """

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        token_id = parse_positive_int(value)
        if token_id is None:
            raise NotFound()
        return token_id


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a body nested too deep for Python's parser read as malformed.

    The parser gives up on ~100,000 nested brackets with a RecursionError, which get_json
    (even silent) does not catch: a 500 for anyone posting to api-token-auth. As a ValueError,
    it is what get_json already treats as a bad body.
    """

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as error:
            raise ValueError("JSON nested too deep") from error


def register_web(app: Flask) -> None:
    """Wire the plumbing into the app (before the blueprints are registered)."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    register_request_log(app)
    register_templating(app)
    register_headers(app)
    register_error_handlers(app)
    register_sign_in_checks()


def register_sign_in_checks() -> None:
    """How a session cookie becomes a user, and where a request without one is sent."""
    from ..sessions import session_is_live

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # A deactivated user's existing sessions end at once; a signed-out, idle or revoked
        # session's cookie is refused even though its signature is still good.
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        if user is not None and not user.is_active:
            log_auth_failure("session of a deactivated user", user_id=user.id)
            return None
        if user is not None and not session_is_live(user):
            log_auth_failure("session ended or idle", user_id=user.id)
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        # Never swap a login page into a table: an htmx request sends the whole window there.
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        return redirect_window_or_page(login_url, "Your session has expired. Please sign in again.")
