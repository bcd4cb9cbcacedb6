"""The pages as a superuser, an owner and a member really use them (issue 12): double clicks,
rows revoked by someone else, phones, long names, the keyboard, history, the Activity log."""

from __future__ import annotations

import csv
import io
import re
import urllib.request

import pytest
from conftest import make_token
from playwright.sync_api import expect

from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken, User

from .conftest import PASSWORD, build_world, sign_in_over_http

WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 375, "height": 740}}
# Enough tokens for two pages of 50 (and so for a long page); natural order is job 1, 2, ... 55.
MANY_TOKENS = [f"job {n}" for n in range(1, 56)]
LONG_NAME = "x" * 100


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def viewport(request) -> dict:
    return WIDTHS[request.param]


@pytest.fixture
def big_world(live):
    return build_world(live, owner_name="Quinn Okafor", token_names=MANY_TOKENS)


def page_for(new_page, person, viewport=WIDTHS["desktop"], **options):
    page = new_page(viewport=viewport, **options)
    sign_in_over_http(page, person.email)
    return page


def revoke_meanwhile(live, token) -> None:
    """The owner's script revokes the token (with itself) behind this page's back."""
    request = urllib.request.Request(
        f"{live.url}/api/v2/tokens/{token.id}/",
        method="DELETE",
        headers={"Authorization": f"Token {token.value}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204


def scrolls_sideways(page) -> bool:
    """Whether the settled page is wider than the window. Settled: a swap half done (old and new
    content both in the page for a moment) measured wide on a loaded CI machine, once."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def tab_to(page, locator, presses: int = 300) -> None:
    """Press Tab until the locator has the focus, as a keyboard user gets there."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if locator.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError("Tab never reached the element")


def row(page, token):
    return page.locator(f"#token-{token.id}")


# 1. Double-clicking the dialog's Revoke.


def test_double_clicking_revoke_reports_what_happened(new_page, world, live, viewport):
    token = world.tokens["Nightly export"]
    page = page_for(new_page, world.admin, viewport)
    posts = []
    page.on("response", lambda r: posts.append(r.status) if r.request.method == "POST" else None)
    page.goto("/tokens")
    page.get_by_label(f"Revoke {token.prefix} (Olivia Owner)").click()  # link or button
    page.get_by_role("dialog").get_by_role("button", name="Revoke").dblclick()

    expect(page.get_by_role("status")).to_contain_text(f"Revoked “Nightly export” ({token.prefix})")
    page.wait_for_timeout(1000)  # a second answer, if one were on its way, would have come
    expect(page.get_by_role("status")).to_contain_text(f"Revoked “Nightly export” ({token.prefix})")
    assert posts == [200]
    assert len(live.messages_to(world.owner.email)) == 1


# 2. A row someone else already revoked; error answers never replace the table.


def test_revoking_a_row_already_revoked_says_so_in_view_and_refreshes(
    new_page, big_world, live, viewport
):
    token = big_world.tokens["job 10"]  # created early: near the bottom of the newest-first page
    page = page_for(new_page, big_world.admin, viewport)
    page.goto("/tokens")
    expect(page.locator("#token-count")).to_have_text("56 tokens")
    revoke_meanwhile(live, token)

    control = row(page, token).get_by_label(re.compile("^Revoke"))  # whatever its role
    control.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 1000
    control.click()

    message = page.get_by_role("status")
    expect(message).to_contain_text("That token no longer exists")
    expect(message).to_be_in_viewport()
    expect(row(page, token)).to_have_count(0)
    expect(page.locator("#token-count")).to_have_text("55 tokens")
    expect(page.locator("#dialog-slot")).to_be_empty()


def test_a_refused_search_is_reported_and_the_table_keeps_working(new_page, world, live):
    page = page_for(new_page, world.admin)
    page.goto("/tokens")
    with live.database():
        db.session.get(User, world.admin.id).is_superuser = False
        db.session.commit()
    search = page.get_by_label("Search tokens")
    search.fill("night")
    expect(page.get_by_role("status")).to_contain_text("Only organization superusers")
    expect(page.locator("#token-table")).to_have_count(1)
    expect(page.locator("#token-table tbody tr")).to_have_count(4)

    with live.database():
        db.session.get(User, world.admin.id).is_superuser = True
        db.session.commit()
    search.fill("nightly")
    expect(page.locator("#token-count")).to_have_text("1 token matching “nightly”")
    expect(page.locator("#token-table tbody tr")).to_have_count(1)


# 3. Phones: nothing scrolls sideways, Revoke is on screen.


PHONE_PAGES = [
    (None, "/login"),
    ("admin", "/"),
    ("admin", "/team"),
    ("admin", "/team/{owner}"),
    ("admin", "/tokens"),
    ("admin", "/tokens?sort=last_used"),
    ("admin", "/activity"),
    ("admin", "/tokens/{token}/revoke"),
    ("admin", "/tokens/revoke?all_matching=1"),
    ("admin", "/tokens/999999/revoke"),  # already revoked
    ("admin", "/settings"),
    ("admin", "/sessions"),
    ("admin", "/reauthenticate"),
    ("owner", "/profile/tokens"),
    ("owner", "/profile/tokens/{token}/revoke"),
    ("owner", "/profile/tokens/{token}/rotate"),
    ("owner", "/activity"),
    ("owner", "/tokens"),  # 403
    ("bystander", "/profile/tokens"),  # 403 saying whom to ask
    ("admin", "/no-such-page"),  # 404
]


@pytest.mark.parametrize("who, path", PHONE_PAGES)
def test_no_page_scrolls_sideways_on_a_phone(new_page, world, live, who, path):
    with live.database():  # a used token: the widest row
        token = db.session.get(ApiToken, world.tokens["CI deploy"].id)
        token.last_used_at = utcnow()
        token.last_used_method, token.last_used_path = "DELETE", "/api/v2/organization/tokens/42/"
        db.session.commit()
    if who:
        page = page_for(new_page, getattr(world, who), WIDTHS["phone"])
    else:
        page = new_page(viewport=WIDTHS["phone"])
    url = path.format(owner=world.owner.id, token=world.tokens["CI deploy"].id)
    page.goto(url)
    assert page.url == live.url + url  # the page meant, not one it redirected to
    assert not scrolls_sideways(page)
    for button in page.locator("main button:visible").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, button.inner_text()


def test_on_a_phone_each_token_card_is_titled_by_its_name(new_page, world):
    """The bulk checkbox came first in the row: the name must still be the card's title."""
    page = page_for(new_page, world.admin, WIDTHS["phone"])
    page.goto("/tokens")
    name = row(page, world.tokens["CI deploy"]).locator(".name")
    assert int(name.evaluate("e => getComputedStyle(e).fontWeight")) >= 600


# 4. One long name.


def test_a_long_name_never_widens_the_page(new_page, live, viewport):
    world = build_world(live, token_names=[LONG_NAME, "short"])
    with live.database():
        token = db.session.get(ApiToken, world.tokens[LONG_NAME].id)
        token.last_used_at = utcnow()
        token.last_used_method = "DELETE"
        token.last_used_path = "/api/v2/organization/tokens/123456/with/a/rather/long/path/"
        db.session.commit()
    for who, path in [
        ("admin", "/tokens"),
        ("admin", f"/team/{world.owner.id}"),
        ("owner", "/profile/tokens"),
    ]:
        page = page_for(new_page, getattr(world, who), viewport)
        page.goto(path)
        assert not scrolls_sideways(page), path
        name_row = page.locator("tr", has_text=LONG_NAME)
        expect(name_row.locator(".name")).to_have_text(LONG_NAME)  # in full, wrapped
        for unbroken in [name_row.locator("code.prefix"), name_row.locator(".method")]:
            assert unbroken.evaluate("e => e.getClientRects().length") == 1, path
        # The path wraps, if at all, only before a slash: each part stays whole.
        for part in name_row.locator(".path > span").all():
            assert part.evaluate("e => e.getClientRects().length") == 1, part.inner_text()
            assert part.inner_text().startswith("/")


def test_a_long_search_never_widens_the_page(new_page, live, viewport):
    """The count and the "No tokens match" line repeat the search: a long word there wraps,
    whether typed or opened from a link (attack 12)."""
    world = build_world(live, token_names=[LONG_NAME, "short"])
    page = page_for(new_page, world.admin, viewport)
    for q in [LONG_NAME, "y" * 200]:  # one token matches; none does
        page.goto(f"/tokens?q={q}")
        expect(page.locator("#token-count")).to_contain_text(q)
        assert not scrolls_sideways(page), q
    page.goto("/tokens")
    page.get_by_label("Search tokens").fill(LONG_NAME)
    expect(page.locator("#token-count")).to_contain_text(LONG_NAME)
    assert not scrolls_sideways(page)


def test_the_revoke_question_for_a_long_name_fits_the_screen(new_page, live, viewport):
    """The dialog and the no-JavaScript confirmation repeat the name: on a phone Revoke stays
    on screen and nothing scrolls sideways (attack 12)."""
    world = build_world(live, token_names=[LONG_NAME])
    token = world.tokens[LONG_NAME]
    page = page_for(new_page, world.admin, viewport)
    page.goto("/tokens")
    row(page, token).get_by_label(re.compile("^Revoke")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(LONG_NAME)
    assert dialog.evaluate("d => d.scrollWidth <= d.clientWidth")
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    expect(dialog.get_by_role("button", name="Revoke")).to_be_in_viewport(ratio=1)

    no_script = page_for(new_page, world.admin, viewport, java_script_enabled=False)
    no_script.goto(f"/tokens/{token.id}/revoke")
    expect(no_script.get_by_role("heading", name="Revoke this API token?")).to_be_visible()
    assert not scrolls_sideways(no_script)


def test_creating_and_rotating_a_long_named_token_never_widens_the_page(new_page, live, viewport):
    """The headings of the new value and of the rotate pages repeat the name (attack 12)."""
    world = build_world(live, token_names=[LONG_NAME])
    page = page_for(new_page, world.owner, viewport)
    page.goto("/profile/tokens")
    page.get_by_label("Token name").fill("y" * 100)
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("Token value")).to_be_visible()
    assert not scrolls_sideways(page)

    page.goto(f"/profile/tokens/{world.tokens[LONG_NAME].id}/rotate")
    expect(page.get_by_role("heading", name=re.compile("^Rotate"))).to_be_visible()
    assert not scrolls_sideways(page)
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_label("Token value")).to_be_visible()
    assert not scrolls_sideways(page)


# 5. Keyboard and screen readers.


def test_keyboard_sorting_and_paging_keep_the_focus_on_the_link(new_page, big_world, viewport):
    page = page_for(new_page, big_world.admin, viewport)
    page.goto("/tokens")
    expect(page.locator("#token-count")).to_have_attribute("aria-live", "polite")

    name_link = page.get_by_role("columnheader", name="Name").get_by_role("link")
    tab_to(page, name_link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(name_link).to_be_focused()

    next_link = page.get_by_role("link", name="Next →")
    tab_to(page, next_link)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    # The last page has no Next: the pager's other link takes the focus.
    expect(page.get_by_role("link", name="← Previous")).to_be_focused()


def test_revoke_by_keyboard_is_a_button_and_keeps_the_scroll_position(new_page, big_world, live):
    token = big_world.tokens["job 12"]
    page = page_for(new_page, big_world.admin)
    page.goto("/tokens")
    button = row(page, token).get_by_role("button", name="Revoke")
    button.scroll_into_view_if_needed()
    button.focus()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 1000
    page.keyboard.press("Space")  # a link would scroll the page instead
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")  # from Cancel to Revoke
    expect(dialog.get_by_role("button", name="Revoke")).to_be_focused()
    page.keyboard.press("Enter")

    expect(row(page, token)).to_have_count(0)
    message = page.get_by_role("status")
    expect(message).to_contain_text(f"Revoked “job 12” ({token.prefix})")
    expect(message).to_be_in_viewport()
    assert abs(page.evaluate("window.scrollY") - scrolled) < 200


def test_revoke_all_matching_is_a_button_that_space_presses(new_page, world, viewport):
    """The other control that opens a revoke dialog behaves as the button it looks like."""
    page = page_for(new_page, world.admin, viewport)
    page.goto("/tokens?q=olivia")
    control = page.get_by_role("button", name="Revoke all 3 matching…")
    tab_to(page, control)
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press("Space")  # a link would scroll the page instead
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("3 tokens")
    assert page.evaluate("window.scrollY") == scrolled


def test_create_token_errors_and_the_new_value_take_the_focus(new_page, world, viewport):
    page = page_for(new_page, world.owner, viewport)
    page.goto("/profile/tokens")
    name = page.get_by_label("Token name")
    tab_to(page, page.get_by_role("button", name="Create token"))
    page.keyboard.press("Enter")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("Give the token a name."))

    page.keyboard.type("Laptop")
    page.keyboard.press("Enter")
    value = page.get_by_label("Token value")
    expect(value).to_be_focused()
    expect(value).to_have_accessible_description(re.compile("Copy it now"))


# 6. The record: the Activity log, its CSV, and the member page.


def test_activity_log_filters_pages_and_exports(new_page, big_world, live):
    spreadsheet_name = "=HYPERLINK(1)"
    with live.database():
        member = db.session.get(User, big_world.other.id)
        member.full_name = spreadsheet_name
        db.session.commit()
    revoked = big_world.tokens["Backup script"]
    page = page_for(new_page, big_world.admin)
    page.goto("/tokens")
    page.get_by_label(f"Revoke {revoked.prefix}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked")

    page.get_by_role("link", name="Activity", exact=True).click()
    expect(page).to_have_url(re.compile(r"/activity$"))
    expect(page.locator("#activity-count")).to_have_text("57 activities")  # 56 created, 1 revoked
    first = page.locator("table.activities tbody tr").first
    expect(first).to_contain_text(f"({revoked.prefix}) revoked by superuser Carol Admin")
    expect(page.locator("table.activities tbody tr")).to_have_count(50)
    page.get_by_role("link", name="Older →").click()
    expect(page.locator("table.activities tbody tr")).to_have_count(7)

    page.get_by_label("Kind").select_option("token_revoked")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#activity-count")).to_have_text("1 activity")

    export = page.request.get("/activity.csv?kind=token_revoked")
    assert export.status == 200 and export.headers["content-type"].startswith("text/csv")
    [header, line] = list(csv.reader(io.StringIO(export.text())))
    assert header[:5] == ["created_at", "kind", "actor_name", "actor_email", "subject_name"]
    assert line[1] == "token_revoked" and line[2] == "Carol Admin"
    assert line[4] == "'" + spreadsheet_name  # a spreadsheet shows it, never runs it

    page.goto(f"/team/{big_world.owner.id}")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.locator("#member-tokens tbody tr")).to_have_count(55)
    expect(page.locator(".activity-feed li")).to_have_count(20)
    page.get_by_role("link", name="All activity concerning Quinn Okafor").click()
    expect(page.locator("#activity-count")).to_have_text("55 activities")


