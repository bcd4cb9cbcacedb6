"""`python -m bench.secret_scanning`: how long a signed 1,000-entry secret-scanning report takes.

Seeds a fresh database (`flask seed-demo`), serves it with gunicorn on 127.0.0.1, with a real
SMTP server on loopback receiving the owners' emails, and sends signed mixed reports (SPEC
section 12): each of 1,000 entries, of which `--live` are live tokens (revoked, each owner
emailed), the rest well-formed unknown values, real prefixes with a wrong secret, and strings
that are not tokens at all. Prints, per database, the time of each report as the client sees it
(request sent to response read), then the same reports sent again (nothing left to revoke).
Loopback only; every server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.client import Client
from bench.databases import (
    migrate_and_seed,
    postgres_unavailable_reason,
    sqlite_url,
    throwaway_postgres,
)
from bench.server import BENCH_APP, Gunicorn, SMTPServer, bench_environment

ENDPOINT = "/api/v2/secret-scanning/"
REPORT_SIZE = 1000
KEY_ID = "bench-key"
# Issue 15: "a mixed report of 1,000 entries answers within 2 seconds on these machines".
TARGET_SECONDS = 2.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.secret_scanning", description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--tokens-per-user", type=int, default=50)
    parser.add_argument("--live", type=int, default=100, help="live tokens in each report")
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", choices=("auto", "skip"), default="auto")
    return parser.parse_args(argv)


def write_keys_file(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    entry = {"key_identifier": KEY_ID, "key": pem, "is_current": True}
    path.write_text(json.dumps({"public_keys": [entry]}))


def create_live_tokens(count: int) -> tuple[list[str], list[str]]:
    """`count` new tokens spread over the demo members (values known), and some real prefixes."""
    from sqlalchemy import select

    from tokenaudit import create_app
    from tokenaudit.extensions import db
    from tokenaudit.models import ApiToken, User
    from tokenaudit.personal_tokens import create_personal_token

    app = create_app()
    with app.app_context():
        members = list(db.session.scalars(select(User).where(User.can_manage_tokens).limit(500)))
        values = [
            create_personal_token(members[n % len(members)], f"leaked {n}")[1] for n in range(count)
        ]
        prefixes = list(db.session.scalars(select(ApiToken.prefix).limit(REPORT_SIZE)))
        db.engine.dispose()
    return values, prefixes


def mixed_report(live: list[str], prefixes: list[str], rng: random.Random) -> list[dict]:
    """1,000 entries: the live values, then a third each of the other three kinds, shuffled."""
    from tokenaudit.tokens import checksum, generate_token

    others = REPORT_SIZE - len(live)
    values = list(live)
    for n in range(others):
        kind = n % 3
        if kind == 0:
            values.append(generate_token().value)  # well formed, no such token
        elif kind == 1:
            body = rng.choice(prefixes) + generate_token().value[12:44]
            values.append(body + checksum(body))  # a real prefix, a wrong secret
        else:
            values.append("tka_" + "".join(rng.choices("abcdefXYZ0123", k=46)))  # bad checksum
    rng.shuffle(values)
    url = "https://github.com/octocat/Hello-World/blob/12345600b9/config/{}.yml"
    return [
        {"token": value, "type": "tokenaudit_api_token", "url": url.format(n), "source": "content"}
        for n, value in enumerate(values)
    ]


def send(client: Client, key: ec.EllipticCurvePrivateKey, report: list[dict]):
    body = json.dumps(report).encode()
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    return client.request(
        "POST",
        ENDPOINT,
        body,
        **{
            "Content-Type": "application/json",
            "GITHUB-PUBLIC-KEY-IDENTIFIER": KEY_ID,
            "GITHUB-PUBLIC-KEY-SIGNATURE": signature,
        },
    )


def figures(label: str, seconds: list[float]) -> str:
    return (
        f"  {label}: " + ", ".join(f"{s * 1000:.0f}" for s in seconds) + " ms"
        f"  (median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms)"
    )


def verdict(seconds: list[float]) -> str:
    """Whether every answer came within the target (a mixed report's; not all-live ones')."""
    over = sum(s > TARGET_SECONDS for s in seconds)
    if not over:
        return f"  within {TARGET_SECONDS:.0f} s: yes, all {len(seconds)} answers"
    return f"  within {TARGET_SECONDS:.0f} s: no, {over} of {len(seconds)} answers took longer"


def measure(label: str, database_url: str, args: argparse.Namespace, scratch: Path) -> None:
    print(f"{label}: seeding {args.users * args.tokens_per_user:,} tokens…", flush=True)
    migrate_and_seed(label, database_url, args.users, args.tokens_per_user)
    key = ec.generate_private_key(ec.SECP256R1())
    keys_file = scratch / "secret_scanning_keys.json"
    write_keys_file(keys_file, key)
    rng = random.Random(15)
    with SMTPServer() as smtp:
        os.environ.update(
            DATABASE_URL=database_url,
            SECRET_KEY="benchmark only, not a secret",
            SECRET_SCANNING_KEYS_FILE=str(keys_file),
            SECRET_SCANNING_RATE_LIMIT="1000/minute",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(smtp.port),
        )
        reports = []
        for _ in range(args.reports):
            live, prefixes = create_live_tokens(args.live)
            reports.append(mixed_report(live, prefixes, rng))
        with Gunicorn(
            bench_environment(database_url), workers=args.workers, app=BENCH_APP
        ) as server:
            client = Client(server.port, timeout=60)
            send(client, key, [{"token": "warm-up", "type": "x"}])
            first, again, mailed = [], [], []
            for report in reports:
                expected = len(smtp.mailbox.messages) + args.live
                reply = send(client, key, report)
                answered = time.perf_counter()
                labels = [item["label"] for item in reply.json()]
                assert reply.status == 200 and labels.count("true_positive") == args.live, (
                    reply.status,
                    reply.body[:300],
                )
                first.append(reply.seconds)
                # The emails go out after the answer; the next report waits for them (bounded).
                while len(smtp.mailbox.messages) < expected and time.perf_counter() - answered < 60:
                    time.sleep(0.01)
                mailed.append(time.perf_counter() - answered)
            for report in reports:
                reply = send(client, key, report)
                assert reply.status == 200 and "true_positive" not in reply.body.decode()
                again.append(reply.seconds)
            client.close()
    print(
        f"{label}: {args.reports} reports of {REPORT_SIZE} entries, {args.live} live tokens each"
        f" ({args.workers} gunicorn workers, real SMTP on loopback:"
        f" {len(smtp.mailbox.messages)} emails received)"
    )
    print(figures("first time (answer: revokes committed)", first))
    print(verdict(first))
    print(figures("then every owner's email received, after the answer", mailed))
    print(figures("sent again (nothing to revoke)", again), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per SMTP command
    with tempfile.TemporaryDirectory(prefix="tokenaudit-bench-scanning-") as directory:
        scratch = Path(directory)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        measure("SQLite", sqlite_url(scratch), args, scratch)
        reason = "skipped (--postgres skip)" if args.postgres == "skip" else None
        reason = reason or postgres_unavailable_reason()
        if reason:
            print(f"PostgreSQL not measured: {reason}")
        else:
            with throwaway_postgres() as database_url:
                measure("PostgreSQL 15", database_url, args, scratch)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
