"""Fixtures: a migrated database per test, a browser-like client with CSRF, a real SMTP server."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, make_url

from tokenaudit import create_app
from tokenaudit.accounts import hash_password, normalize_email
from tokenaudit.clock import move_clock, reset_clock
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken, Organization, User
from tokenaudit.personal_tokens import create_personal_token
from tokenaudit.tokens import checksum, generate_token

# Property-based tests: modest by default so the suite stays fast; HYPOTHESIS_PROFILE=thorough
# for a long run. Examples share their test's app and compare the database before and after
# themselves, hence the function-scoped fixtures.
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
settings.register_profile("default", max_examples=100, **_PROFILE)
# CI replays the same examples every run, so a submission is judged on what its author ran;
# developers' runs keep exploring new ones.
settings.register_profile("ci", max_examples=100, derandomize=True, **_PROFILE)
settings.register_profile("thorough", max_examples=2000, **_PROFILE)
_ci = os.environ.get("CI") == "true"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if _ci else "default"))

PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# postgresql+psycopg://user@127.0.0.1:PORT/postgres runs every test on PostgreSQL instead.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_unless_available(reason: str) -> None:
    """Skip a test that needs something missing here; in CI a missing thing is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)")
    pytest.skip(reason)


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test secret key",
        "BCRYPT_ROUNDS": 4,  # fast hashes in tests; production uses 12
        "MAIL_SERVER": None,
        "SERVER_NAME": "tokenaudit.test",
    }