def test_revoking_from_the_member_page_updates_its_tokens_and_activity(new_page, world, viewport):
    token = world.tokens["Grafana dashboard"]
    page = page_for(new_page, world.admin, viewport)
    page.goto(f"/team/{world.owner.id}")
    expect(page.locator("#member-tokens tbody tr")).to_have_count(3)
    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Revoked “Grafana dashboard” ({token.prefix})"
    )
    expect(page.locator("#member-tokens tbody tr")).to_have_count(2)
    page.reload()
    expect(page.locator(".activity-feed li").first).to_contain_text(
        f"({token.prefix}) revoked by superuser Carol Admin"
    )


def test_a_member_sees_only_their_own_activity(new_page, world):
    page = page_for(new_page, world.bystander, WIDTHS["phone"])
    page.goto("/activity")
    expect(page.locator("#activity-count")).to_have_text("0 activities")
    page = page_for(new_page, world.owner)
    page.goto("/activity")
    expect(page.locator("#activity-count")).to_have_text("3 activities")
    assert "Backup script" not in page.locator("main").inner_text()


# 7. Back and forward after a live search.


def test_typing_replaces_history_and_back_shows_box_and_table_in_agreement(new_page, big_world):
    page = page_for(new_page, big_world.admin)
    page.goto("/tokens")
    entries = page.evaluate("history.length")
    search = page.get_by_label("Search tokens")
    search.press_sequentially("Quinn")
    expect(page.locator("#token-count")).to_contain_text("matching “Quinn”")
    search.press_sequentially(" Okafor", delay=400)  # pauses that each ran a search
    expect(page.locator("#token-count")).to_have_text("55 tokens matching “Quinn Okafor”")
    assert page.evaluate("history.length") == entries
    expect(page).to_have_url(re.compile(r"q=Quinn(\+|%20)Okafor"))

    page.get_by_role("columnheader", name="Prefix").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=prefix"))
    assert page.evaluate("history.length") == entries + 1

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=Quinn(\+|%20)Okafor&"))
    expect(search).to_have_value("Quinn Okafor")
    expect(page.locator("#token-count")).to_have_text("55 tokens matching “Quinn Okafor”")
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"/tokens"))
    page.go_forward()
    expect(search).to_have_value(re.compile(r"^Quinn Okafor$"))


