"""A superuser pastes a leaked token's whole value into the audit search, in Chromium: the token
is found, and the value stays in no URL of the tab's history, no page, no stored snapshot."""

import re

from playwright.sync_api import expect

from .conftest import row_names, sign_in


def record_urls(page) -> list[str]:
    """Every URL the tab shows from now on: loads, redirects' targets and htmx's pushState and
    replaceState alike (a superset of its session history, without walking it: htmx restores
    its entries in place, and stepping through them raced its own navigations)."""
    urls = [page.url]
    page.on(
        "framenavigated", lambda frame: urls.append(frame.url) if frame == page.main_frame else None
    )
    return urls


def what_the_browser_keeps(page, urls: list[str]) -> str:
    """The tab's URLs, the page as it is, and htmx's history snapshots."""
    stored = page.evaluate("JSON.stringify(Object.assign({}, localStorage, sessionStorage))")
    return "\n".join([*urls, page.url, page.content(), stored])


def test_pasting_a_whole_value_finds_the_token_and_the_url_holds_only_its_prefix(
    new_page, world, logs
):
    leaked = world.tokens["Nightly export"]
    page = new_page()
    sign_in(page, world.admin.email)
    page.goto("/tokens")
    urls = record_urls(page)

    page.get_by_label("Search tokens").fill(leaked.value)

    expect(page.locator("#token-count")).to_contain_text(f"1 token matching “{leaked.prefix}”")
    assert row_names(page) == ["Nightly export"]
    expect(page).to_have_url(re.compile(rf"/tokens\?q={leaked.prefix}&sort=created&dir=desc$"))
    # Another step (a sort), so that htmx snapshots the search's page into its history cache.
    page.get_by_role("columnheader", name="Name").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    assert row_names(page) == ["Nightly export"]

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/tokens\?q={leaked.prefix}&sort=created&dir=desc$"))
    assert row_names(page) == ["Nightly export"]
    kept = what_the_browser_keeps(page, urls)
    assert leaked.prefix in kept
    assert leaked.value not in kept and leaked.value[12:44] not in kept
    assert leaked.value not in logs.text


def test_without_javascript_the_search_lands_on_the_prefix_url(new_page, world):
    leaked = world.tokens["CI deploy"]
    page = new_page(java_script_enabled=False)
    sign_in(page, world.admin.email)
    page.goto("/tokens")
    urls = record_urls(page)

    page.get_by_label("Search tokens").fill(leaked.value)
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(rf"/tokens\?q={leaked.prefix}"))
    expect(page.locator("#token-count")).to_contain_text(f"1 token matching “{leaked.prefix}”")
    assert row_names(page) == ["CI deploy"]
    assert leaked.value not in what_the_browser_keeps(page, urls)
