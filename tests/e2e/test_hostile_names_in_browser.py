"""Names chosen by users are inert text on every page and in the HTML email, in a real browser.

The app's Content-Security-Policy would stop most injected scripts anyway; these pages are
opened with the CSP bypassed so that escaping alone is what is tested.
"""

import pytest
from playwright.sync_api import expect

from .conftest import build_world, sign_in_over_http

RLO = "\u202e"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(2)</script>'
TEMPLATE = "{{7*7}}"
SPOOF = f"{RLO}fdp.exe"  # shows as "exe.pdf" if the override leaks out
HOSTILE_TOKEN_NAMES = [IMG, SCRIPT, TEMPLATE, SPOOF]
HOSTILE_OWNER_NAME = f"{IMG}{SCRIPT}{TEMPLATE}{RLO}"

# Every text node holding an override must sit in an isolate of its own: a <bdi> holding just
# that name, or the Unicode isolate marks FSI..PDI, so it cannot reorder the text around it.
LEAKING_OVERRIDES = """names => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const leaks = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.includes("\\u202e")) continue;
    const outsideIsolates = node.data.replace(/\\u2068[^\\u2069]*\\u2069/g, "");
    const bdi = node.parentElement.closest("bdi");
    const ownBdi = bdi && names.includes(bdi.textContent);
    if (outsideIsolates.includes("\\u202e") && !ownBdi) leaks.push(node.parentElement.outerHTML);
  }
  return leaks;
}"""


@pytest.fixture(scope="module")
def hostile_world(live):
    return build_world(live, owner_name=HOSTILE_OWNER_NAME, token_names=HOSTILE_TOKEN_NAMES)


@pytest.fixture
def page_as(new_page, hostile_world):
    def open_as(who: str):
        page = new_page(bypass_csp=True)
        sign_in_over_http(page, getattr(hostile_world, who).email)
        return page

    return open_as


def assert_inert(page, *expected_texts: str) -> None:
    """The hostile text shows literally ({{7*7}} as typed: never evaluated); nothing ran, nothing
    was injected, nothing leaked."""
    body = page.locator("body").inner_text()
    for text in expected_texts:
        assert text in body
    assert page.dialogs == []
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("script:not([src])")).to_have_count(0)
    assert page.evaluate(LEAKING_OVERRIDES, [HOSTILE_OWNER_NAME, *HOSTILE_TOKEN_NAMES]) == []


def superuser_pages(world):
    return [
        ("/", [HOSTILE_OWNER_NAME, *HOSTILE_TOKEN_NAMES]),
        ("/team", [HOSTILE_OWNER_NAME]),
        (f"/team/{world.owner.id}", [HOSTILE_OWNER_NAME]),
        ("/tokens", [HOSTILE_OWNER_NAME, *HOSTILE_TOKEN_NAMES]),
        (f"/tokens/{world.tokens[IMG].id}/revoke", [HOSTILE_OWNER_NAME, IMG]),
    ]


def test_superuser_pages_show_hostile_names_as_text(page_as, hostile_world):
    page = page_as("admin")
    for path, texts in superuser_pages(hostile_world):
        page.goto(path)
        assert_inert(page, *texts)


@pytest.mark.parametrize("query", HOSTILE_TOKEN_NAMES)
def test_search_for_hostile_text_is_shown_as_text(page_as, query):
    page = page_as("admin")
    page.goto("/tokens")
    page.get_by_label("Search tokens").fill(query)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#token-count")).to_contain_text("matching")
    assert_inert(page, query)


def test_owner_pages_show_hostile_names_as_text(page_as, hostile_world):
    page = page_as("owner")
    for path in ["/", "/profile/tokens"]:
        page.goto(path)
        assert_inert(page, *HOSTILE_TOKEN_NAMES)
    page.get_by_role("button", name=f"Revoke {hostile_world.tokens[SCRIPT].prefix}").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_inert(page, SCRIPT)


def test_revoke_dialog_status_and_email_keep_hostile_names_inert(page_as, hostile_world, live):
    token = hostile_world.tokens[SPOOF]
    page = page_as("admin")
    page.goto("/tokens")
    page.locator(f"#token-{token.id}").get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    assert_inert(page, SPOOF, HOSTILE_OWNER_NAME)
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text(token.prefix)
    assert_inert(page, SPOOF)
    page.goto("/")
    assert_inert(page, SPOOF)

    [email] = [
        m for m in live.messages_to(hostile_world.owner.email) if token.prefix in m["Subject"]
    ]
    html = next(p for p in email.walk() if p.get_content_type() == "text/html")
    page.set_content(html.get_payload(decode=True).decode())
    assert_inert(page, SPOOF, HOSTILE_OWNER_NAME)