def test_back_after_a_revoke_never_shows_the_revoked_token(new_page, world, viewport):
    """Back to the list as it was before a sort shows it as it is now: the token revoked since
    is gone and the count agrees, instead of a copy kept from before the revoke (attack 12)."""
    token = world.tokens["Nightly export"]
    page = page_for(new_page, world.admin, viewport)
    page.goto("/tokens")
    expect(page.locator("#token-count")).to_have_text("4 tokens")
    page.get_by_role("columnheader", name="Name").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    row(page, token).get_by_label(re.compile("^Revoke")).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-count")).to_have_text("3 tokens")

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"sort=name"))
    expect(page.locator("#token-count")).to_have_text("3 tokens")
    expect(row(page, token)).to_have_count(0)
    page.go_forward()
    expect(page).to_have_url(re.compile(r"sort=name"))
    expect(row(page, token)).to_have_count(0)


def test_names_sort_naturally(new_page, big_world, viewport):
    page = page_for(new_page, big_world.admin, viewport)
    page.goto("/tokens")
    page.get_by_role("columnheader", name="Name").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(page.locator("#token-table tbody tr").nth(0)).to_contain_text("Backup script")
    names = page.locator("#token-table tbody tr td.token-name").all_inner_texts()
    assert names[1:12] == [f"job {n}" for n in range(1, 12)]  # job 2 before job 10


