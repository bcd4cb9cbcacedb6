"""`python -m bench.sign_in_budget`: 60 simultaneous wrong passwords for one account, one address.

Prints how many of them had their password checked (401) and how many were refused by the
sign-in budget (429), on the development server (`flask run`, as `make run`), on gunicorn with
the default memory:// storage, and on gunicorn sharing Redis. Production bcrypt cost (12).
Everything listens on 127.0.0.1 only and is stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "owner@bench.example", "the right password"
GUESSES = 60
LOG = open(os.environ.get("BENCH_LOG", os.devnull), "wb")  # noqa: SIM115


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen within 30 s")


def guess_at_once(port: int) -> Counter:
    start = threading.Barrier(GUESSES)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def guess(number: int) -> None:
        body = json.dumps({"username": EMAIL, "password": f"wrong guess {number}"})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait(timeout=30)
        connection.request(
            "POST", "/api/v2/api-token-auth/", body, {"Content-Type": "application/json"}
        )
        status = connection.getresponse().status
        connection.close()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def run_server(command: list[str], env: dict[str, str], port: int) -> Counter:
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=LOG, stderr=subprocess.STDOUT
    )
    try:
        wait_until_listening(port, process)
        return guess_at_once(port)
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    redis_binary = shutil.which("redis-server")
    with tempfile.TemporaryDirectory() as workdir:
        rows = []
        setups = [("development server (flask run)", "dev", None)]
        setups += [("gunicorn, 4 workers, memory://", "gunicorn", None)] * (
            not os.environ.get("ONLY_DEV")
        )
        if redis_binary:
            setups += [("gunicorn, 4 workers, Redis", "gunicorn", "redis")]
        for number, (label, server, storage) in enumerate(setups):
            database = prepare_database(Path(workdir) / f"budget{number}.db")
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database,
                "SECRET_KEY": "bench",
                "SESSION_COOKIE_SECURE": "false",
            }
            redis = None
            if storage == "redis":
                redis_port = free_port()
                redis = subprocess.Popen(
                    [redis_binary, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""],
                    stdout=subprocess.DEVNULL,
                )
                env["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{redis_port}/0"
            try:
                if server == "dev":
                    command = [sys.executable, "-m", "flask", "--app", "wsgi", "run"]
                    command += ["--port", str(port), "--with-threads"]
                else:
                    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="4")
                    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
                if redis is not None:
                    time.sleep(0.5)
                statuses = run_server(command, env, port)
            finally:
                if redis is not None:
                    redis.terminate()
                    redis.wait(10)
            rows.append((label, statuses))
    print(f"{GUESSES} simultaneous wrong passwords, one account, one address (bcrypt cost 12)")
    print(f"{'server':<34} {'checked (401)':>14} {'refused (429)':>14} {'other':>6}")
    for label, statuses in rows:
        other = sum(count for status, count in statuses.items() if status not in (401, 429))
        print(f"{label:<34} {statuses[401]:>14} {statuses[429]:>14} {other:>6}  {dict(statuses)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
