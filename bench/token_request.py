"""`python -m bench.token_request`: what one GET /api/v2/me/ costs inside one process.

No server and no client: WSGI calls straight into the bench's app (bench/app.py) on a fresh
SQLite database seeded with `--users` x `--tokens-per-user` tokens, with the app's log lines
written to a file as under gunicorn. Prints the CPU time per request (process time, so other
jobs on a shared machine count less than in wall time) of GET /api/v2/me/ with a token and of the
probe (the same lookup, no secret check, no usage write), measured in alternating batches; with
`--profile`, cProfile's top functions of the token request. docs/benchmark-changes.md has figures.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

from bench.databases import migrate_and_seed, sqlite_url
from bench.server import PROJECT_ROOT


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.token_request", description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--tokens-per-user", type=int, default=10)
    parser.add_argument("--batches", type=int, default=15, help="per path, alternating")
    parser.add_argument("--requests", type=int, default=300, help="per batch")
    parser.add_argument("--profile", action="store_true", help="cProfile the token request")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tokenaudit-token-request-") as directory:
        database_url = sqlite_url(Path(directory))
        os.environ.update(DATABASE_URL=database_url, SECRET_KEY="benchmark only, not a secret")
        os.environ.setdefault("PYTHONPATH", str(PROJECT_ROOT))
        migrate_and_seed("SQLite", database_url, args.users, args.tokens_per_user)
        measure(args, Path(directory) / "app.log")


def measure(args: argparse.Namespace, log_path: Path) -> None:
    from bench.app import create_bench_app

    app = create_bench_app()
    with open(log_path, "a") as log_file:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_file)  # as under gunicorn: stderr is a file
        value = _new_token(app)
        paths = {
            "GET /api/v2/me/ with a token": _environ("/api/v2/me/", f"Token {value}"),
            "probe (no secret check, no usage write)": _environ(f"/_bench/tokens/{value[:12]}/me/"),
        }
        call = _caller(app)
        for environ in paths.values():
            _batch(call, environ, args.requests)  # warm-up
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.batches):
            for name, environ in paths.items():
                samples[name].append(_batch(call, environ, args.requests))
        for name, values in samples.items():
            print(
                f"{name}: median {statistics.median(values):.0f} µs CPU per request "
                f"(fastest batch {min(values):.0f}; {args.batches} x {args.requests} requests)"
            )
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(_batch, call, paths["GET /api/v2/me/ with a token"], 2000)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


def _new_token(app) -> str:
    from sqlalchemy import select

    from tokenaudit.extensions import db
    from tokenaudit.models import User
    from tokenaudit.personal_tokens import create_personal_token

    with app.app_context():
        owner = db.session.scalar(select(User).where(User.is_superuser.is_(False)).limit(1))
        value = create_personal_token(owner, "bench.token_request")[1]
        db.session.remove()
    return value


def _environ(path: str, authorization: str | None = None) -> dict:
    headers = {"Authorization": authorization} if authorization else {}
    builder = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    return builder.get_environ()


def _caller(app):
    def start_response(status: str, headers, exc_info=None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"expected 200, got {status}")

    def call(environ: dict) -> None:
        body = app(dict(environ), start_response)
        b"".join(body)
        body.close()

    return call


def _batch(call, environ: dict, requests: int) -> float:
    """µs of process CPU time per request over `requests` calls."""
    started = time.process_time()
    for _ in range(requests):
        call(environ)
    return (time.process_time() - started) / requests * 1e6


if __name__ == "__main__":
    main(sys.argv[1:])