def migrate_database(database_url: str) -> None:
    """Apply the real migrations to an empty database."""
    app = create_app(base_config(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


class PostgresDatabases:
    """Databases on the TEST_DATABASE_URL server: one migrated template, cheap copies of it."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        if self.server_url.drivername in ("postgres", "postgresql"):  # psycopg 3, not psycopg2
            self.server_url = self.server_url.set(drivername="postgresql+psycopg")
        # Autocommit: CREATE/DROP DATABASE cannot run inside a transaction.
        self.admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.stem = f"tokenaudit_test_{os.getpid()}"
        self.template = f"{self.stem}_template"
        self.created = 0

    def url(self, name: str) -> URL:
        return self.server_url.set(database=name)

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def create_template(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}"')
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrate_database(self.url(self.template).render_as_string(hide_password=False))

    def copy_template(self) -> str:
        self.created += 1
        name = f"{self.stem}_{self.created}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> PostgresDatabases:
    """The PostgreSQL server of TEST_DATABASE_URL, with a migrated template (dropped at the end)."""
    databases = PostgresDatabases(TEST_DATABASE_URL)
    databases.create_template()
    yield databases
    databases.drop(databases.template)
    databases.admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """SQLite: run the real migrations once; each test starts from a copy of the result."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(request, tmp_path: Path) -> str:
    """A freshly migrated database for one test: a copy of the migrated template."""
    if TEST_DATABASE_URL:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        name = databases.copy_template()
        yield databases.url(name).render_as_string(hide_password=False)
        databases.drop(name)
    else:
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("migrated_database"), path)
        yield f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def served_database_url(request, tmp_path) -> str:
    """A migrated database that gunicorn's workers and the test share (PostgreSQL: only with
    TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'served.db'}"
        migrate_database(url)
        return url
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL run only: set TEST_DATABASE_URL")
    return request.getfixturevalue("database_url")


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change the app's config."""
    return {}


@pytest.fixture
def app(database_url: str, app_config: dict) -> Flask:
    app = create_app({**base_config(database_url), **app_config})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class Browser(FlaskClient):
    """A test client that signs in and sends the page's CSRF token with each form, like browsers."""

    def open(self, *args, **kwargs):
        # The `app` fixture's app context outlives requests, and with it `g`: without this, a
        # request would inherit the previous request's signed-in user (g._login_user) and CSRF
        # token (g.csrf_token), even from another client. In production each request has its own.
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        page = self.get("/login").get_data(as_text=True)
        if 'name="csrf_token"' not in page:  # signed in: /login redirects, use home instead
            page = self.get("/").get_data(as_text=True)
        return CSRF_PATTERN.search(page).group(1)

    def submit(self, url: str, data: dict | None = None, **kwargs):
        """POST a form as the browser would, CSRF token included."""
        return self.post(url, data={"csrf_token": self.csrf_token(), **(data or {})}, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD):
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def htmx_get(self, url: str, **kwargs):
        return self.get(url, headers={"HX-Request": "true", **kwargs.pop("headers", {})}, **kwargs)


@pytest.fixture
def client(app: Flask) -> Browser:
    app.test_client_class = Browser
    return app.test_client()


@pytest.fixture
def make_client(app: Flask):
    """A further, separate browser (its own cookies)."""

    def make() -> Browser:
        app.test_client_class = Browser
        return app.test_client()

    return make


@pytest.fixture
def clock():
    """Move the app's clock instead of sleeping: `clock(timedelta(days=8))`; reset afterwards."""
    yield move_clock
    reset_clock()


def run_at_the_same_moment(app: Flask, work, threads: int) -> None:
    """Run `work()` in `threads` threads, each in its own app context, released together (as
    when several mail senders wake at once); re-raises the first error."""
    start_together = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start_together.wait()
            with app.app_context():
                work()
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(60)
    if errors:
        raise errors[0]


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def org(app: Flask) -> Organization:
    return make_org("Acme")


def make_org(name: str) -> Organization:
    organization = Organization(name=name)
    db.session.add(organization)
    db.session.commit()
    return organization


def make_user(
    organization: Organization,
    email: str,
    name: str | None = None,
    *,
    superuser: bool = False,
    can_manage_tokens: bool = True,
    active: bool = True,
    password: str = PASSWORD,
) -> User:
    user = User(
        email=normalize_email(email),
        full_name=name or email.split("@")[0].title(),
        password_hash=hash_password(password),
        organization=organization,
        is_superuser=superuser,
        can_manage_tokens=can_manage_tokens,
        is_active=active,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_token(owner: User, name: str = "CI deploy") -> tuple[ApiToken, str]:
    return create_personal_token(owner, name)


@pytest.fixture
def admin(org: Organization) -> User:
    return make_user(org, "carol@acme.test", "Carol Admin", superuser=True)


@pytest.fixture
def member(org: Organization) -> User:
    return make_user(org, "bob@acme.test", "Bob Builder")


@pytest.fixture
def admin_client(client: Browser, admin: User) -> Browser:
    client.sign_in(admin.email)
    return client


@pytest.fixture
def member_client(client: Browser, member: User) -> Browser:
    client.sign_in(member.email)
    return client


def auth_header(value: str) -> dict:
    return {"Authorization": f"Token {value}"}


def count_queries():
    """Start recording every SQL statement sent: (the list, a function that stops recording)."""
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", listener)


def bad_checksum(value: str) -> str:
    """The value with its last character changed, so its checksum no longer matches (changed to
    a character it is not: appending a fixed "x" left a value ending in "x" valid, 1 run in 62)."""
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def wrong_secret(value: str) -> str:
    """A well-formed value with a valid checksum and the token's real prefix, but not its value."""
    body = value[:12] + generate_token().value[12:44]
    return body + checksum(body)


@dataclass
class Mailbox:
    """What a real SMTP server on loopback received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.original_content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_mail(app: Flask, mailbox: Mailbox, **options) -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 (`options`: aiosmtpd's, e.g. ssl_context) that the app
    sends its mail to, into `mailbox`."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    from tokenaudit.extensions import mail

    mail.init_app(app)
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(app: Flask):
    """An aiosmtpd server on 127.0.0.1 that the app sends its mail to."""
    with serve_mail(app, Mailbox()) as mailbox:
        yield mailbox


@pytest.fixture
def refusing_smtp_server(app: Flask) -> int:
    """A loopback port where nothing listens: every connection is refused."""
    port = free_port()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    from tokenaudit.extensions import mail

    mail.init_app(app)
    return port


def text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text/plain part")


def html_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text/html part")


class CapturedLogs:
    """The running test's log records, read live (pytest starts a new list for each phase)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __iter__(self) -> Iterator[logging.LogRecord]:
        return iter(list(self._caplog.records))


@pytest.fixture
def logs(caplog) -> pytest.LogCaptureFixture:
    """Everything logged during the test, at every level: read `logs.text`."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def log_records(caplog) -> CapturedLogs:
    caplog.set_level(logging.DEBUG)
    return CapturedLogs(caplog)


def database_snapshot(skip_columns: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every row of every table (less `skip_columns`, as "table.column"), to show that a
    refused request changed nothing."""
    db.session.expire_all()
    snapshot = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if f"{table.name}.{c.name}" not in skip_columns]
        rows = db.session.execute(table.select().with_only_columns(*columns)).all()
        snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


def every_stored_value(database_url: str) -> bytes:
    """All the database holds: the file's bytes for SQLite, every row of every table anywhere."""
    rows = [
        repr(row).encode()
        for table in db.metadata.sorted_tables
        for row in db.session.execute(table.select())
    ]
    if database_url.startswith("sqlite:///"):
        db.session.remove()
        db.engine.dispose()  # flush the WAL into the file
        path = Path(database_url.removeprefix("sqlite:///"))
        rows += [p.read_bytes() for p in path.parent.glob(path.name + "*")]
    return b"\n".join(rows)


def row_prefixes(html: str) -> list[str]:
    """The token prefixes a page lists, in table order, as its Prefix column shows them."""
    return re.findall(r'<td data-label="Prefix"><code class="prefix">([^<]+)</code>', html)
