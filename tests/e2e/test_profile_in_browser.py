"""Token owners and members on their profile, in Chromium with JavaScript on."""

import re

from playwright.sync_api import expect

from .conftest import (
    PASSWORD,
    api_status,
    forget_password_confirmation,
    sign_in,
    sign_in_over_http,
)

TOKEN_VALUE = re.compile(r"^tka_[0-9A-Za-z]{46}$")


def test_owner_reauthenticates_creates_copies_and_uses_a_token_shown_once(new_page, world, live):
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, world.owner.email)
    forget_password_confirmation(page, live)

    page.get_by_role("link", name="Your API tokens").first.click()
    expect(page).to_have_url(re.compile(r"/reauthenticate\?next=/profile/tokens"))
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/profile/tokens$"))

    page.get_by_label("Token name").fill("Laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Your new token")).to_be_visible()
    value = page.get_by_label("Token value").input_value()
    assert TOKEN_VALUE.match(value)

    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copy-feedback")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == value

    assert api_status(live, value) == 200
    page.reload()
    expect(page.get_by_role("heading", name="Your new token")).to_have_count(0)
    assert value not in page.content()
    new_row = page.get_by_role("row").filter(has_text="Laptop")
    expect(new_row).to_contain_text(value[:12])
    expect(new_row).to_contain_text("GET /api/v2/me/")


def test_member_without_the_permission_sees_no_tokens_tab_card_or_page(new_page, world):
    page = new_page()
    sign_in_over_http(page, world.bystander.email)
    page.goto("/")
    expect(page.get_by_role("heading", name=world.org_name)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("API tokens")
    expect(page.locator(".cards")).not_to_contain_text("API tokens")
    expect(page.get_by_role("link", name=re.compile("API tokens", re.I))).to_have_count(0)

    response = page.goto("/profile/tokens")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "You do not have permission to create and manage personal API tokens."
    )
    response = page.goto("/tokens")
    assert response.status == 403


def test_owner_revokes_own_token_in_a_dialog(new_page, world, live):
    token = world.tokens["CI deploy"]
    page = new_page()
    sign_in_over_http(page, world.owner.email)
    page.goto("/profile/tokens")

    page.get_by_role("button", name=f"Revoke {token.prefix}").click()
    dialog = page.get_by_role("dialog", name="Revoke this API token?")
    expect(dialog).to_contain_text(token.prefix)
    dialog.get_by_role("button", name="Revoke").click()

    expect(page.get_by_role("status")).to_have_text(
        f"Revoked your token “CI deploy” ({token.prefix})."
    )
    expect(page.locator(f"#own-token-{token.id}")).to_have_count(0)
    expect(page.get_by_role("table")).to_contain_text("2 tokens")
    assert api_status(live, token.value) == 401
    assert live.messages_to(world.owner.email) == []  # the owner did it: no email
