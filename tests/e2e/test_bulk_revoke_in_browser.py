"""Status filters, bulk revoke and the CSV download, in Chromium (JavaScript on and off)."""

import csv
import io
import json
import re
import urllib.request

from conftest import PASSWORD, text_part
from playwright.sync_api import expect

from .conftest import (
    api_status,
    mark_document,
    row_names,
    same_document,
    sign_in,
    sign_in_over_http,
)


def create_token_over_api(live, email: str, name: str) -> str:
    """Another client makes a token through the API, as a script would."""
    body = json.dumps({"username": email, "password": PASSWORD, "name": name}).encode()
    request = urllib.request.Request(
        live.url + "/api/v2/api-token-auth/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["token"]


def test_status_filter_swaps_the_table_keeps_the_url_and_shows_each_rows_status(
    new_page, world, live
):
    assert api_status(live, world.tokens["CI deploy"].value) == 200  # used now: active
    page = new_page()
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens?sort=name&dir=asc")
    mark_document(page)

    page.get_by_label("Status").select_option("active")
    expect(page.locator("#token-count")).to_contain_text("1 token, active")
    assert row_names(page) == ["CI deploy"]
    expect(page).to_have_url(re.compile(r"status=active"))
    expect(page.locator("#token-table tbody tr .badge")).to_have_text(["Active"])

    page.get_by_label("Status").select_option("never_used")
    expect(page.locator("#token-count")).to_contain_text("3 tokens, never used")
    # The sort chosen before the filter is kept.
    assert row_names(page) == ["Backup script", "Grafana dashboard", "Nightly export"]
    expect(page.locator("#token-table tbody tr .badge")).to_have_text(["Never used"] * 3)
    assert same_document(page)

    page.reload()
    expect(page.get_by_label("Status")).to_have_value("never_used")
    assert row_names(page) == ["Backup script", "Grafana dashboard", "Nightly export"]


def test_checked_rows_are_confirmed_with_owners_and_revoked(new_page, world, live):
    page = new_page()
    sign_in(page, world.admin.email)
    page.goto("/tokens?sort=name&dir=asc")
    for name in ("Backup script", "Nightly export"):
        page.get_by_role("checkbox", name=f"Select {world.tokens[name].prefix}").check()
    page.get_by_role("button", name="Revoke selected…").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Revoke 2 API tokens?")
    expect(dialog.locator(".owner-counts li")).to_have_count(2)
    expect(dialog).to_contain_text(f"{world.owner.name} {world.owner.email}: 1 token")
    expect(dialog).to_contain_text(f"{world.other.name} {world.other.email}: 1 token")
    dialog.get_by_role("button", name="Revoke 2").click()

    expect(page.locator("#status")).to_contain_text("Revoked 2 tokens. 2 owners have been emailed.")
    expect(page.locator("#token-count")).to_have_text("2 tokens")
    assert row_names(page) == ["CI deploy", "Grafana dashboard"]
    assert api_status(live, world.tokens["Backup script"].value) == 401
    assert api_status(live, world.tokens["Nightly export"].value) == 401
    assert api_status(live, world.tokens["CI deploy"].value) == 200
    [mail] = live.messages_to(world.owner.email)
    assert "Nightly export" in text_part(mail) and "CI deploy" not in text_part(mail)


def test_revoke_all_matching_takes_what_was_confirmed_not_what_came_after(new_page, world, live):
    page = new_page()
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens")
    page.get_by_label("Search tokens").press_sequentially("olivia")
    expect(page.locator("#token-count")).to_contain_text("3 tokens matching")
    page.get_by_role("button", name="Revoke all 3 matching…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"{world.owner.name} {world.owner.email}: 3 tokens")

    # While the dialog is open, Olivia's script makes a new token that matches the search.
    newcomer = create_token_over_api(live, world.owner.email, "Made meanwhile")
    dialog.get_by_role("button", name="Revoke 3").click()

    expect(page.locator("#status")).to_contain_text("Revoked 3 tokens.")
    expect(page.locator("#token-count")).to_contain_text("1 token matching “olivia”")
    assert row_names(page) == ["Made meanwhile"]
    assert api_status(live, newcomer) == 200
    for name in ("CI deploy", "Nightly export", "Grafana dashboard"):
        assert api_status(live, world.tokens[name].value) == 401
    [mail] = live.messages_to(world.owner.email)
    assert mail["Subject"] == "3 of your API tokens were revoked"


def test_download_csv_holds_the_filtered_view(new_page, world, live):
    page = new_page(accept_downloads=True)
    sign_in_over_http(page, world.admin.email)
    page.goto("/tokens?q=olivia&sort=name&dir=asc")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["name"] for row in rows] == ["CI deploy", "Grafana dashboard", "Nightly export"]
    assert {row["user_email"] for row in rows} == {world.owner.email}
    assert download.value.suggested_filename.endswith(".csv")


def test_bulk_revoke_without_javascript(new_page, world, live):
    page = new_page(java_script_enabled=False)
    sign_in(page, world.admin.email)
    page.goto("/tokens?q=olivia")
    page.get_by_role("checkbox", name=f"Select {world.tokens['CI deploy'].prefix}").check()
    page.get_by_role("button", name="Revoke selected…").click()
    expect(page).to_have_url(re.compile(r"/tokens/revoke\?"))
    expect(page.get_by_role("heading", name="Revoke 1 API token?")).to_be_visible()
    page.get_by_role("button", name="Revoke 1").click()
    expect(page).to_have_url(re.compile(r"/tokens\?q=olivia"))
    expect(page.locator("#status")).to_contain_text("Revoked 1 token.")
    assert sorted(row_names(page)) == ["Grafana dashboard", "Nightly export"]
    assert api_status(live, world.tokens["CI deploy"].value) == 401
