"""The client address of each token's last use (SPEC section 11): recorded, shown, in the JSON."""

import pytest
from conftest import auth_header, make_token

CLIENT = "203.0.113.7"
PROXY = "10.0.0.2"


def use_token(client, value, remote_addr, forwarded_for=None):
    headers = auth_header(value)
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    response = client.get("/api/v2/me/", headers=headers, environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == 200


def listed_ip(client, admin_value, token_id):
    tokens = client.get("/api/v2/organization/tokens/", headers=auth_header(admin_value)).json
    return next(t["last_used_ip"] for t in tokens["tokens"] if t["id"] == token_id)


def test_direct_client_address_is_recorded_and_shown_under_the_last_usage(
    admin_client, admin, member
):
    token, value = make_token(member, "Deploy bot")
    _, admin_value = make_token(admin, "audit script")
    use_token(admin_client, value, CLIENT)

    row = admin_client.get("/tokens").get_data(as_text=True).split(f'id="token-{token.id}"')[1]
    row = row.split("</tr>")[0]
    assert 'class="method">GET</span>' in row
    assert f'from <span class="client-ip">{CLIENT}</span>' in row
    assert listed_ip(admin_client, admin_value, token.id) == CLIENT


def test_a_forwarded_for_header_is_ignored_without_trusted_proxies(client, admin, member):
    token, value = make_token(member)
    _, admin_value = make_token(admin, "audit script")
    use_token(client, value, CLIENT, forwarded_for="198.51.100.66")
    assert listed_ip(client, admin_value, token.id) == CLIENT


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXY_COUNT": 1}])
def test_behind_one_trusted_proxy_the_forwarded_client_address_is_recorded(client, admin, member):
    token, value = make_token(member)
    _, admin_value = make_token(admin, "audit script")
    # A client may prepend anything; only the address the trusted proxy appended counts.
    use_token(client, value, PROXY, forwarded_for=f"192.0.2.1, {CLIENT}")
    assert listed_ip(client, admin_value, token.id) == CLIENT


def test_ipv6_client_address_is_recorded_whole(client, admin, member):
    token, value = make_token(member)
    _, admin_value = make_token(admin, "audit script")
    address = "2001:db8:85a3:1234:5678:8a2e:370:7334"
    use_token(client, value, address)
    assert listed_ip(client, admin_value, token.id) == address


@pytest.mark.parametrize("search", ["203.0.113", "0.113.7", "2001:DB8:85a3"])
def test_the_search_finds_tokens_by_part_of_their_last_address(client, admin, member, search):
    used_v4, value_v4 = make_token(member, "from v4")
    used_v6, value_v6 = make_token(member, "from v6")
    make_token(member, "never used")
    _, admin_value = make_token(admin, "audit script")
    use_token(client, value_v4, CLIENT)
    use_token(client, value_v6, "2001:db8:85a3::7334")
    body = client.get(
        f"/api/v2/organization/tokens/?q={search}", headers=auth_header(admin_value)
    ).json
    expected = "from v6" if search.startswith("2001") else "from v4"
    assert [t["name"] for t in body["tokens"]] == [expected]


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXY_COUNT": 1}])
@pytest.mark.parametrize("forwarded", ['=HYPERLINK("http://x")', "unknown", "<b>1.2.3.4</b>"])
def test_a_forwarded_value_that_is_not_an_address_is_not_recorded_as_one(
    client, admin, member, forwarded
):
    """A proxy that passes a client's header on unchanged hands over any text: not an address."""
    token, value = make_token(member)
    _, admin_value = make_token(admin, "audit script")
    use_token(client, value, PROXY, forwarded_for=forwarded)
    assert listed_ip(client, admin_value, token.id) is None