# 8. Without JavaScript: the list's page is kept too (its search and sort:
# test_without_javascript.py).


def test_without_javascript_cancel_and_revoke_return_to_the_same_page(new_page, big_world):
    token = big_world.tokens["job 52"]  # by name: Backup script, job 1 ... job 55; page 2
    page = page_for(new_page, big_world.admin, java_script_enabled=False)
    page.goto("/tokens?sort=name&dir=asc&page=2")
    page.get_by_role("button", name=f"Revoke {token.prefix} (Quinn Okafor)").click()
    expect(page).to_have_url(re.compile(rf"/tokens/{token.id}/revoke\?sort=name&dir=asc&page=2$"))
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/tokens\?sort=name&dir=asc&page=2$"))
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()

    page.get_by_role("button", name=f"Revoke {token.prefix} (Quinn Okafor)").click()
    page.get_by_role("button", name="Revoke", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tokens\?sort=name&dir=asc&page=2$"))
    expect(page.get_by_role("status")).to_contain_text(f"Revoked “job 52” ({token.prefix})")
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(row(page, token)).to_have_count(0)


def test_without_javascript_revoking_from_the_member_page_returns_there(new_page, world):
    token = world.tokens["Grafana dashboard"]
    page = page_for(new_page, world.admin, java_script_enabled=False)
    member_page = re.compile(rf"/team/{world.owner.id}$")
    page.goto(f"/team/{world.owner.id}")
    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(member_page)

    page.get_by_role("button", name=f"Revoke {token.prefix} (Olivia Owner)").click()
    page.get_by_role("button", name="Revoke", exact=True).click()
    expect(page).to_have_url(member_page)
    expect(page.get_by_role("status")).to_contain_text(
        f"Revoked “Grafana dashboard” ({token.prefix})"
    )
    expect(page.locator("#member-tokens tbody tr")).to_have_count(2)


# 9. The API's page past the end; 10. API details.


def test_api_page_past_the_end_is_404_and_api_answers_are_json(new_page, big_world):
    page = new_page()
    issued = page.request.post(
        "/api/v2/api-token-auth/",
        data={"username": big_world.admin.email, "password": PASSWORD, "name": "loop"},
    )
    assert issued.status == 200 and "retry-after" not in issued.headers
    auth = {"Authorization": f"Token {issued.json()['token']}"}

    pages, number = [], 1
    while True:  # a client looping until a page fails or comes back empty stops
        answer = page.request.get(f"/api/v2/organization/tokens/?page={number}", headers=auth)
        if answer.status != 200:
            break
        pages.append(answer.json()["page"])
        number += 1
    assert pages == [1, 2] and answer.status == 404 and "detail" in answer.json()

    redirect = page.request.get("/api/v2/me", headers=auth, max_redirects=0)
    assert redirect.status == 308 and redirect.headers["location"].endswith("/api/v2/me/")
    assert "/api/v2/me/" in redirect.json()["detail"]


# 10. Small ones.


def test_created_column_never_and_exact_times_with_the_local_zone(new_page, world, live, viewport):
    missing = []
    page = page_for(new_page, world.admin, viewport, timezone_id="Europe/Berlin")
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/tokens")
    token = world.tokens["CI deploy"]
    cells = row(page, token).locator("td")
    headers = page.locator("#token-table thead th")
    expect(headers.filter(has_text="Created")).to_have_count(1)
    expect(page.get_by_role("columnheader", name="Created")).to_have_attribute(
        "aria-sort", "descending"
    )
    # Never used: said in the Last used cell itself (Expires and Last usage may say so too).
    expect(row(page, token).locator('td[data-label="Last used"]')).to_have_text("Never")
    created = cells.nth(4)  # after the checkbox, name, prefix and user
    expect(created.locator(".exact")).to_be_visible()
    expect(created.locator(".exact")).to_contain_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    )
    expect(created.locator(".exact")).to_contain_text("Europe/Berlin")
    assert missing == []  # not even /favicon.ico


