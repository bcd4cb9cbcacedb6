"""The same leak report sent several times at once, to gunicorn with 2 workers: each token is
revoked once (one Activity, one true_positive over all the answers), and no answer is a 5xx."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import count_rows, make_org, make_token, make_user, served_database
from test_secret_scanning import ENDPOINT, SigningKey, entry, write_keys_file

from bench.server import Gunicorn
from tokenaudit.models import Activity

pytestmark = pytest.mark.slow

TOKENS = 30
SENDERS = 4


def leaked_values(database_url: str) -> list[str]:
    with served_database(database_url):
        owner = make_user(make_org("Leaky"), "owner@leaky.test")
        return [make_token(owner, f"leak {n}")[1] for n in range(TOKENS)]


def revocations(database_url: str) -> int:
    with served_database(database_url):
        return count_rows(Activity, kind="token_revoked")


def test_the_same_report_sent_at_once_revokes_each_token_once(served_database_url, tmp_path):
    values = leaked_values(served_database_url)
    key = SigningKey("concurrency-key")
    keys_file = tmp_path / "keys.json"
    write_keys_file(keys_file, key)
    body = json.dumps([entry(value) for value in values]).encode()
    headers = {"Content-Type": "application/json", **key.headers(body)}
    server = Gunicorn(
        {
            "DATABASE_URL": served_database_url,
            "SECRET_SCANNING_KEYS_FILE": str(keys_file),
            "MAIL_SERVER": None,
        },
        tmp_path / "gunicorn.log",
        workers=2,
    )

    def send(_: int) -> tuple[int, list]:
        connection = server.connection(timeout=60)
        try:
            connection.request("POST", ENDPOINT, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data) if response.status == 200 else []
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = list(pool.map(send, range(SENDERS)))
    finally:
        server.stop()

    assert [status for status, _ in answers] == [200] * SENDERS, server.log()[-3000:]
    for position in range(TOKENS):
        labels = [items[position]["label"] for _, items in answers]
        assert sorted(labels) == ["false_positive"] * (SENDERS - 1) + ["true_positive"]
    assert revocations(served_database_url) == TOKENS
    assert "Traceback" not in server.log()
