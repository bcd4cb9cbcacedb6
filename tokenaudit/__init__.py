"""TokenAudit: audit and revoke an organization's personal API tokens.

The layout (docs/architecture.md): domain modules here know no request; tokenaudit/web/ holds the
request plumbing every blueprint shares; each blueprint (api, audit, auth, org, profile) holds
its routes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import in_memory_fallback, load_config
from .extensions import csrf, db, limiter, login_manager, mail, migrate
from .web import register_web
from .web.headers import retry_after_only_on_refusals

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: config, extensions, plumbing, blueprints, CLI."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if proxies := app.config["TRUSTED_PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    register_web(app)
    register_extensions(app)
    register_blueprints(app)
    # Browsers ask for /favicon.ico on every page whatever the page links to.
    app.add_url_rule(
        "/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"), methods=["GET"]
    )

    from .cli import register_cli

    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    # Decided here, once tests' settings have replaced the environment's.
    app.config.setdefault(
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED",
        in_memory_fallback(app.config["RATELIMIT_STORAGE_URI"]),
    )
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    app.after_request(retry_after_only_on_refusals)
    limiter.init_app(app)
    login_manager.init_app(app)


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
