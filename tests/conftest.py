"""Fixtures: a migrated database per test, a browser-like client with CSRF, a real SMTP server."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from flask import Flask, has_app_context
from flask.cli import FlaskGroup
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import scoped_session, selectinload
from werkzeug.routing import Rule

from bench.server import Mailbox, SMTPServer, free_port
from tokenaudit import create_app
from tokenaudit.accounts import hash_password, normalize_email
from tokenaudit.clock import move_clock, reset_clock
from tokenaudit.extensions import db, mail
from tokenaudit.models import ApiToken, Organization, User, exists_on
from tokenaudit.personal_tokens import create_personal_token
from tokenaudit.tokens import checksum, generate_token

# Property-based tests: 25 examples in a quick run, 100 in CI; HYPOTHESIS_PROFILE=thorough
# for a long run. Examples share their test's app and compare the database before and after
# themselves, hence the function-scoped fixtures.
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
settings.register_profile("default", max_examples=25, **_PROFILE)
# CI replays the same examples every run, so a submission is judged on what its author ran;
# developers' runs keep exploring new ones.
settings.register_profile("ci", max_examples=100, derandomize=True, **_PROFILE)
settings.register_profile("thorough", max_examples=2000, **_PROFILE)
_ci = os.environ.get("CI") == "true"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if _ci else "default"))


# `make test` without CI=true runs -m "not slow" (Makefile): the summary says how many that left
# out. Under xdist the workers deselect, and the controller prints.
SLOW_LEFT_OUT = pytest.StashKey[int]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    config = items[0].config
    slow = config.stash.get(SLOW_LEFT_OUT, 0) + sum(
        1 for i in items if i.get_closest_marker("slow")
    )
    config.stash[SLOW_LEFT_OUT] = slow
    if hasattr(config, "workeroutput"):  # an xdist worker
        config.workeroutput["slow_left_out"] = slow


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist's controller: each worker left out the same tests."""
    node.config.stash[SLOW_LEFT_OUT] = node.workeroutput.get("slow_left_out", 0)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config) -> None:
    if slow := config.stash.get(SLOW_LEFT_OUT, 0):
        terminalreporter.write_line(
            f"{slow} slow tests left out (browsers, real servers, loads, races): "
            "`CI=true make test` runs them too"
        )


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

    def copy_template(self, name: str | None = None) -> str:
        """A new migrated database, named `name` or the next free name."""
        self.created += 1
        name = name or f"{self.stem}_{self.created}"
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


@contextmanager
def served_database(database_url: str) -> Iterator[scoped_session]:
    """The database a real server (gunicorn) serves, worked on from the test: an app context of
    its own, its connections closed after so that they hold nothing the server waits for."""
    app = create_app(base_config(database_url))
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()
            db.engine.dispose()


@dataclass
class Population:
    admin_value: str  # the superuser's token
    tokens: list[tuple[int, str]]  # (id, value) of each member's token


def populate(database_url: str, name: str, members: int, tokens: int) -> Population:
    """On a served database: organization `name`, a superuser with a token, and `tokens` tokens
    named "<name> <n>" (in lower case) spread over `members` members."""
    lower = name.lower()
    with served_database(database_url):
        organization = make_org(name)
        admin = make_user(organization, f"root@{lower}.test", "Root Admin", superuser=True)
        _, admin_value = make_token(admin, "revoker")
        people = [make_user(organization, f"member{n}@{lower}.test") for n in range(members)]
        made = [make_token(people[n % members], f"{lower} {n}") for n in range(tokens)]
        return Population(admin_value, [(token.id, value) for token, value in made])


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change the app's config."""
    return {}


