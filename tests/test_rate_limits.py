"""Sign-in rate limits per client address and per account, counted in the app's database (the
default) or in Redis, and shared between servers through either."""

import json

import pytest
from conftest import PASSWORD, base_config, database
from servers import start_redis
from sqlalchemy import func, select

from bench.server import Gunicorn
from tokenaudit import create_app
from tokenaudit.extensions import db
from tokenaudit.models import RateLimitCounter

TOKEN_AUTH = "/api/v2/api-token-auth/"


@pytest.fixture
def redis_server():
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.slow)])
def storage(request) -> str:
    """Where the limits are counted: the app's database (the default) or a real redis-server."""
    return request.param


@pytest.fixture
def storage_uri(request, storage) -> str | None:
    """RATELIMIT_STORAGE_URI for `storage` (None: unset, the default)."""
    return request.getfixturevalue("redis_server").url if storage == "redis" else None


@pytest.fixture
def app_config(storage_uri) -> dict:
    return {} if storage_uri is None else {"RATELIMIT_STORAGE_URI": storage_uri}


def stored_counters(request, storage) -> int:
    """How many counters `storage` holds."""
    if storage == "redis":
        return len(request.getfixturevalue("redis_server").client.keys("LIMITS*"))
    with database():
        return db.session.scalar(select(func.count()).select_from(RateLimitCounter))


def from_address(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def test_failures_for_one_account_are_limited_whatever_the_address(
    client, member, request, storage
):
    body = {"username": member.email, "password": "wrong wrong"}
    statuses = [
        client.post(TOKEN_AUTH, json=body, **from_address(f"10.0.0.{n}")).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    blocked = client.post(
        TOKEN_AUTH, json={**body, "password": PASSWORD}, **from_address("10.0.1.1")
    )
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert stored_counters(request, storage), f"the counters live in the {storage}"


def test_failures_from_one_address_are_limited_whatever_the_account(client, member):
    statuses = [
        client.post(
            TOKEN_AUTH, json={"username": f"ghost{n}@acme.test", "password": "wrong wrong"}
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    # Another address may still sign in to the same account.
    other = client.post(
        TOKEN_AUTH,
        json={"username": member.email, "password": PASSWORD},
        **from_address("10.0.0.9"),
    )
    assert other.status_code == 200


def test_login_page_is_limited_per_account_across_addresses(client, admin):
    statuses = [
        client.submit(
            "/login", {"email": admin.email, "password": "nope nope"}, **from_address(f"10.1.0.{n}")
        ).status_code
        for n in range(11)
    ]
    assert statuses == [400] * 10 + [429]


def test_successful_sign_ins_do_not_count(client, member):
    for _ in range(12):
        response = client.post(TOKEN_AUTH, json={"username": member.email, "password": PASSWORD})
        assert response.status_code == 200


def post_json(server: Gunicorn, path: str, body: dict):
    connection = server.connection()
    try:
        connection.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


@pytest.mark.slow  # two gunicorn servers
def test_two_gunicorn_servers_share_one_limit(database_url, member, storage_uri, tmp_path):
    env = {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": storage_uri}
    first = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        second = Gunicorn(env, tmp_path / "gunicorn.log")
        try:
            body = {"username": member.email, "password": "wrong wrong"}
            statuses = [post_json(first, TOKEN_AUTH, body).status for _ in range(5)]
            statuses += [post_json(second, TOKEN_AUTH, body).status for _ in range(5)]
            assert statuses == [401] * 10
            # Each server has seen only 5 failures, but together they have seen 10.
            for server in (first, second):
                response = post_json(server, TOKEN_AUTH, body)
                assert response.status == 429
                assert int(response.getheader("Retry-After")) > 0
        finally:
            second.stop()
    finally:
        first.stop()


def test_an_app_counts_in_its_own_storage_though_an_earlier_apps_redis_was_down(
    database_url, member
):
    """The limiter is one object per process, and a process can make several apps (the tests
    do): an app whose Redis is down must not send a later app's counts to the in-memory
    fallback, where concurrent attempts race and the database's shared count is never kept."""
    body = {"username": member.email, "password": "wrong wrong"}
    apps = [
        create_app({**base_config(database_url), "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0"})
    ]
    assert apps[0].test_client().post(TOKEN_AUTH, json=body).status_code == 401
    apps.append(create_app(base_config(database_url)))  # the database storage, the default
    with database():
        before = db.session.scalar(select(func.count()).select_from(RateLimitCounter))
    assert apps[1].test_client().post(TOKEN_AUTH, json=body).status_code == 401
    with database():
        assert db.session.scalar(select(func.count()).select_from(RateLimitCounter)) > before
    for app in apps:
        with app.app_context():
            db.engine.dispose()


# Last in this module: the limiter is process-wide, and remembers for a while that Redis was down.
@pytest.mark.parametrize("app_config", [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0"}])
def test_without_redis_sign_in_works_and_limits_are_counted_in_memory(client, member):
    """Nothing listens on port 9: sign-ins must still work, not fail with 500."""
    body = {"username": member.email, "password": "wrong wrong"}
    statuses = [client.post(TOKEN_AUTH, json=body).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    assert client.post(TOKEN_AUTH, json={**body, "password": PASSWORD}).status_code == 429
