"""`python -m bench`: seed a fresh database, serve it with gunicorn, measure, write the report."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.audit_at_scale import AuditAtScale, measure_audit_at_scale, write_audit_at_scale
from bench.client import Client, api_token, sign_in
from bench.databases import (
    SeededDatabase,
    migrate_and_seed,
    postgres_unavailable_reason,
    sqlite_url,
    throwaway_postgres,
)
from bench.measure import (
    LAST_PAGE,
    Throughput,
    TokenChurn,
    audit_views,
    check_exact_usage,
    last_usage_after,
    latency,
    throughput,
)
from bench.report import DatabaseResult, table_lines, target_lines, write_markdown
from bench.server import BENCH_APP, PROJECT_ROOT, Gunicorn, bench_environment

ADMIN_EMAIL = "admin@demo.example.com"
PASSWORD = "demo-password"
COMMON_SEARCH = "grafana"  # a word in one token name in twelve


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--tokens-per-user", type=int, default=50)
    parser.add_argument("--requests-per-view", type=int, default=200)
    parser.add_argument("--view-seconds", type=float, default=30, help="time limit per view")
    parser.add_argument("--throughput-requests", type=int, default=1000, help="per round")
    parser.add_argument("--throughput-seconds", type=float, default=15, help="limit per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput rounds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--usage-checks", type=int, default=50)
    parser.add_argument(
        "--mixed-requests", type=int, default=100, help="per view, while tokens change"
    )
    parser.add_argument(
        "--change-interval", type=float, default=1.0, help="seconds between token create+revoke"
    )
    parser.add_argument("--sqlite", choices=("auto", "skip"), default="auto")
    parser.add_argument("--postgres", choices=("auto", "skip"), default="auto")
    parser.add_argument(
        "--peer", choices=("auto", "skip"), default="auto", help="the Django REST framework peer"
    )
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    return parser.parse_args(argv)


def say(line: str = "") -> None:
    print(line, flush=True)


def with_last_page_number(json_client: Client, query: str) -> str:
    """The query with LAST_PAGE replaced by the last page's number, as the API counts pages."""
    if LAST_PAGE not in query:
        return query
    first = json_client.get(f"/api/v2/organization/tokens/?{query.replace(LAST_PAGE, 'page=1')}")
    return query.replace(LAST_PAGE, f"page={first.json()['pages']}")


def measure_views(port: int, args: argparse.Namespace, result: DatabaseResult) -> None:
    """Fragment (HX-Request, session) and JSON twin (token) latency for every audit view."""
    page_client = sign_in(port, ADMIN_EMAIL, PASSWORD)
    page_client.headers["HX-Request"] = "true"
    json_client = Client(
        port, headers={"Authorization": f"Token {api_token(port, ADMIN_EMAIL, PASSWORD)}"}
    )
    try:
        for label, query in audit_views(COMMON_SEARCH, rare_search(args)):
            query = with_last_page_number(json_client, query)
            suffix = f"?{query}" if query else ""
            fragment = latency(
                page_client, f"/tokens{suffix}", args.requests_per_view, args.view_seconds
            )
            twin = latency(
                json_client,
                f"/api/v2/organization/tokens/{suffix}",
                args.requests_per_view,
                args.view_seconds,
            )
            row = (label, fragment.p50_ms, fragment.p95_ms, twin.p50_ms, twin.p95_ms)
            result.views.append((*row, min(fragment.count, twin.count)))
            say(f"  {label:28s} fragment p50 {row[1]:6.1f} p95 {row[2]:6.1f} ms | "
                f"JSON p50 {row[3]:6.1f} p95 {row[4]:6.1f} ms")  # fmt: skip
    finally:
        page_client.close()
        json_client.close()


def rare_search(args: argparse.Namespace) -> str:
    return f".{args.users // 2 + 1}@"  # one member's email: their tokens only