def _compile_each_url_builder_once() -> None:
    """Werkzeug compiles two Python functions for each URL rule of each app: 30 of the 35 ms
    create_app takes, paid again by every test. They depend only on the rule (its text, parts
    and defaults), so the suite compiles each once."""
    compile_builder = Rule._compile_builder
    compiled: dict[tuple, object] = {}

    def compile_once(rule: Rule, append_unknown: bool = True):
        defaults = repr(sorted((rule.defaults or {}).items()))
        key = (rule.rule, tuple(rule._trace), defaults, append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    Rule._compile_builder = compile_once


_compile_each_url_builder_once()


class CompiledTemplates(BytecodeCache):
    """Templates compiled once for the whole run, not once per test's app (a quarter of a quick
    run's time was Jinja compiling the same templates again); a changed source recompiles."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


# The app of the running test: what database() and the factories open a context of.
_app_under_test: Flask | None = None


@pytest.fixture
def app(database_url: str, app_config: dict) -> Flask:
    """The app, holding no context: each request has its own, as in production, and a test's
    own database work opens one with database()."""
    global _app_under_test
    app = create_app({**base_config(database_url), **app_config})
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    _app_under_test = app
    yield app
    _app_under_test = None
    with app.app_context():
        db.engine.dispose()


@contextmanager
def database() -> Iterator[scoped_session]:
    """A short app context of the test's app, for arranging or checking data directly, as a
    request or a command has its own: `with database(): db.session...` (it yields db.session).

    What is read or written here stays readable after the block, as it was then (nothing is
    expired on commit): read it again in a new block to see what requests changed since.
    Inside another app context (a factory called in a block, or with another app's context
    pushed), it joins that one.
    """
    if has_app_context():
        yield db.session
        return
    assert _app_under_test is not None, "database() needs the app fixture"
    with _app_under_test.app_context():
        db.session().expire_on_commit = False
        try:
            yield db.session
        finally:
            db.session.remove()


class Browser(FlaskClient):
    """A test client that signs in and sends the page's CSRF token with each form, like browsers."""

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


class CommandRunner(FlaskCliRunner):
    """Runs a command as `flask --app wsgi <command>` does: through Flask's own command group,
    which gives each command an app context of its own."""

    def invoke(self, cli=None, args=None, **kwargs):
        return super().invoke(cli or FlaskGroup(load_dotenv=False), args, **kwargs)


@pytest.fixture
def runner(app: Flask) -> CommandRunner:
    app.test_cli_runner_class = CommandRunner
    return app.test_cli_runner()


@pytest.fixture
def org(app: Flask) -> Organization:
    return make_org("Acme")


def update_stored(stored: db.Model, **columns: object) -> None:
    """Change a stored object's columns in the database, and in `stored` too: as a test sets
    things up, or as another process would change them."""
    with database():
        row = db.session.get(type(stored), inspect(stored).identity)
        for name, value in columns.items():
            setattr(row, name, value)
            setattr(stored, name, value)
        db.session.commit()


def count_rows(model: type[db.Model], **filters: object) -> int:
    """How many rows of `model` (with these column values) the database holds now."""
    with database():
        return db.session.query(model).filter_by(**filters).count()


def stored_rows(model: type[db.Model], **filters: object) -> list:
    """The rows of `model` (with these column values) as the database holds them now, by id;
    their columns and the objects they refer to (an activity's subject) stay readable after."""
    with database():
        rows = db.session.query(model).filter_by(**filters).order_by(model.id)
        return rows.options(selectinload("*")).all()


def reread(stored: db.Model) -> db.Model | None:
    """The object as the database holds it now, read afresh (None once it is deleted)."""
    with database():
        return db.session.get(type(stored), inspect(stored).identity, populate_existing=True)


def make_org(name: str) -> Organization:
    with database():
        organization = Organization(name=name)
        db.session.add(organization)
        db.session.commit()
        db.session.refresh(organization)  # columns the database filled in, readable after
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
    with database():
        user = User(
            email=normalize_email(email),
            full_name=name or email.split("@")[0].title(),
            password_hash=hash_password(password),
            # This session's copy: `organization` may come from another one.
            organization=db.session.get(Organization, organization.id),
            is_superuser=superuser,
            can_manage_tokens=can_manage_tokens,
            is_active=active,
        )
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        user.organization  # noqa: B018 (loaded, so readable after the block)
        return user


def make_token(owner: User, name: str = "CI deploy") -> tuple[ApiToken, str]:
    """A token as its owner creates it (activity recorded): the token, with its owner loaded,
    and its value."""
    with database():
        token, value = create_personal_token(db.session.get(User, owner.id), name)
        db.session.refresh(token)
        token.owner.organization  # noqa: B018 (loaded, so readable after the block)
        return token, value


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
    with database():
        engine = db.engine  # the app's one engine, which every request's session uses
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    return statements, lambda: event.remove(engine, "before_cursor_execute", listener)


def bad_checksum(value: str) -> str:
    """The value with its last character changed, so its checksum no longer matches (changed to
    a character it is not: appending a fixed "x" left a value ending in "x" valid, 1 run in 62)."""
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def wrong_secret(value: str) -> str:
    """A well-formed value with a valid checksum and the token's real prefix, but not its value."""
    body = value[:12] + generate_token().value[12:44]
    return body + checksum(body)


@contextmanager
def serve_mail(app: Flask, mailbox: Mailbox | None = None, **options) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 (`options`: aiosmtpd's, e.g. ssl_context) that the app
    sends its mail to: its mailbox."""
    with SMTPServer(mailbox, **options) as server:
        send_mail_to(app, server.port)
        yield server.mailbox


@pytest.fixture
def smtp_server(app: Flask):
    """An SMTP server on 127.0.0.1 that the app sends its mail to: its mailbox."""
    with serve_mail(app) as mailbox:
        yield mailbox


def send_mail_to(app: Flask, port: int) -> None:
    """The app's mail goes to this loopback port from now on."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail.init_app(app)


@pytest.fixture
def refusing_smtp_server(app: Flask) -> int:
    """A loopback port where nothing listens: every connection is refused."""
    port = free_port()
    send_mail_to(app, port)
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


def stored_tables() -> list:
    """The tables this database has (models.py declares one for PostgreSQL only); inside
    `database()`."""
    dialect = db.engine.dialect.name
    return [table for table in db.metadata.sorted_tables if exists_on(table, dialect)]


def database_snapshot(skip_columns: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every row of every table (less `skip_columns`, as "table.column"), to show that a
    refused request changed nothing. Not the rate-limit counters: refused requests count too."""
    snapshot = {}
    with database():
        for table in stored_tables():
            if table.name == "rate_limit_counters":
                continue
            columns = [c for c in table.columns if f"{table.name}.{c.name}" not in skip_columns]
            rows = db.session.execute(table.select().with_only_columns(*columns)).all()
            snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


def every_stored_value(database_url: str) -> bytes:
    """All the database holds: the file's bytes for SQLite, every row of every table anywhere."""
    with database():
        rows = [
            repr(row).encode()
            for table in stored_tables()
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