def test_copy_on_macos_says_command_c_and_without_javascript_no_copy_button(new_page, world):
    mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko)"
    page = page_for(new_page, world.owner, user_agent=mac)
    page.goto("/profile/tokens")
    page.get_by_label("Token name").fill("Laptop")
    page.get_by_role("button", name="Create token").click()
    page.evaluate(  # as when the browser refuses the clipboard
        "() => { navigator.clipboard.writeText = () => Promise.reject(new Error('denied')); }"
    )
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copy-feedback")).to_have_text("Press ⌘C to copy.")

    page.get_by_label("Token name").fill("Laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("You already have a token named")).to_be_visible()

    no_script = page_for(new_page, world.owner, java_script_enabled=False)
    no_script.goto("/profile/tokens")
    no_script.get_by_label("Token name").fill("Desktop")
    no_script.get_by_role("button", name="Create token").click()
    expect(no_script.get_by_label("Token value")).to_be_visible()
    expect(no_script.get_by_role("button", name="Copy")).to_have_count(0)


# 11. Blocked tokens and the member without the permission.


def test_blocked_tokens_are_marked_and_a_member_learns_whom_to_ask(new_page, world, live, viewport):
    with live.database():
        blocked, _ = make_token(db.session.get(User, world.bystander.id), "Old laptop")
        blocked_id = blocked.id
        departed = db.session.get(User, world.other.id)  # holds "Backup script"
        departed.is_active = False
        db.session.commit()
    page = page_for(new_page, world.admin, viewport)
    page.goto("/tokens")
    blocked_row = page.locator(f"#token-{blocked_id}")
    expect(blocked_row.locator(".name-cell")).to_contain_text("Blocked")
    expect(blocked_row).to_contain_text("lacks the token permission")
    departed_row = row(page, world.tokens["Backup script"])
    expect(departed_row.locator(".name-cell")).to_contain_text("Blocked")
    expect(departed_row).to_contain_text("Owner deactivated")
    expect(row(page, world.tokens["CI deploy"])).not_to_contain_text("Blocked")

    member = page_for(new_page, world.bystander, viewport)
    answer = member.goto("/profile/tokens")
    assert answer.status == 403
    expect(member.get_by_role("main")).to_contain_text(
        "Ask an organization superuser (Carol Admin)"
    )


def test_keyboard_revoke_of_a_row_already_revoked_keeps_the_focus_on_the_message(
    new_page, world, live, viewport
):
    """The stale row leaves the table with the button the keyboard pressed: the focus goes to
    the message that says why, never to <body> (attack 12)."""
    token = world.tokens["Nightly export"]
    page = page_for(new_page, world.admin, viewport)
    page.goto("/tokens")
    revoke_meanwhile(live, token)

    control = row(page, token).get_by_label(re.compile("^Revoke"))
    tab_to(page, control)
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("That token no longer exists")
    expect(row(page, token)).to_have_count(0)
    expect(page.locator("#status")).to_be_focused()
