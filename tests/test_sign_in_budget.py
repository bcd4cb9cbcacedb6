"""One sign-in budget per account and per address (SPEC 13), counted before the password.

Concurrent guesses cannot outrun it (on the development server, and on gunicorn whether its
workers count in the database, the default, or in Redis); /login, /api/v2/api-token-auth/ and
re-authentication share it; and strangers' failures cannot lock the owner out of an address
they have signed in from before.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import PASSWORD, database
from servers import start_redis
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bench.server import Gunicorn
from bench.sign_in_budget import guess_at_once
from tokenaudit.extensions import db
from tokenaudit.models import RateLimitCounter

TOKEN_AUTH = "/api/v2/api-token-auth/"
GUESSES = 60
BUDGET = 10  # a minute


def from_address(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def assert_at_most_the_budget_was_checked(statuses: Counter) -> None:
    assert sum(statuses.values()) == GUESSES
    assert statuses[401] <= BUDGET, statuses  # each 401 is a password that was checked
    assert set(statuses) <= {401, 429}, statuses


@pytest.fixture
def app_config() -> dict:
    return {"SERVER_NAME": None}


# Production's bcrypt cost, so that the guesses overlap as long as real ones do: counting after
# the check (Flask-Limiter's deduct_when) let 22 to 24 through here, and only 12 at cost 4.
@pytest.mark.parametrize("app_config", [{"SERVER_NAME": None, "BCRYPT_ROUNDS": 12}])
def test_60_concurrent_guesses_on_the_development_server_evaluate_at_most_10(app, member):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        statuses = guess_at_once(server.server_port, member.email, GUESSES)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert_at_most_the_budget_was_checked(statuses)


def guesses_on_gunicorn(env: dict, email: str, log_path: Path) -> Counter:
    """60 simultaneous wrong passwords for `email` at gunicorn with 4 workers, as deployed."""
    server = Gunicorn(env, log_path, workers=4)
    try:
        return guess_at_once(server.port, email, GUESSES)
    finally:
        server.stop()


@pytest.mark.slow
def test_60_concurrent_guesses_on_gunicorn_sharing_redis_evaluate_at_most_10(
    database_url, member, tmp_path
):
    redis_server = start_redis()
    try:
        env = {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": redis_server.url}
        statuses = guesses_on_gunicorn(env, member.email, tmp_path / "gunicorn.log")
    finally:
        redis_server.stop()
    assert_at_most_the_budget_was_checked(statuses)


@pytest.mark.slow
def test_60_concurrent_guesses_on_gunicorn_without_redis_evaluate_at_most_10(
    database_url, member, tmp_path
):
    # The default storage, as `make serve` runs: 4 workers that count in the database they
    # share (each counting in its own memory let 40 through).
    env = {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": None}
    statuses = guesses_on_gunicorn(env, member.email, tmp_path / "gunicorn.log")
    assert_at_most_the_budget_was_checked(statuses)


def test_login_token_auth_and_reauthentication_share_one_budget_per_account(
    client, make_client, member
):
    signed_in = make_client()
    signed_in.sign_in(member.email)  # from the test client's address
    wrong = "not the password"
    statuses = []
    for attempt in range(4):
        login = client.submit(
            "/login",
            {"email": member.email, "password": wrong},
            **from_address(f"10.2.0.{attempt}"),
        )
        token_auth = client.post(
            TOKEN_AUTH,
            json={"username": member.email, "password": wrong},
            **from_address(f"10.3.0.{attempt}"),
        )
        statuses += [login.status_code, token_auth.status_code]
    for attempt in range(2):
        reauth = signed_in.submit(
            "/reauthenticate", {"password": wrong}, **from_address(f"10.4.0.{attempt}")
        )
        statuses.append(reauth.status_code)
    assert statuses == [400, 401] * 4 + [400, 400]  # 10 failures, each from its own address
    eleventh = client.post(
        TOKEN_AUTH,
        json={"username": member.email, "password": PASSWORD},
        **from_address("10.5.0.1"),
    )
    assert eleventh.status_code == 429 and int(eleventh.headers["Retry-After"]) > 0
    assert (
        signed_in.submit(
            "/reauthenticate", {"password": PASSWORD}, **from_address("10.5.0.2")
        ).status_code
        == 429
    )


def test_the_owner_still_signs_in_from_an_address_that_signed_in_before(client, member):
    owner_address = from_address("192.0.2.10")
    first = client.submit("/login", {"email": member.email, "password": PASSWORD}, **owner_address)
    assert first.status_code == 302
    client.submit("/logout", **owner_address)
    # Strangers spend the account's whole budget from elsewhere.
    statuses = [
        client.submit(
            "/login", {"email": member.email, "password": "guess"}, **from_address(f"10.6.0.{n}")
        ).status_code
        for n in range(11)
    ]
    assert statuses == [400] * 10 + [429]
    again = client.submit("/login", {"email": member.email, "password": PASSWORD}, **owner_address)
    assert again.status_code == 302
    assert client.get("/", **owner_address).status_code == 200


def test_an_extra_email_field_does_not_move_token_auth_guesses_to_another_budget(client, member):
    # api-token-auth checks "username": the budget must count that account, whatever else the
    # body says, or each guess could name a fresh "email" and get a fresh budget.
    statuses = [
        client.post(
            TOKEN_AUTH,
            json={
                "email": f"decoy{n}@elsewhere.example",
                "username": member.email,
                "password": f"guess {n}",
            },
            **from_address(f"10.7.0.{n}"),
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]


def test_expired_counters_make_way_for_new_ones(client, clock):
    """The default storage keeps no more counters than were ever live at once, however long it
    serves: a counter whose hour has passed is deleted when a new one starts."""

    def guesses_from_10_new_addresses(round_: int) -> int:
        for n in range(10):
            body = {"username": f"ghost{round_}.{n}@acme.test", "password": "guess"}
            response = client.post(TOKEN_AUTH, json=body, **from_address(f"10.8.{round_}.{n}"))
            assert response.status_code == 401
        with database():
            return db.session.scalar(select(func.count()).select_from(RateLimitCounter))

    live_at_once = guesses_from_10_new_addresses(0)
    assert live_at_once == 40  # a minute's and an hour's count per address and per account
    for round_ in range(1, 4):
        clock(timedelta(hours=1, minutes=1))
        assert guesses_from_10_new_addresses(round_) == live_at_once
