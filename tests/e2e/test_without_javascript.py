"""The same flows with JavaScript disabled: plain links and forms, full-page answers."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import (
    PASSWORD,
    api_status,
    forget_password_confirmation,
    row_names,
    sign_in,
    sign_in_over_http,
)


@pytest.fixture
def page(new_page):
    return new_page(java_script_enabled=False)


def test_superuser_searches_sorts_and_revokes_without_javascript(page, world, live):
    token = world.tokens["Nightly export"]
    sign_in(page, world.admin.email)
    page.goto("/tokens")

    page.get_by_label("Search tokens").fill("olivia")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/tokens\?.*q=olivia"))
    expect(page.locator("#token-count")).to_contain_text("3 tokens matching “olivia”")

    page.get_by_role("columnheader", name="Name").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert row_names(page) == ["CI deploy", "Grafana dashboard", "Nightly export"]  # search kept

    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    expect(page).to_have_url(re.compile(rf"/tokens/{token.id}/revoke\?q=olivia&sort=name&dir=asc$"))
    expect(page.get_by_role("main")).to_contain_text(token.prefix)
    expect(page.get_by_role("main")).to_contain_text("Olivia Owner")
    page.get_by_role("link", name="Cancel").click()
    # Back to the list as it was: the search and the sort are kept.
    expect(page).to_have_url(re.compile(r"/tokens\?q=olivia&sort=name&dir=asc$"))
    expect(page.locator(f"#token-{token.id}")).to_be_visible()
    assert api_status(live, token.value) == 200

    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    page.get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(re.compile(r"/tokens\?q=olivia&sort=name&dir=asc$"))
    expect(page.get_by_role("status")).to_contain_text(
        f"Revoked “Nightly export” ({token.prefix}) belonging to Olivia Owner."
    )
    expect(page.locator(f"#token-{token.id}")).to_have_count(0)
    assert row_names(page) == ["CI deploy", "Grafana dashboard"]
    assert api_status(live, token.value) == 401
    assert len(live.messages_to(world.owner.email)) == 1


def test_owner_reauthenticates_creates_and_revokes_a_token_without_javascript(page, world, live):
    sign_in_over_http(page, world.owner.email)
    forget_password_confirmation(page, live)
    page.goto("/profile/tokens")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/profile/tokens$"))
    page.get_by_label("Token name").fill("Laptop")
    page.get_by_role("button", name="Create token").click()
    value = page.get_by_label("Token value").input_value()
    assert value.startswith("tka_") and api_status(live, value) == 200

    page.goto("/profile/tokens")
    assert value not in page.content()
    page.get_by_role("button", name=f"Revoke {value[:12]}").click()
    page.get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(re.compile(r"/profile/tokens$"))
    expect(page.get_by_role("status")).to_contain_text(
        f"Revoked your token “Laptop” ({value[:12]})."
    )
    assert api_status(live, value) == 401


def test_owner_creates_a_30_day_token_and_rotates_it_without_javascript(page, world, live):
    sign_in_over_http(page, world.owner.email)
    page.goto("/profile/tokens")
    lifetime = page.get_by_label("Expires", exact=True)
    thirty_days = lifetime.locator("option", has_text="30 days (until ")
    label = thirty_days.inner_text()  # the date it leads to, shown before choosing
    lifetime.select_option(label=label)
    page.get_by_label("Token name").fill("Monthly export")  # the owner's names are unique
    page.get_by_role("button", name="Create token").click()
    old_value = page.get_by_label("Token value").input_value()
    until = label.split("until ")[1].rstrip(")")
    expect(page.locator(".new-token")).to_contain_text(f"It expires on {until}")

    page.goto("/profile/tokens")
    page.get_by_role("link", name=f"Rotate {old_value[:12]}").click()
    page.get_by_role("button", name="Rotate token").click()
    new_value = page.get_by_label("Token value").input_value()
    assert new_value != old_value and new_value.startswith("tka_")
    assert api_status(live, old_value) == 401 and api_status(live, new_value) == 200


def test_a_token_revoked_meanwhile_leads_back_to_the_list_as_it_was(page, world, live):
    token = world.tokens["Grafana dashboard"]
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens?q=olivia&sort=name&dir=desc")
    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    # The owner revokes it from a script before the superuser confirms.
    delete = page.request.delete(
        f"/api/v2/tokens/{token.id}/", headers={"Authorization": f"Token {token.value}"}
    )
    assert delete.status == 204
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", name="Token already revoked")).to_be_visible()
    page.get_by_role("link", name="Back to the list").click()
    expect(page).to_have_url(re.compile(r"/tokens\?q=olivia&sort=name&dir=desc$"))

    page.goto(f"/tokens/{token.id}/revoke?q=olivia&sort=name&dir=desc")  # an old link
    expect(page.get_by_role("heading", name="Token already revoked")).to_be_visible()
    page.get_by_role("link", name="Back to the list").click()
    expect(page).to_have_url(re.compile(r"/tokens\?q=olivia&sort=name&dir=desc$"))
    assert row_names(page) == ["Nightly export", "CI deploy"]
