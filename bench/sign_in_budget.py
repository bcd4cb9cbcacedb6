"""`python -m bench.sign_in_budget`: 60 simultaneous wrong passwords for one account, one address.

Prints how many of them had their password checked (401) and how many were refused by the
sign-in budget (429), on the development server (`flask run`, as `make run`), on gunicorn with
the default storage (its workers count in the app's database, SQLite here), and on gunicorn
sharing Redis. Production bcrypt cost (12). Everything listens on 127.0.0.1 only and is
stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from bench.server import PROJECT_ROOT, Gunicorn, RedisServer, free_port, wait_until_listening

EMAIL, PASSWORD = "owner@bench.example", "the right password"
GUESSES = 60
# Where the servers' output goes (appended); by default nowhere.
LOG_PATH = Path(os.environ["BENCH_LOG"]) if os.environ.get("BENCH_LOG") else None
TOKEN_AUTH = "/api/v2/api-token-auth/"


def prepare_database(path: Path) -> str:
    """A migrated SQLite database with one organization and its owner."""
    url = f"sqlite:///{path}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (
        ["db", "upgrade"],
        ["create-org", "Bench"],
        ["create-user", EMAIL, "--name", "Owner", "--org", "Bench", "--password", PASSWORD],
    ):
        subprocess.run(flask + command, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    return url


def guess_at_once(port: int, email: str = EMAIL, guesses: int = GUESSES) -> Counter:
    """`guesses` wrong passwords for one account, all sent at the same moment; their statuses.
    (tests/test_sign_in_budget.py sends them too.)"""
    start = threading.Barrier(guesses)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def guess(number: int) -> None:
        body = json.dumps({"username": email, "password": f"wrong guess {number}"})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait(timeout=30)
        try:
            connection.request("POST", TOKEN_AUTH, body, {"Content-Type": "application/json"})
            status = connection.getresponse().status
        finally:
            connection.close()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    return statuses


def on_development_server(env: dict[str, str]) -> Counter:
    """`flask run`, as `make run` serves."""
    port = free_port()
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "run"]
    command += ["--port", str(port), "--with-threads"]
    with open(LOG_PATH or os.devnull, "ab") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_listening(port, process)
            return guess_at_once(port)
        finally:
            process.terminate()
            process.wait(30)


def on_gunicorn(env: dict[str, str], redis: bool) -> Counter:
    """gunicorn as deployed with 4 workers, counting in the database they share or in Redis."""
    with ExitStack() as stack:
        if redis:
            env = {**env, "RATELIMIT_STORAGE_URI": stack.enter_context(RedisServer()).url}
        server = stack.enter_context(Gunicorn(env, LOG_PATH, workers=4))
        return guess_at_once(server.port)


def main() -> int:
    setups = [("development server (flask run)", "dev", False)]
    if not os.environ.get("ONLY_DEV"):
        setups += [("gunicorn, 4 workers, database", "gunicorn", False)]
    if shutil.which("redis-server"):
        setups += [("gunicorn, 4 workers, Redis", "gunicorn", True)]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for number, (label, server, redis) in enumerate(setups):
            database = prepare_database(Path(workdir) / f"budget{number}.db")
            env = {**os.environ, "DATABASE_URL": database, "SECRET_KEY": "bench"}
            env.pop("RATELIMIT_STORAGE_URI", None)  # the default, unless Redis is measured
            if server == "dev":
                statuses = on_development_server({**env, "SESSION_COOKIE_SECURE": "false"})
            else:
                statuses = on_gunicorn(env, redis)
            rows.append((label, statuses))
    print(f"{GUESSES} simultaneous wrong passwords, one account, one address (bcrypt cost 12)")
    print(f"{'server':<34} {'checked (401)':>14} {'refused (429)':>14} {'other':>6}")
    for label, statuses in rows:
        other = sum(count for status, count in statuses.items() if status not in (401, 429))
        print(f"{label:<34} {statuses[401]:>14} {statuses[429]:>14} {other:>6}  {dict(statuses)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
