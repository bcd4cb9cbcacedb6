"""Status and owner filters on the audit page and its JSON twin (SPEC section 11)."""

from datetime import timedelta

import pytest
from conftest import auth_header, database, make_org, make_token, make_user

from tokenaudit import token_listing
from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.token_filters import STATUS_LABELS

SORTS = ["name", "prefix", "user", "last_used", "last_usage", "created", "expires"]
# What each hand-made token is, by name: (created days ago, last used days ago or None,
# expires in days, negative when past, or None for never).
AGES = {
    "fresh unused": (3, None, None),
    "old unused": (200, None, None),
    "used today": (300, 0.1, None),
    "used 100 days ago": (300, 100, None),
    "used 30 days ago": (40, 30, None),
    "blocked used today": (10, 0.1, None),
    "blocked old unused": (200, None, None),
    "no permission used today": (10, 0.1, None),
    "expiring used today": (10, 0.1, 3),
    "expires next month": (5, 0.1, 30),
    "expired used lately": (60, 2, -1),
    "expired old unused": (200, None, -100),
    "blocked expiring": (10, 0.1, 2),
}
EXPECTED = {
    "active": {"used today", "used 30 days ago", "expiring used today", "expires next month"},
    "never_used": {"fresh unused", "old unused", "blocked old unused", "expired old unused"},
    "stale": {"old unused", "used 100 days ago", "blocked old unused", "expired old unused"},
    "blocked": {
        "blocked used today",
        "blocked old unused",
        "no permission used today",
        "blocked expiring",
    },
    "expired": {"expired used lately", "expired old unused"},
    "expiring": {"expiring used today", "blocked expiring"},
}
# A row shows the most pressing of its statuses.
SHOWN = {
    "fresh unused": "never_used",
    "old unused": "stale",
    "used today": "active",
    "used 100 days ago": "stale",
    "used 30 days ago": "active",
    "blocked used today": "blocked",
    "blocked old unused": "blocked",
    "no permission used today": "blocked",
    "expiring used today": "expiring",
    "expires next month": "active",
    "expired used lately": "expired",
    "expired old unused": "expired",
    "blocked expiring": "blocked",
}


@pytest.fixture
def world(org, admin):
    """The tokens of AGES, spread over three owners, one deactivated, one without permission."""
    with database():
        ada = make_user(org, "ada@acme.test", "Ada Lovelace")
        gone = make_user(org, "gone@acme.test", "Gone Person", active=False)
        nope = make_user(org, "nope@acme.test", "Nora Nopermission", can_manage_tokens=False)
        now = utcnow()
        ids = {}
        for name, (created, used, expires) in AGES.items():
            owner = gone if name.startswith("blocked") else nope if name.startswith("no ") else ada
            token, _ = make_token(owner, name)
            token.created_at = now - timedelta(days=created)
            token.expires_at = now + timedelta(days=expires) if expires is not None else None
            if used is not None:
                token.last_used_at = now - timedelta(days=used)
                token.last_used_method, token.last_used_path = "GET", "/api/v2/me/"
            ids[name] = token.id
        # Another organization's tokens never show, whatever the filter.
        stranger = make_user(make_org("Other"), "olga@other.test")
        make_token(stranger, "used today")
        db.session.commit()
    _, admin_value = make_token(admin, "admin script")
    # The admin's own token is used by every request below: it is active.
    return {"ids": ids, "ada": ada, "header": auth_header(admin_value)}


def listed(client, world, query=""):
    """Names of every token the JSON twin lists for the query, in order, with their status."""
    rows, page = [], 1
    while True:
        body = client.get(
            f"/api/v2/organization/tokens/?{query}&page={page}", headers=world["header"]
        ).json
        rows += [(t["name"], t["status"]) for t in body["tokens"]]
        if page >= body["pages"]:
            assert body["count"] == len(rows)  # the count is worked out apart from the rows
            return [name for name, _ in rows if name != "admin script"], dict(rows)
        page += 1


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_each_status_lists_exactly_its_tokens(client, world, status):
    names, _ = listed(client, world, f"status={status}")
    assert sorted(names) == sorted(EXPECTED[status])


