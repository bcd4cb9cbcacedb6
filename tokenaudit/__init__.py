"""TokenAudit: audit and revoke an organization's personal API tokens."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config
from .extensions import csrf, db, limiter, login_manager, mail, migrate
from .formatting import register_filters
from .htmx import redirect_window
from .request_log import register_request_log, signed_in_user_id
from .routing import IdConverter
from .row_urls import register_row_urls

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers, CLI."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if proxies := app.config["TRUSTED_PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    register_request_log(app)
    register_extensions(app)
    register_blueprints(app)
    register_filters(app)
    register_row_urls(app)
    register_security_headers(app)
    # Browsers ask for /favicon.ico on every page whatever the page links to.
    app.add_url_rule(
        "/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"), methods=["GET"]
    )

    from .errors import register_error_handlers

    register_error_handlers(app)

    from .cli import register_cli

    register_cli(app)

    from .outbox_retry import register_outbox_retry

    register_outbox_retry(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    app.after_request(retry_after_only_on_refusals)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."

    from .accounts import log_auth_failure
    from .models import User
    from .sessions import session_is_live

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
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request") == "true":
            # Never swap a login page into a table: send the whole window there.
            return redirect_window(login_url, "Your session has expired. Please sign in again.")
        return redirect(login_url)

    @app.context_processor
    def inject_user() -> dict:
        return {"current_user": current_user}


def retry_after_only_on_refusals(response: Response) -> Response:
    """Flask-Limiter writes `Retry-After: 0` on every answer of a limited route; only a 429 has
    something to wait for."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .org import bp as org_bp
    from .profile import bp as profile_bp

    for blueprint in (auth_bp, org_bp, audit_bp, profile_bp, api_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # the API authenticates by token only; it sets no cookies to forge
    from .api.auth import register_token_request_shortcuts

    register_token_request_shortcuts(app)


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


def register_security_headers(app: Flask) -> None:
    @app.after_request
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


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    """SQLite: enforce foreign keys, WAL for concurrent readers, wait rather than fail on locks."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    # Statement journals and temporary sorts in memory, not in files under /var/tmp.
    cursor.execute("PRAGMA temp_store = MEMORY")
    cursor.close()
