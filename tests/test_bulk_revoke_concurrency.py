"""Under gunicorn: the same bulk revoke sent twice at once, while the tokens are in use.

Each token must be revoked once (one Activity), the two answers must add up to exactly the
tokens asked for, neither may fail, and a token in use answers 401 once it is gone.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import populate, served_database

from bench.server import Gunicorn
from tokenaudit.extensions import db
from tokenaudit.models import Activity

pytestmark = pytest.mark.slow

TOKENS = 450  # three batches of 200 (bulk_revocation.BATCH_SIZE)


def call(server: Gunicorn, method: str, path: str, value: str, body=None):
    connection = server.connection(timeout=60)
    try:
        headers = {"Authorization": f"Token {value}", "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_same_bulk_revoke_twice_at_once_revokes_each_token_once(served_database_url, tmp_path):
    population = populate(served_database_url, "Bulk", members=15, tokens=TOKENS)
    admin_value = population.admin_value
    ids, values = [id for id, _ in population.tokens], [value for _, value in population.tokens]
    server = Gunicorn({"DATABASE_URL": served_database_url}, tmp_path / "gunicorn.log", workers=4)
    revoke = ("POST", "/api/v2/organization/tokens/revoke/", admin_value, {"ids": ids})
    try:
        with ThreadPoolExecutor(8) as pool:
            # Both revokes, and the tokens' own scripts calling the API meanwhile.
            answers = [pool.submit(call, server, *revoke) for _ in range(2)]
            uses = [pool.submit(call, server, "GET", "/api/v2/me/", v) for v in values[::5]]
            answers = [future.result() for future in answers]
            use_statuses = {future.result()[0] for future in uses}
        after = {call(server, "GET", "/api/v2/me/", v)[0] for v in values[::45]}
    finally:
        server.stop()
    log = server.log()

    assert [status for status, _ in answers] == [200, 200], log[-3000:]
    bodies = [json.loads(body) for _, body in answers]
    assert sum(body["revoked"] for body in bodies) == TOKENS
    assert [body["revoked"] + body["not_found"] for body in bodies] == [TOKENS, TOKENS]
    assert use_statuses <= {200, 401}
    assert after == {401}
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]
    with served_database(served_database_url):
        revoked = db.session.scalars(
            db.select(Activity.details).where(Activity.kind == "token_revoked")
        ).all()
    assert sorted(d["token_name"] for d in revoked) == sorted(f"bulk {n}" for n in range(TOKENS))
