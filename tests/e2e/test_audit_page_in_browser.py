"""A superuser on the Organization API Tokens page, in Chromium with JavaScript on."""

import re

from conftest import text_part
from playwright.sync_api import expect

from .conftest import (
    api_status,
    mark_document,
    row_names,
    same_document,
    sign_in,
    sign_in_over_http,
)


def test_search_narrows_the_table_in_place_and_back_restores_the_search(new_page, world):
    page = new_page()
    sign_in(page, world.admin.email)
    page.goto("/tokens")
    expect(page.locator("#token-count")).to_have_text("4 tokens")
    mark_document(page)

    page.get_by_label("Search tokens").press_sequentially("night")
    expect(page.locator("#token-count")).to_contain_text("1 token matching “night”")
    assert row_names(page) == ["Nightly export"]
    expect(page).to_have_url(re.compile(r"/tokens\?q=night"))
    assert same_document(page)

    # Typing replaced the URL; a header click pushes one: Back returns to the search.
    page.get_by_role("columnheader", name="Name").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/tokens\?q=night"))
    expect(page.locator("#token-count")).to_contain_text("1 token matching “night”")
    expect(page.get_by_label("Search tokens")).to_have_value("night")
    assert row_names(page) == ["Nightly export"]


def test_header_clicks_sort_both_ways_and_set_aria_sort(new_page, world):
    page = new_page()
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens")
    mark_document(page)
    name_header = page.get_by_role("columnheader", name="Name")
    expect(name_header).not_to_have_attribute("aria-sort", re.compile("."))

    name_header.get_by_role("link").click()
    expect(name_header).to_have_attribute("aria-sort", "ascending")
    assert row_names(page) == sorted(world.tokens, key=str.lower)
    expect(page).to_have_url(re.compile(r"sort=name&dir=asc"))

    name_header.get_by_role("link").click()
    expect(name_header).to_have_attribute("aria-sort", "descending")
    assert row_names(page) == sorted(world.tokens, key=str.lower, reverse=True)
    expect(page).to_have_url(re.compile(r"sort=name&dir=desc"))
    # Only the sorted column claims a sort order.
    expect(page.locator("th[aria-sort]")).to_have_count(1)
    assert same_document(page)


def test_revoke_dialog_cancel_then_confirm(new_page, world, live):
    token = world.tokens["Nightly export"]
    page = new_page()
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens")
    revoke = page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)")

    revoke.click()
    dialog = page.get_by_role("dialog", name="Revoke this API token?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(token.prefix)
    expect(dialog).to_contain_text("Olivia Owner")
    expect(dialog).to_contain_text(world.owner.email)

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(revoke).to_be_focused()  # focus goes back where it was
    expect(page.locator(f"#token-{token.id}")).to_be_visible()
    assert api_status(live, token.value) == 200

    revoke.click()
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator(f"#token-{token.id}")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(
        f"Revoked “Nightly export” ({token.prefix}) belonging to Olivia Owner. "
        "Olivia Owner has been emailed."
    )
    expect(page.locator("#token-count")).to_have_text("3 tokens")
    expect(dialog).to_have_count(0)

    assert api_status(live, token.value) == 401
    [email] = live.messages_to(world.owner.email)
    assert token.prefix in email["Subject"]
    assert "Nightly export" in text_part(email) and "superuser Carol Admin" in text_part(email)

    page.get_by_role("link", name="TokenAudit").click()
    feed = page.locator(".activity-feed")
    expect(feed).to_contain_text(
        f"API token “Nightly export” ({token.prefix}) revoked by superuser Carol Admin"
    )
