"""What the benchmark measures: per-view latency, throughput under concurrency, exact usage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bench.client import Client, api_token

SORT_KEYS = ("name", "prefix", "user", "last_used", "last_usage", "created", "expires")
# Stands for the last page's number, which the run asks the API for (past the end is 404).
LAST_PAGE = "page=LAST"


def audit_views(common_search: str, rare_search: str) -> list[tuple[str, str]]:
    """(label, query string) for every view the issue names: default, searches, sorts, last page."""
    views = [
        ("default", ""),
        (f"search {common_search!r}", f"q={common_search}"),
        (f"search {rare_search!r}", f"q={rare_search}"),
    ]
    views += [
        (f"sort {key} {d}", f"sort={key}&dir={d}") for key in SORT_KEYS for d in ("asc", "desc")
    ]
    views.append(("last page", LAST_PAGE))
    # What a superuser does next with a search: sort it, go to its end.
    views.append(
        (f"search {common_search!r}, sort user asc", f"q={common_search}&sort=user&dir=asc")
    )
    views.append((f"search {common_search!r}, last page", f"q={common_search}&{LAST_PAGE}"))
    return views


@dataclass
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of all values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def latency(
    client: Client, path: str, requests: int, max_seconds: float, **headers: str
) -> Latency:
    """Sequential requests (concurrency 1), so each time is one request's own latency."""
    client.get(path, **headers)  # warm: first-use compilation and caches are not the steady state
    times: list[float] = []
    deadline = time.monotonic() + max_seconds
    while len(times) < requests and time.monotonic() < deadline:
        reply = client.get(path, **headers)
        if reply.status != 200:
            raise RuntimeError(f"GET {path} answered {reply.status}")
        times.append(reply.seconds * 1000)
    return Latency(len(times), percentile(times, 0.50), percentile(times, 0.95), max(times))


class TokenChurn:
    """A second client that creates a token and revokes it again every `interval` seconds, as
    scripts calling api-token-auth and a superuser cleaning up do, while views are measured."""

    def __init__(self, port: int, email: str, password: str, interval: float) -> None:
        self.port, self.email, self.password, self.interval = port, email, password, interval
        self.changes = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _create_and_revoke(self) -> None:
        value = api_token(self.port, self.email, self.password)
        client = Client(self.port, headers={"Authorization": f"Token {value}"})
        try:
            own = client.get("/api/v2/tokens/").json()["tokens"]
            token_id = next(token["id"] for token in own if value.startswith(token["prefix"]))
            reply = client.request("DELETE", f"/api/v2/tokens/{token_id}/")
        finally:
            client.close()
        if reply.status != 204:
            raise RuntimeError(f"revoke answered {reply.status}")
        self.changes += 2

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._create_and_revoke()
            except Exception as problem:  # noqa: BLE001 (reported after the run)
                self.failures.append(repr(problem))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def __enter__(self) -> TokenChurn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@dataclass
class Throughput:
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def throughput(
    make_client: Callable[[], Client],
    path: str,
    concurrency: int,
    requests: int,
    max_seconds: float,
    **headers: str,
) -> Throughput:
    """`concurrency` threads, each with its own connection, share a bounded number of requests."""
    remaining = [requests]
    done = [0]
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        client = make_client()
        try:
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                reply = client.get(path, **headers)
                with lock:
                    if reply.status == 200:
                        done[0] += 1
                    else:
                        failures.append(f"{reply.status}")
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"GET {path}: {len(failures)} failed, e.g. {failures[0]}")
    return Throughput(done[0], elapsed)


@dataclass
class UsageCheck:
    requests: int
    exact: int

    @property
    def passed(self) -> bool:
        return self.requests == self.exact


def _usage(engine, prefix: str) -> tuple[datetime | None, str | None, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT last_used_at, last_used_method, last_used_path"
                " FROM api_tokens WHERE prefix = :prefix"
            ),
            {"prefix": prefix},
        ).one()
    moment = row[0]
    if isinstance(moment, str):  # SQLite hands back text
        moment = datetime.fromisoformat(moment)
    return (moment.replace(tzinfo=UTC) if moment else None), row[1], row[2]


def check_exact_usage(
    client: Client, database_url: str, token_prefix: str, requests: int
) -> UsageCheck:
    """After each of `requests` authenticated requests, alternating paths, the token's row says
    exactly when (later than before, not before the request was sent), how and where it was used."""
    engine = create_engine(database_url)
    paths = ("/api/v2/me/", "/api/v2/tokens/")
    exact = 0
    previous, _, _ = _usage(engine, token_prefix)
    try:
        for number in range(requests):
            path = paths[number % 2]
            sent_at = datetime.now(UTC)
            reply = client.get(path)
            used_at, method, used_path = _usage(engine, token_prefix)
            advanced = used_at is not None and (previous is None or used_at > previous)
            where = (method, used_path) == ("GET", path)
            if reply.status == 200 and advanced and used_at >= sent_at and where:
                exact += 1
            previous = used_at
    finally:
        engine.dispose()
    return UsageCheck(requests, exact)


def last_usage_after(database_url: str, token_prefix: str, moment: datetime) -> tuple[bool, str]:
    """Whether the token's recorded usage is at or after `moment`, and what it records."""
    engine = create_engine(database_url)
    try:
        used_at, method, path = _usage(engine, token_prefix)
    finally:
        engine.dispose()
    return (used_at is not None and used_at >= moment), f"{used_at:%H:%M:%S.%f} {method} {path}"