def measure_views_during_changes(
    port: int, args: argparse.Namespace, result: DatabaseResult
) -> None:
    """Every view's fragment again, while a second client creates and revokes a token each
    `--change-interval` seconds: nothing a worker keeps may go stale and cost a rebuild."""
    page_client = sign_in(port, ADMIN_EMAIL, PASSWORD)
    page_client.headers["HX-Request"] = "true"
    try:
        with TokenChurn(port, ADMIN_EMAIL, PASSWORD, args.change_interval) as churn:
            for label, query in audit_views(COMMON_SEARCH, rare_search(args)):
                suffix = f"?{query}" if query else ""
                run = latency(
                    page_client, f"/tokens{suffix}", args.mixed_requests, args.view_seconds
                )
                result.mixed_views.append((label, run.p50_ms, run.p95_ms, run.max_ms, run.count))
                say(f"  while changing: {label:28s} p50 {run.p50_ms:6.1f} p95 {run.p95_ms:6.1f} "
                    f"max {run.max_ms:6.1f} ms")  # fmt: skip
    finally:
        page_client.close()
    if churn.failures:
        raise RuntimeError(f"the token churn failed: {churn.failures[0]}")
    result.changes_during_views = churn.changes
    say(f"  tokens created or revoked meanwhile: {churn.changes}")


def measure_authentication(
    port: int,
    database_url: str,
    args: argparse.Namespace,
    result: DatabaseResult,
    peer: tuple[int, str] | None = None,
) -> None:
    """Token-authenticated /me/ against the probe doing the same lookup, and against the DRF
    peer's TokenAuthentication, in alternating rounds (probe, ours, peer, probe, ...)."""
    token = api_token(port, ADMIN_EMAIL, PASSWORD)
    prefix = token[:12]
    authorization = {"Authorization": f"Token {token}"}
    me_client = Client(port, headers=authorization)
    probe_path = f"/_bench/tokens/{prefix}/me/"
    if Client(port).get(probe_path).json() != me_client.get("/api/v2/me/").json():
        raise RuntimeError("the probe does not render what /api/v2/me/ renders")
    contenders = [
        ("probe", port, probe_path, {}),
        ("auth", port, "/api/v2/me/", authorization),
    ]
    if peer is not None:
        peer_port, peer_key = peer
        contenders.append(("drf", peer_port, "/api/v2/me/", {"Authorization": f"Token {peer_key}"}))
    totals = {name: Throughput(0, 0.0) for name, *_rest in contenders}
    for _name, server_port, path, headers in contenders:
        # Not counted: each worker's first requests import and build what later ones reuse.
        throughput(
            lambda server_port=server_port, headers=headers: Client(
                server_port, headers=dict(headers)
            ),
            path,
            args.concurrency,
            args.concurrency * 4,
            args.throughput_seconds,
        )
    started_at = datetime.now(UTC)
    for _round in range(args.rounds):
        for name, server_port, path, headers in contenders:
            run = throughput(
                lambda server_port=server_port, headers=headers: Client(
                    server_port, headers=dict(headers)
                ),
                path,
                args.concurrency,
                args.throughput_requests,
                args.throughput_seconds,
            )
            totals[name] = Throughput(
                totals[name].requests + run.requests, totals[name].seconds + run.seconds
            )
    result.authenticated_rps = totals["auth"].per_second
    result.unauthenticated_rps = totals["probe"].per_second
    result.drf_rps = totals["drf"].per_second if "drf" in totals else 0.0
    result.throughput_requests = totals["auth"].requests
    result.concurrency = args.concurrency
    recorded, what = last_usage_after(database_url, prefix, started_at)
    check = check_exact_usage(me_client, database_url, prefix, args.usage_checks)
    me_client.close()
    result.usage_exact = recorded and check.passed
    result.usage_check = (
        f"{check.exact}/{check.requests} sequential requests recorded exactly; "
        f"after the load: {'recorded' if recorded else 'NOT recorded'} ({what})"
    )
    say(f"  /api/v2/me/ {result.authenticated_rps:.0f} req/s, probe "
        f"{result.unauthenticated_rps:.0f} req/s, ratio {result.auth_ratio:.2f}; DRF peer "
        f"{result.drf_rps:.0f} req/s, ratio to DRF {result.drf_ratio:.2f}")  # fmt: skip
    say(f"  usage: {result.usage_check}")


