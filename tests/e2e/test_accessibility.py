"""axe-core finds no serious or critical accessibility problem on any page or open dialog."""

import itertools

import pytest
from playwright.sync_api import expect

from .conftest import build_world, serious_accessibility_violations, sign_in_over_http


def open_revoke_dialog(page, world):
    page.goto("/tokens")
    token = world.tokens["Nightly export"]
    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def show_new_token(page, world):
    page.goto("/profile/tokens")
    page.get_by_label("Token name").fill(f"Laptop {next(_laptops)}")  # names are per owner unique
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("Token value")).to_be_visible()


_laptops = itertools.count(1)


def open_own_revoke_dialog(page, world):
    page.goto("/profile/tokens")
    token = world.tokens["CI deploy"]
    page.get_by_role("button", name=f"Revoke {token.prefix}").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def open_bulk_revoke_dialog(page, world):
    page.goto("/tokens?q=olivia")
    page.get_by_role("button", name="Revoke all 3 matching…").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def show_search_with_no_match(page, world):
    page.goto("/tokens?q=nothing+matches+this")


def show_sign_in_error(page, world):
    page.goto("/login")
    page.get_by_label("Email").fill(world.owner.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()


def show_token_name_error(page, world):
    page.goto("/profile/tokens")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Give the token a name.")).to_be_visible()


def visit(path):
    return lambda page, world: page.goto(path)


# (case, who signs in, how to reach the state to check)
PAGES = [
    ("sign-in", None, visit("/login")),
    ("sign-in error", None, show_sign_in_error),
    ("superuser home", "admin", visit("/")),
    ("member home", "bystander", visit("/")),
    ("team", "admin", visit("/team")),
    ("team member", "admin", lambda page, world: page.goto(f"/team/{world.owner.id}")),
    ("organization tokens", "admin", visit("/tokens?sort=name")),
    ("organization tokens, no match", "admin", show_search_with_no_match),
    ("revoke dialog", "admin", open_revoke_dialog),
    (
        "revoke confirmation page",
        "admin",
        lambda page, world: page.goto(f"/tokens/{world.tokens['Grafana dashboard'].id}/revoke"),
    ),
    ("bulk revoke dialog", "admin", open_bulk_revoke_dialog),
    ("bulk revoke confirmation page", "admin", visit("/tokens/revoke?all_matching=1&q=olivia")),
    ("your tokens", "owner", visit("/profile/tokens")),
    ("your tokens, new value shown", "owner", show_new_token),
    ("your tokens, name error", "owner", show_token_name_error),
    ("your tokens, revoke dialog", "owner", open_own_revoke_dialog),
    (
        "your tokens, revoke confirmation page",
        "owner",
        lambda page, world: page.goto(f"/profile/tokens/{world.tokens['CI deploy'].id}/revoke"),
    ),
    (
        "your tokens, rotate confirmation page",
        "owner",
        lambda page, world: page.goto(f"/profile/tokens/{world.tokens['CI deploy'].id}/rotate"),
    ),
    ("organization settings", "admin", visit("/settings")),
    ("re-authentication", "owner", visit("/reauthenticate")),
    ("403 page", "bystander", visit("/profile/tokens")),
    ("activity log", "admin", visit("/activity")),
    ("activity log, filtered", "admin", visit("/activity?kind=token_created")),
    ("member's activity log", "owner", visit("/activity")),
    ("your sessions", "owner", visit("/sessions")),
    ("token already revoked page", "admin", visit("/tokens/999999/revoke")),
    ("404 page", "admin", visit("/no-such-page")),
]


@pytest.fixture(scope="module")
def a11y_world(live):
    return build_world(live)


# A desktop and a phone: the phone's card layout is other markup for axe to judge.
VIEWPORTS = {"1440": {"width": 1440, "height": 900}, "375": {"width": 375, "height": 740}}


@pytest.fixture(scope="module")
def signed_in_page(browser, live, a11y_world):
    """One signed-in page per person and width for the whole module: signing in is not what
    is checked."""
    pages = {}

    def page_for(who: str, width: str):
        if (who, width) not in pages:
            # axe is injected as an inline script, which the app's CSP rightly forbids.
            context = browser.new_context(
                base_url=live.url, bypass_csp=True, viewport=VIEWPORTS[width]
            )
            page = pages[who, width] = context.new_page()
            page.set_default_timeout(10_000)
            sign_in_over_http(page, getattr(a11y_world, who).email)
        return pages[who, width]

    yield page_for
    for page in pages.values():
        page.context.close()


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize(
    "who, reach", [case[1:] for case in PAGES], ids=[case[0] for case in PAGES]
)
def test_no_serious_accessibility_violations(
    new_page, signed_in_page, a11y_world, who, reach, width
):
    if who:
        page = signed_in_page(who, width)
    else:
        page = new_page(bypass_csp=True, viewport=VIEWPORTS[width])
    reach(page, a11y_world)
    assert serious_accessibility_violations(page) == []
