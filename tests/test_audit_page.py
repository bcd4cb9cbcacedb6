"""The Organization API Tokens page (SPEC section 5) and its JSON twin."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import (
    auth_header,
    database,
    make_org,
    make_token,
    make_user,
    row_prefixes,
    update_stored,
)
from markup import by_id, column_headers, parse, shown_text
from reference import expected_prefixes

from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken
from tokenaudit.token_listing import PAGE_SIZE

SORT_KEYS = ["name", "prefix", "user", "last_used", "last_usage", "created", "expires"]


def table_markup(response) -> str:
    """The token table's markup, as served."""
    return re.search(
        r'<section id="token-table".*?</section>', response.get_data(as_text=True), re.S
    )[0]


@pytest.fixture
def tokens(org, admin):
    """A varied set of tokens: names, owners and usage differ, some never used."""
    with database():
        owners = [
            make_user(org, "zoe@acme.test", "zoe Zimmer"),
            make_user(org, "adam@acme.test", "Adam Ant"),
            make_user(org, "mia@elsewhere.test", "Mia Müller"),
        ]
        now = utcnow()
        made = []
        usages = [
            ("GET", "/api/v2/me/"),
            ("DELETE", "/api/v2/tokens/3/"),
            ("GET", "/api/v2/tokens/"),
        ]
        for index, name in enumerate(
            ["beta job", "Alpha sync", "gamma", "Delta", "epsilon CI", "Zeta"]
        ):
            token, _ = make_token(owners[index % 3], name)
            token.created_at = now - timedelta(days=10 - index)
            # Two never expire, one has expired; the others in an order unlike any other column's.
            token.expires_at = (
                None if index in (1, 4) else now + timedelta(days=(index * 5) % 7 - 1)
            )
            if index % 2 == 0:
                token.last_used_at = now - timedelta(hours=index + 1)
                token.last_used_method, token.last_used_path = usages[index % 3]
            made.append(token)
        db.session.commit()
    return made


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", SORT_KEYS)
def test_each_sort_key_and_direction(admin_client, tokens, sort, direction):
    response = admin_client.htmx_get(f"/tokens?sort={sort}&dir={direction}")
    assert row_prefixes(response.get_data(as_text=True)) == expected_prefixes(
        tokens, sort=sort, direction=direction
    )


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", SORT_KEYS)
def test_api_twin_sorts_like_the_page(admin_client, admin, tokens, sort, direction):
    _, value = make_token(admin, "admin script")
    api = admin_client.get(
        f"/api/v2/organization/tokens/?sort={sort}&dir={direction}", headers=auth_header(value)
    )
    # After the API call, so the admin token's own use is in both orders.
    page = admin_client.htmx_get(f"/tokens?sort={sort}&dir={direction}").get_data(as_text=True)
    assert [t["prefix"] for t in api.json["tokens"]] == row_prefixes(page)
    assert len(row_prefixes(page)) == len(tokens) + 1


def test_default_order_is_newest_first(admin_client, tokens):
    page = admin_client.get("/tokens").get_data(as_text=True)
    assert row_prefixes(page) == expected_prefixes(tokens)


def test_active_column_header_shows_aria_sort_and_toggles(admin_client, tokens):
    page = admin_client.htmx_get("/tokens?sort=name&dir=asc").get_data(as_text=True)
    assert page.count("aria-sort=") == 1
    assert 'aria-sort="ascending"' in page
    name_link = page.split('aria-sort="ascending">')[1].split('href="')[1].split('"')[0]
    assert parse_qs(urlsplit(name_link.replace("&amp;", "&")).query) == {
        "sort": ["name"],
        "dir": ["desc"],
    }


