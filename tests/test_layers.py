"""The layers of docs/architecture.md hold: imports go down only (blueprints -> web -> domain).

Read from the source, so a new module is checked the day it is added.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tokenaudit"
BLUEPRINTS = {"api", "audit", "auth", "org", "profile"}
# The app factory wires every layer together; the command line sits beside the blueprints.
ENTRY_POINTS = {"__init__.py", "cli.py"}
DOMAIN = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ENTRY_POINTS)
# What exists only while a request is answered, or makes an answer: the domain takes plain values
# and returns results or raises, and the views turn them into answers.
REQUEST_BOUND = {
    *(f"flask.{name}" for name in ("request", "g", "session", "after_this_request")),
    *(f"flask.{name}" for name in ("Response", "abort", "jsonify", "make_response", "redirect")),
    "flask.url_for",  # a link built from the request's Host: emails use external_links
    *(f"flask_login.{name}" for name in ("current_user", "login_user", "logout_user")),
}
# sessions.py is the session cookie's one reader and writer (docs/architecture.md).
SESSION_MODULE = "sessions.py"
SESSION_NAMES = {"flask.g", "flask.session", "flask_login.login_user", "flask_login.logout_user"}
WEB = sorted(p.name for p in (PACKAGE / "web").glob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module `path` imports, as dotted names from the top ("tokenaudit.web.access"), and
    every name it takes from a module ("flask.request"), lazy imports inside functions included."""
    package = ["tokenaudit", *path.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def upward(names: set[str], layers: set[str]) -> list[str]:
    return sorted(name for name in names if name.split(".")[1:2] and name.split(".")[1] in layers)


@pytest.mark.parametrize("module", DOMAIN)
def test_a_domain_module_knows_no_request_no_web_and_no_blueprint(module):
    names = imported(PACKAGE / module)
    allowed = SESSION_NAMES if module == SESSION_MODULE else set()
    assert sorted(names & REQUEST_BOUND - allowed) == []
    assert upward({n for n in names if n.startswith("tokenaudit.")}, {"web", *BLUEPRINTS}) == []


@pytest.mark.parametrize("module", WEB)
def test_the_web_plumbing_imports_no_blueprint(module):
    names = {n for n in imported(PACKAGE / "web" / module) if n.startswith("tokenaudit.")}
    assert upward(names, BLUEPRINTS) == []


@pytest.mark.parametrize("blueprint", sorted(BLUEPRINTS))
def test_a_blueprint_imports_no_other_blueprint(blueprint):
    for path in (PACKAGE / blueprint).glob("*.py"):
        names = {n for n in imported(path) if n.startswith("tokenaudit.")}
        assert upward(names, BLUEPRINTS - {blueprint}) == [], path.name
