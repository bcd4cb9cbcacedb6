"""Browser fixtures: Debian's Chromium driven by Playwright against a live server.

Without Chromium or Playwright the browser tests are skipped with the reason, except in CI
(CI=true), where a missing browser is a failure: CI must never pass by testing nothing.
"""

from __future__ import annotations

import itertools
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import CSRF_PATTERN, PASSWORD, make_org, make_token, make_user

from tokenaudit.extensions import db
from tokenaudit.models import User
from tokenaudit.web.access import REAUTH_SESSION_KEY

from .live_server import LiveServer

# Debian's Chromium; CHROMIUM_PATH points elsewhere (or nowhere, to try the skip).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
_unique = itertools.count(1)


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is slow (Chromium pages): CI runs them; a quick run leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.slow)


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live(browser, migrated_database, tmp_path_factory) -> LiveServer:
    """One server for the session; each test works in an organization of its own."""
    server = LiveServer(migrated_database, tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


@dataclass
class Person:
    email: str
    name: str
    id: int = 0


@dataclass
class Token:
    id: int
    name: str
    prefix: str
    value: str


@dataclass
class World:
    """An organization: a superuser, a token owner, a member without the permission, tokens."""

    org_name: str
    admin: Person
    owner: Person
    other: Person
    bystander: Person  # no "Can create and manage personal API tokens"
    tokens: dict[str, Token] = field(default_factory=dict)


OWNER_TOKEN_NAMES = ["CI deploy", "Nightly export", "Grafana dashboard"]


def build_world(
    live: LiveServer,
    owner_name: str = "Olivia Owner",
    token_names: list[str] = OWNER_TOKEN_NAMES,
) -> World:
    """Create a fresh organization on the live server; emails are unique across the session."""
    n = next(_unique)
    world = World(
        org_name=f"Acme {n}",
        admin=Person(f"carol{n}@acme.test", "Carol Admin"),
        owner=Person(f"olivia{n}@acme.test", owner_name),
        other=Person(f"bob{n}@acme.test", "Bob Builder"),
        bystander=Person(f"nora{n}@acme.test", "Nora Nopermission"),
    )
    with live.database():
        org = make_org(world.org_name)
        for person, options in [
            (world.admin, {"superuser": True}),
            (world.owner, {}),
            (world.other, {}),
            (world.bystander, {"can_manage_tokens": False}),
        ]:
            person.id = make_user(org, person.email, person.name, **options).id
        owner, other = db.session.get(User, world.owner.id), db.session.get(User, world.other.id)
        for name in token_names:
            token, value = make_token(owner, name)
            world.tokens[name] = Token(token.id, name, token.prefix, value)
        token, value = make_token(other, "Backup script")
        world.tokens["Backup script"] = Token(token.id, "Backup script", token.prefix, value)
    return world


@pytest.fixture
def world(live) -> World:
    return build_world(live)


@pytest.fixture
def new_page(browser, live):
    """Open a page in a fresh browser context (its own cookies); closed after the test.

    Every JavaScript dialog (alert, confirm) is recorded in `page.dialogs` and dismissed, so a
    test can assert that none fired.
    """
    contexts = []

    def open_page(**context_options):
        context = browser.new_context(base_url=live.url, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.dialogs = []

        def record(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", record)
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def sign_in_over_http(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the page's own cookie jar without rendering the form: for tests about
    other pages (the form itself is exercised by `sign_in`)."""
    login_page = page.request.get("/login").text()
    csrf_token = CSRF_PATTERN.search(login_page).group(1)
    response = page.request.post(
        "/login",
        form={"csrf_token": csrf_token, "email": email, "password": password},
        max_redirects=0,
    )
    assert response.status == 302, response.text()


def forget_password_confirmation(page, live) -> None:
    """Make the session old: the password was last entered long ago, so re-auth is due."""
    context = page.context
    serializer = live.app.session_interface.get_signing_serializer(live.app)
    [cookie] = [c for c in context.cookies() if c["name"] == "session"]
    session = serializer.loads(cookie["value"])
    session[REAUTH_SESSION_KEY] = 0
    context.add_cookies([{**cookie, "value": serializer.dumps(session)}])


def api_status(live: LiveServer, value: str, path: str = "/api/v2/me/") -> int:
    """The status the live API answers a script holding this token value."""
    request = urllib.request.Request(live.url + path, headers={"Authorization": f"Token {value}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    page.add_script_tag(content=AXE_SCRIPT.read_text())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def row_names(page) -> list[str]:
    """The audit table's token names, top to bottom."""
    return page.locator("#token-table tbody tr td.token-name").all_inner_texts()


def mark_document(page) -> None:
    """Tag the current document; a full page load would lose the tag."""
    page.evaluate("window.__sameDocument = true")


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")