def test_each_row_shows_its_most_pressing_status(client, admin_client, world):
    _, statuses = listed(client, world)
    assert {name: statuses[name] for name in AGES} == SHOWN
    page = admin_client.get("/tokens").get_data(as_text=True)
    for name, token_id in world["ids"].items():
        row = page.split(f'id="token-{token_id}"')[1].split("</tr>")[0]
        status = SHOWN[name]  # as the Status column shows it: its label, in its colour
        assert f'<span class="badge status-{status}">{STATUS_LABELS[status]}</span>' in row
    assert ">Never used</span>" in page and ">Blocked</span>" in page


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_status_combines_with_a_search_and_each_sort(client, world, sort, direction, status):
    # Searches that keep some tokens but not all, and that no random prefix (letters and
    # digits only), owner name or email can hold: each status has tokens under one of them.
    for search in ("d u", "s a", "d t"):
        view = f"q={search.replace(' ', '%20')}&sort={sort}&dir={direction}"
        everything, _ = listed(client, world, view)
        filtered, _ = listed(client, world, f"{view}&status={status}")
        assert set(filtered) == {name for name in EXPECTED[status] if search in name}
        # The same order as the unfiltered view, less the tokens without the status.
        assert filtered == [name for name in everything if name in EXPECTED[status]]


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_many_matches_are_counted_as_many_as_are_listed(monkeypatch, client, world, status):
    """Past FEW_MATCHES matches the total is counted apart from the rows, from index ranges
    (TokenFilters.count_terms): the same tokens, and `listed` checks the count equals them."""
    extras = ["", f"&owner={world['ada'].id}", "&q=d%20u", "&unused_days=20"]
    queries = [f"status={status}{extra}" for extra in extras]
    collected = {query: listed(client, world, query)[0] for query in queries}
    monkeypatch.setattr(token_listing, "FEW_MATCHES", 0)
    for query in queries:
        assert listed(client, world, query)[0] == collected[query], query


def test_unused_days_moves_the_stale_line(client, world):
    names, _ = listed(client, world, "status=stale&unused_days=20")
    assert sorted(names) == sorted(EXPECTED["stale"] | {"used 30 days ago"})
    names, _ = listed(client, world, "status=active&unused_days=20")
    assert sorted(names) == ["expires next month", "expiring used today", "used today"]
    _, statuses = listed(client, world, "unused_days=20")
    assert statuses["used 30 days ago"] == "stale"


def test_owner_filter_lists_one_members_tokens(client, world):
    ada = world["ada"]
    names, _ = listed(client, world, f"owner={ada.id}")
    assert sorted(names) == sorted(n for n in AGES if not n.startswith(("blocked", "no ")))
    names, _ = listed(client, world, f"owner={ada.id}&status=stale")
    assert sorted(names) == ["expired old unused", "old unused", "used 100 days ago"]


def test_each_rows_owner_link_keeps_the_view_and_lists_that_owners_tokens(admin_client, world):
    ada, token_id = world["ada"], world["ids"]["old unused"]
    fragment = admin_client.htmx_get("/tokens?q=d&status=stale&sort=name&dir=desc&page=1")
    row = fragment.get_data(as_text=True).split(f'id="token-{token_id}"')[1].split("</tr>")[0]
    link = row.split('class="secondary filter-owner" href="')[1].split('"')[0]
    assert link == f"/tokens?q=d&amp;status=stale&amp;sort=name&amp;dir=desc&amp;owner={ada.id}"
    listed_page = admin_client.htmx_get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "old unused" in listed_page and "blocked old unused" not in listed_page


def test_owner_of_another_organization_lists_nothing(client, world):
    with database():
        stranger_id = db.session.execute(
            db.text("SELECT id FROM users WHERE email = 'olga@other.test'")
        ).scalar()
    body = client.get(
        f"/api/v2/organization/tokens/?owner={stranger_id}", headers=world["header"]
    ).json
    assert body["count"] == 0 and body["tokens"] == []


@pytest.mark.parametrize(
    "query", ["status=bogus", "status=", "unused_days=-4", "unused_days=abc", "owner=x", "owner=0"]
)
def test_unknown_filter_values_fall_back_to_no_filter(client, world, query):
    names, _ = listed(client, world, query)
    assert sorted(names) == sorted(AGES)


def test_filtered_page_counts_and_keeps_the_filter_in_its_links(admin_client, world):
    response = admin_client.htmx_get("/tokens?status=stale&unused_days=120")
    fragment = response.get_data(as_text=True)
    # unused_days=120: "used 100 days ago" is no longer stale.
    assert "3 tokens" in fragment
    assert "old unused" in fragment and "used 100 days ago" not in fragment
    # Header links, the CSV link and revoke-all carry the filters.
    assert 'href="/tokens?status=stale&amp;unused_days=120&amp;sort=name' in fragment
    assert 'href="/tokens.csv?status=stale&amp;unused_days=120' in fragment
    assert "/tokens/revoke?all_matching=1&amp;status=stale&amp;unused_days=120" in fragment
    page = admin_client.get("/tokens?status=stale").get_data(as_text=True)
    assert '<option value="stale" selected>' in page
