"""Under gunicorn with 4 workers, concurrent API traffic while tokens are revoked.

About 2,000 authenticated requests over 50 tokens from 32 threads; ten tokens are revoked
midway through the API. No request may fail with a 5xx or a locked database, and every request
that starts after a revoke's response has come back (so after its commit) must get 401.
"""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from conftest import populate

from bench.server import Gunicorn

pytestmark = pytest.mark.slow

REQUESTS = 2000
CLIENT_THREADS = 32
TOKENS = 50
REVOKED = 10
PATHS = ("/api/v2/me/", "/api/v2/tokens/")


@dataclass(frozen=True)
class Outcome:
    token_index: int
    started: float  # time.monotonic() just before the request was sent
    status: int


def send(server: Gunicorn, method: str, path: str, value: str) -> int:
    connection = server.connection(timeout=30)
    try:
        connection.request(method, path, headers={"Authorization": f"Token {value}"})
        response = connection.getresponse()
        response.read()
        return response.status
    except http.client.HTTPException as error:  # a dropped connection counts as a server error
        return 599 if not isinstance(error, http.client.RemoteDisconnected) else 598
    finally:
        connection.close()


def test_concurrent_requests_while_revoking(served_database_url, tmp_path):
    population = populate(served_database_url, "Load", members=10, tokens=TOKENS)
    server = Gunicorn({"DATABASE_URL": served_database_url}, tmp_path / "gunicorn.log", workers=4)
    revoked_at: dict[int, float] = {}  # token index -> when the revoke's 204 came back
    outcomes: list[Outcome] = []
    done = threading.Semaphore(0)

    def one_request(number: int) -> Outcome:
        index = number % TOKENS
        started = time.monotonic()
        status = send(server, "GET", PATHS[number % 2], population.tokens[index][1])
        done.release()
        return Outcome(index, started, status)

    def revoke_midway() -> None:
        for _ in range(REQUESTS // 4):  # start once a quarter of the requests are answered
            done.acquire()
        for index in range(REVOKED):
            token_id = population.tokens[index][0]
            path = f"/api/v2/organization/tokens/{token_id}/"
            status = send(server, "DELETE", path, population.admin_value)
            assert status == 204, status
            revoked_at[index] = time.monotonic()
            time.sleep(0.05)  # spread the revokes over the run

    began = time.monotonic()
    try:
        revoker = threading.Thread(target=revoke_midway)
        revoker.start()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            outcomes = list(pool.map(one_request, range(REQUESTS)))
        revoker.join(60)
        elapsed = time.monotonic() - began
    finally:
        server.stop()
    log = server.log()

    assert len(revoked_at) == REVOKED
    statuses = [outcome.status for outcome in outcomes]
    assert not [status for status in statuses if status >= 500], log[-3000:]
    assert "database is locked" not in log
    assert "Traceback" not in log, log[-3000:]
    late = [
        o for o in outcomes if o.token_index in revoked_at and o.started > revoked_at[o.token_index]
    ]
    assert late, "some requests should start after the revokes"
    assert {o.status for o in late} == {401}
    untouched = [o.status for o in outcomes if o.token_index >= REVOKED]
    assert set(untouched) == {200}
    print(
        f"\n{REQUESTS} requests in {elapsed:.1f} s ({REQUESTS / elapsed:.0f}/s) on "
        f"{served_database_url.split(':')[0]}; {len(late)} started after their token's revoke"
    )