def bench_database(
    database: SeededDatabase,
    args: argparse.Namespace,
    log: Path,
    at_scale: list[AuditAtScale],
    peer: tuple[int, str] | None = None,
) -> DatabaseResult:
    """Serve one seeded database with gunicorn and take every measurement on it."""
    result = DatabaseResult(
        label=database.label,
        tokens=args.users * args.tokens_per_user,
        users=args.users,
        seed_seconds=database.seed_seconds,
    )
    say(f"{database.label}: seeded in {database.seed_seconds:.1f} s")
    with Gunicorn(
        bench_environment(database.url), log, workers=args.workers, app=BENCH_APP
    ) as server:
        measure_views(server.port, args, result)
        measure_views_during_changes(server.port, args, result)
        measure_authentication(server.port, database.url, args, result, peer)
        result.worker_peaks_mib = server.peak_memory_mib()
        # Last: its bulk revoke deletes 10,000 tokens.
        at_scale.append(
            measure_audit_at_scale(
                server, database.url, database.label, args.requests_per_view, args.view_seconds
            )
        )
    say("  worker peaks: " + ", ".join(f"{peak:.0f} MiB" for peak in result.worker_peaks_mib))
    return result


def peer_unavailable_reason(args: argparse.Namespace) -> str | None:
    if args.peer == "skip":
        return "skipped (--peer skip)"
    try:
        import django  # noqa: F401
        import rest_framework  # noqa: F401
    except ImportError:
        return "Django REST framework is not installed (make bench installs it)"
    return None


@contextmanager
def drf_peer(directory: Path, args: argparse.Namespace, log: Path) -> Iterator[tuple[int, str]]:
    """The DRF peer on its own SQLite database (one user per DRF token, as DRF keeps them),
    served by the same gunicorn command; yields its port and a token key."""
    database = directory / "drf-peer.db"
    environment = {
        "DRF_PEER_DATABASE": str(database),
        "DJANGO_SETTINGS_MODULE": "bench.drf_peer.settings",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "bench.drf_peer.seed", str(args.users)],
        env={**os.environ, **environment, "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    key = seeded.stdout.strip().splitlines()[-1]
    with Gunicorn(
        {**bench_environment(f"sqlite:///{database}"), **environment},
        log,
        workers=args.workers,
        app="bench.drf_peer.wsgi:application",
    ) as server:
        yield server.port, key


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    # An exception, not a bare exit: every `with` block stops the servers it started.
    raise SystemExit("stopped by SIGTERM")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = ("python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    results: list[DatabaseResult] = []
    at_scale: list[AuditAtScale] = []
    notes: list[str] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tokenaudit-bench-") as scratch:
        directory = Path(scratch)
        log = directory / "gunicorn.log"
        if args.sqlite == "skip":
            notes.append("SQLite not measured: skipped (--sqlite skip).")
        else:
            sqlite = migrate_and_seed(
                "SQLite", sqlite_url(directory), args.users, args.tokens_per_user
            )
            peer_reason = peer_unavailable_reason(args)
            if peer_reason:
                say(f"DRF peer: {peer_reason}")
                notes.append(f"DRF peer not measured: {peer_reason}.")
                results.append(bench_database(sqlite, args, log, at_scale))
            else:
                with drf_peer(directory, args, log) as peer:
                    results.append(bench_database(sqlite, args, log, at_scale, peer))
        reason = "skipped (--postgres skip)" if args.postgres == "skip" else None
        reason = reason or postgres_unavailable_reason()
        if reason:
            say(f"PostgreSQL: {reason}")
            notes.append(f"PostgreSQL not measured: {reason}.")
        else:
            with throwaway_postgres() as url:
                postgres = migrate_and_seed("PostgreSQL 15", url, args.users, args.tokens_per_user)
                results.append(bench_database(postgres, args, log, at_scale))
    say()
    for result in results:
        for line in table_lines(result) + target_lines(result):
            say(line)
        say()
    settings = (
        f"{args.workers} gunicorn sync workers; views: {args.requests_per_view} sequential "
        f"requests each (after one warm-up); throughput: {args.rounds} alternating rounds of "
        f"up to {args.throughput_requests} requests per endpoint at concurrency "
        f"{args.concurrency}, Python http.client threads; while tokens change: "
        f"{args.mixed_requests} sequential requests per view, a token created and revoked "
        f"every {args.change_interval:g} s by a second client"
    )
    write_markdown(args.output, command, settings, results, notes, load_before)
    say(f"Wrote {args.output}")
    at_scale_output = args.output.with_name(f"{args.output.stem}-audit-at-scale.md")
    write_audit_at_scale(at_scale_output, command, at_scale)
    say(f"Wrote {at_scale_output}")
    return 0
