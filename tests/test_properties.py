"""Property-based: whatever a client sends in these places, never a 500, never a change on refusal.

One app per test function, shared by its examples (a fresh database per example is too slow);
each example compares the database before and after itself instead.
"""

import json
import string

import pytest
from conftest import PASSWORD, auth_header, database_snapshot, make_token, make_user
from hypothesis import given
from hypothesis import strategies as st
from reference import matches_search

from tokenaudit.token_listing import SORT_COLUMNS
from tokenaudit.tokens import TOKEN_LENGTH

# Authenticating records a token's use (SPEC section 7): the one write a good token may cause.
USAGE_COLUMNS = frozenset(
    f"api_tokens.{c}"
    for c in ("last_used_at", "last_used_method", "last_used_path", "last_used_ip")
)
# Text a URL can carry: anything but lone surrogates, which cannot be encoded at all.
url_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
# Text an HTTP header can carry (latin-1, no line breaks).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | url_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(url_text, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def app_config():
    # Failed sign-ins are rate limited; hypothesis makes hundreds on purpose.
    return {"RATELIMIT_ENABLED": False}


@pytest.fixture
def superuser_value(admin, member):
    for name in ("alpha", "Beta", "gamma ✓"):
        make_token(member, name)
    return make_token(admin, "admin script")[1]


list_params = st.fixed_dictionaries(
    {},
    optional={
        "q": url_text,
        "sort": st.sampled_from(sorted(SORT_COLUMNS)) | url_text,
        "dir": st.sampled_from(["asc", "desc"]) | url_text,
        "page": st.integers(-(10**30), 10**30).map(str) | url_text,
    },
)


@given(params=list_params)
def test_token_list_parameters_never_fail(admin_client, superuser_value, params):
    before = database_snapshot(USAGE_COLUMNS)
    page = admin_client.get("/tokens", query_string=params)
    fragment = admin_client.htmx_get("/tokens", query_string=params)
    api = admin_client.get(
        "/api/v2/organization/tokens/", query_string=params, headers=auth_header(superuser_value)
    )
    assert page.status_code == fragment.status_code == 200
    if api.status_code == 404:  # a page past the end or not a page number (the pages show
        # the last or the first page instead)
        raw = params["page"]
        assert not (raw.isascii() and raw.isdigit()) or int(raw) != 1, raw
        assert api.json["detail"].startswith("Invalid page")
    else:
        assert api.status_code == 200
        assert 1 <= api.json["page"] <= api.json["pages"]
        assert len(api.json["tokens"]) <= api.json["count"] <= 4
    assert database_snapshot(USAGE_COLUMNS) == before


credentials = st.fixed_dictionaries(
    {},
    optional={
        "username": st.sampled_from(["bob@acme.test", "BOB@acme.test"]) | json_values,
        "password": st.just(PASSWORD) | json_values,
        "name": url_text | json_values,
    },
)


@given(body=json_values | credentials)
def test_api_token_auth_bodies_never_fail(client, member, body):
    before = database_snapshot()
    # Serialized here: the test client's json=None would send no body at all (415, not JSON).
    response = client.post(
        "/api/v2/api-token-auth/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (200, 400, 401)
    assert response.is_json
    if response.status_code == 200:
        assert response.json["token"].startswith("tka_")
    else:
        assert response.json["detail"]
        assert database_snapshot() == before


def near_misses(value: str):
    """The real value with one character changed, cut, or padded; or its case flipped."""
    index = st.integers(0, TOKEN_LENGTH - 1)
    replaced = st.tuples(index, st.sampled_from(string.ascii_letters + string.digits + " _-")).map(
        lambda change: value[: change[0]] + change[1] + value[change[0] + 1 :]
    )
    return (
        replaced | index.map(lambda i: value[:i]) | st.just(value.swapcase()) | st.just(value + "A")
    )


@pytest.fixture
def good_value(member):
    return make_token(member)[1]


@given(data=st.data())
def test_authorization_headers_never_fail_and_only_the_real_value_works(client, good_value, data):
    value = data.draw(st.just(good_value) | near_misses(good_value) | header_text, label="value")
    scheme = data.draw(
        st.sampled_from(["Token ", "token ", "Bearer ", "Token  ", ""]), label="scheme"
    )
    header = scheme + value
    before = database_snapshot()
    response = client.get("/api/v2/me/", headers={"Authorization": header})
    if value == good_value and scheme.strip().lower() == "token" and scheme.count(" ") == 1:
        assert response.status_code == 200
    else:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Token"
        assert database_snapshot() == before  # not even a recorded use


@given(name=url_text)
def test_token_names_from_the_profile_form_never_fail(member_client, name):
    before = database_snapshot()
    response = member_client.submit("/profile/tokens", {"name": name})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert database_snapshot() == before


# Letters whose case folding is tricky: ß folds to "ss", İ to two characters, Σ has a final form.
SEARCH_ALPHABET = "aAsSßẞiIİıσΣς_%1 "
search_words = st.text(SEARCH_ALPHABET, min_size=1, max_size=6)


@pytest.fixture
def named_tokens(org, admin):
    """Tokens named from the tricky alphabet, held by owners named from it too."""
    names = ["Straße", "STRASSE", "İstanbul", "ıi", "ΣΑΣ", "σας", "a_b", "100%", "ss ß", "İİ"]
    owners = [
        admin,
        make_user(org, "ss@acme.test", "Ssß Owner"),
        make_user(org, "i@acme.test", "İlkay Iş"),
    ]
    tokens = [make_token(owners[i % 3], name)[0] for i, name in enumerate(names)]
    admin_token, admin_value = make_token(admin, "admin script")
    return [admin_token, *tokens], admin_value


@given(q=search_words)
def test_search_finds_exactly_the_tokens_the_reference_finds(client, named_tokens, q):
    tokens, admin_value = named_tokens
    response = client.get(
        "/api/v2/organization/tokens/", query_string={"q": q}, headers=auth_header(admin_value)
    )
    assert response.status_code == 200
    expected = {t.prefix for t in tokens if matches_search(t, q)}
    assert {token["prefix"] for token in response.json["tokens"]} == expected
    assert response.json["count"] == len(expected)
