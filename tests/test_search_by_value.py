"""A whole token value pasted into the audit search finds that token by its digest (SPEC 12),
and never stays in a URL the browser keeps, in the page, or in a log."""

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import auth_header, make_org, make_token, make_user, row_prefixes, wrong_secret


@pytest.fixture
def leak(org, admin, member):
    """Bob's leaked token among others, one of them named after the leaked token's prefix."""
    token, value = make_token(member, "Deploy bot")
    make_token(member, "Nightly export")
    make_token(admin, f"notes about {token.prefix}")
    outsider = make_user(make_org("Initech"), "peter@initech.test")
    _, outsider_value = make_token(outsider, "Initech deploy")
    return token, value, outsider_value


def test_htmx_search_by_a_whole_value_lists_that_token_and_puts_its_prefix_in_the_url(
    admin_client, leak
):
    token, value, _ = leak
    response = admin_client.htmx_get("/tokens", query_string={"q": value, "sort": "name"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 token matching" in html and row_prefixes(html) == [token.prefix]
    # (not the token named after its prefix)
    # The browser pushes this URL instead of the one it requested; the page holds no value.
    assert response.headers["HX-Push-Url"] == f"/tokens?q={token.prefix}&sort=name&dir=asc"
    assert value not in html and value[12:44] not in html


def test_the_prefix_url_shows_the_same_token_on_reload(admin_client, leak):
    token, value, _ = leak
    pushed = admin_client.htmx_get("/tokens", query_string={"q": value}).headers["HX-Push-Url"]
    reloaded = admin_client.get(pushed).get_data(as_text=True)
    assert token.prefix in row_prefixes(reloaded) and value not in reloaded


def test_without_javascript_a_whole_value_is_answered_303_to_its_prefix(admin_client, leak, logs):
    token, value, _ = leak
    response = admin_client.get("/tokens", query_string={"q": value, "sort": "name", "page": 3})

    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/tokens"
    assert parse_qs(location.query) == {"q": [token.prefix], "sort": ["name"], "dir": ["asc"]}
    assert value not in response.headers["Location"] and value not in response.get_data(True)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert token.prefix in row_prefixes(page)
    assert value not in logs.text and "path=/tokens status=303" in logs.text


def test_a_value_that_is_not_the_tokens_finds_nothing_even_with_its_prefix(admin_client, leak):
    token, value, outsider_value = leak
    for other_value in (wrong_secret(value), outsider_value):
        html = admin_client.htmx_get("/tokens", query_string={"q": other_value}).get_data(True)
        assert "0 tokens matching" in html and row_prefixes(html) == []
        assert other_value not in html


def test_without_javascript_a_value_that_is_not_the_tokens_finds_nothing_either(admin_client, leak):
    # The 303 leads to the prefix; what is shown there is still what the digest found.
    token, value, outsider_value = leak
    for other_value in (wrong_secret(value), outsider_value):
        response = admin_client.get("/tokens", query_string={"q": other_value})
        assert response.status_code == 303 and other_value not in response.headers["Location"]
        html = admin_client.get(response.headers["Location"]).get_data(as_text=True)
        assert "0 tokens matching" in html and row_prefixes(html) == []
        assert other_value not in html
    # The real value still finds its token, and a later search by prefix is a text search again.
    found = admin_client.get(admin_client.get("/tokens", query_string={"q": value}).location)
    assert token.prefix in row_prefixes(found.get_data(as_text=True))
    html = admin_client.get("/tokens", query_string={"q": token.prefix}).get_data(as_text=True)
    assert token.prefix in row_prefixes(html)


@pytest.mark.parametrize("pasted", ["Authorization: Token {}", '  "{}",', "API_TOKEN={}\n"])
def test_a_whole_value_pasted_with_text_around_it_is_searched_as_that_value(
    admin_client, leak, pasted
):
    # What is copied from a header, a config file or a log line carries text around the value.
    token, value, _ = leak
    q = pasted.format(value)
    response = admin_client.htmx_get("/tokens", query_string={"q": q})
    html = response.get_data(as_text=True)
    assert "1 token matching" in html and token.prefix in row_prefixes(html)
    assert response.headers["HX-Push-Url"] == f"/tokens?q={token.prefix}&sort=created&dir=desc"
    assert value not in html
    without_javascript = admin_client.get("/tokens", query_string={"q": q})
    assert without_javascript.status_code == 303
    assert parse_qs(urlsplit(without_javascript.location).query)["q"] == [token.prefix]


def test_the_api_twin_finds_a_whole_value_by_its_digest(client, admin, leak):
    token, value, outsider_value = leak
    _, admin_value = make_token(admin, "admin script")

    def found(q: str) -> list[str]:
        response = client.get(
            "/api/v2/organization/tokens/", query_string={"q": q}, headers=auth_header(admin_value)
        )
        return [t["prefix"] for t in response.json["tokens"]]

    assert found(value) == [token.prefix]
    assert found(wrong_secret(value)) == [] and found(outsider_value) == []