@pytest.mark.parametrize(
    "query, expected_names",
    [
        ("ALPHA", {"Alpha sync"}),  # token name, case-insensitive
        ("zimmer", {"beta job", "Delta"}),  # owner name
        ("elsewhere.test", {"gamma", "Zeta"}),  # owner email
        ("müller", {"gamma", "Zeta"}),
        ("%", set()),  # LIKE wildcards are literal
        ("alph_", set()),  # "_" is literal too (every prefix holds a real one)
    ],
)
def test_search_matches_name_owner_name_and_email(admin_client, tokens, query, expected_names):
    page = admin_client.htmx_get("/tokens", query_string={"q": query}).get_data(as_text=True)
    shown = {t.name for t in tokens if t.prefix in row_prefixes(page)}
    assert shown == expected_names


def test_search_matches_prefix(admin_client, tokens):
    target = tokens[3]
    page = admin_client.htmx_get("/tokens", query_string={"q": target.prefix[4:].lower()}).get_data(
        as_text=True
    )
    assert target.prefix in row_prefixes(page)


def test_fragment_versus_full_page(admin_client, tokens):
    full = admin_client.get("/tokens")
    fragment = admin_client.htmx_get("/tokens")
    assert "<html" in full.get_data(as_text=True)
    # Exactly what htmx swaps: the table (outerHTML of #token-table) as the full page has it,
    # and the count beside it out of band; nothing else that would land inside the table.
    swapped = parse(fragment.get_data(as_text=True)).children
    assert [(element.tag, element.attrs.get("id")) for element in swapped] == [
        ("section", "token-table"),
        ("p", "token-count"),
    ]
    assert swapped[1].attrs["hx-swap-oob"] == "innerHTML"
    assert table_markup(fragment) == table_markup(full)
    full_count = by_id(parse(full.get_data(as_text=True)), "token-count")
    assert shown_text(swapped[1]) == shown_text(full_count) == f"{len(tokens)} tokens"
    for response in (full, fragment):
        assert "HX-Request" in response.headers["Vary"]
    restore = admin_client.get(
        "/tokens", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.get_data(as_text=True)


def test_columns_and_no_token_value(admin_client, tokens):
    page = admin_client.get("/tokens").get_data(as_text=True)
    assert column_headers(page) == [
        "",  # the select-all checkbox
        "Name",
        "Prefix",
        "User",
        "Created",  # the default sort: its arrow is hidden from screen readers
        "Last used",
        "Last usage",
        "Expires",
        "Status",
        "Actions",
    ]
    used = tokens[0]
    assert f'href="/team/{used.owner.id}"' in page
    assert used.last_used_at.strftime("%Y-%m-%d %H:%M:%S UTC") in page
    assert "GET /api/v2/me/" in re.sub(r"<[^>]+>", "", page)  # as shown: the path may wrap
    for token in tokens:
        assert token.digest not in page


@pytest.mark.parametrize(
    "args", ["sort=bogus&dir=sideways&page=x", "page=-3", "page=99999", "sort=&dir=", "page=1e9"]
)
def test_unknown_parameters_fall_back_to_defaults(admin_client, tokens, args):
    response = admin_client.htmx_get(f"/tokens?{args}")
    assert response.status_code == 200
    assert len(row_prefixes(response.get_data(as_text=True))) == len(tokens)


def test_pages_of_50_with_total_count(admin_client, admin):
    now = utcnow()
    rows = [
        ApiToken(
            user_id=admin.id,
            organization_id=admin.organization_id,
            name=f"t{i:03}",
            prefix=f"tka_{i:08}",
            digest="0" * 64,
            created_at=now - timedelta(minutes=i),
        )
        for i in range(120)
    ]
    with database():
        db.session.add_all(rows)
        db.session.commit()
    first = admin_client.htmx_get("/tokens?sort=name").get_data(as_text=True)
    assert "120 tokens" in first and "Page 1 of 3" in first
    assert len(row_prefixes(first)) == PAGE_SIZE
    last = admin_client.htmx_get("/tokens?sort=name&page=3").get_data(as_text=True)
    assert row_prefixes(last) == [f"tka_{i:08}" for i in range(100, 120)]
    assert 'rel="prev"' in last and 'rel="next"' not in last


def test_tokens_of_other_organizations_never_show(admin_client, tokens):
    outsider = make_user(make_org("Other"), "x@other.test", "Outsider")
    foreign, _ = make_token(outsider, "foreign token")
    page = admin_client.get("/tokens?q=foreign").get_data(as_text=True)
    assert foreign.prefix not in page and "0 tokens" in page
    assert admin_client.get(f"/tokens/{foreign.id}/revoke").status_code == 404


def test_session_expired_htmx_request_gets_hx_redirect(client, tokens):
    response = client.htmx_get("/tokens?q=x")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=/tokens")


def test_api_twin_lists_with_same_search_sort_and_pages(client, admin, tokens):
    _, value = make_token(admin, "admin script")
    response = client.get(
        "/api/v2/organization/tokens/?q=zimmer&sort=name&dir=desc", headers=auth_header(value)
    )
    assert response.status_code == 200
    body = response.json
    assert body["count"] == 2 and body["page"] == 1 and body["pages"] == 1
    assert [t["name"] for t in body["tokens"]] == ["Delta", "beta job"]
    first = body["tokens"][0]
    assert set(first) == {
        "id",
        "name",
        "prefix",
        "user",
        "created_at",
        "last_used_at",
        "last_used_method",
        "last_used_path",
        "expires_at",
        "last_used_ip",
        "status",
    }
    assert first["user"]["email"] == "zoe@acme.test"


@pytest.mark.parametrize("query", ["a%00b", "%07", "x%ED%A0%80", "%FF%FE"])
def test_search_ignores_control_characters_and_bad_utf8(admin_client, tokens, query):
    assert admin_client.htmx_get(f"/tokens?q={query}").status_code == 200


def test_huge_ids_are_404(admin_client):
    assert admin_client.get("/tokens/99999999999999999999/revoke").status_code == 404
    assert admin_client.get("/team/99999999999999999999").status_code == 404


def shown_names(client, q: str, tokens) -> set[str]:
    page = client.htmx_get("/tokens", query_string={"q": q}).get_data(as_text=True)
    return {t.name for t in tokens if t.prefix in row_prefixes(page)}


def test_search_typed_in_capitals_finds_accented_names(admin_client, tokens):
    assert shown_names(admin_client, "MÜLLER", tokens) == {"gamma", "Zeta"}


def test_short_searches_match_too(admin_client, tokens):
    # A random prefix may hold "ze" too: those tokens are rightly found as well.
    by_prefix = {t.name for t in tokens if "ze" in t.prefix.lower()}
    assert shown_names(admin_client, "ze", tokens) == {"Zeta"} | by_prefix
    assert shown_names(admin_client, "Ø", tokens) == set()


def test_search_follows_new_revoked_and_renamed_tokens_and_owners(admin_client, tokens, member):
    fresh, _ = make_token(member, "fresh pipeline")
    assert shown_names(admin_client, "pipeline", [fresh]) == {"fresh pipeline"}
    prefix = fresh.prefix
    admin_client.submit(f"/tokens/{fresh.id}/revoke")
    assert row_prefixes(admin_client.htmx_get("/tokens?q=pipeline").get_data(as_text=True)) == []
    assert prefix not in row_prefixes(admin_client.htmx_get("/tokens").get_data(as_text=True))
    update_stored(tokens[0].owner, full_name="Renamed Person")
    assert shown_names(admin_client, "renamed person", tokens) == {"beta job", "Delta"}
    assert shown_names(admin_client, "zimmer", tokens) == set()


def test_names_sort_as_people_read_numbers(admin_client, admin):
    for name in ["job 10", "Job 2", "job 1", "job 02b", "backup"]:
        make_token(admin, name)

    def names(direction):
        page = admin_client.htmx_get(f"/tokens?sort=name&dir={direction}").get_data(as_text=True)
        return re.findall(r'<bdi class="name">(.*?)</bdi>', page)

    assert names("asc") == ["backup", "job 1", "Job 2", "job 02b", "job 10"]
    assert names("desc") == ["job 10", "job 02b", "Job 2", "job 1", "backup"]
