"""The benchmark's output: a table on stdout and docs/benchmarks.md with machine, date, command."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TARGETS = {
    "fragment_p95_ms": 50.0,  # SQLite, 100,000 tokens, also while tokens change
    "postgres_fragment_p95_ms": 100.0,  # PostgreSQL, 1,000,000 tokens
    "slowest_request_ms": 150.0,  # any single fragment request while tokens change
    "drf_ratio": 1.0,  # /api/v2/me/ against DRF TokenAuthentication
    "seed_seconds": 15.0,  # SQLite, 100,000 tokens
    "postgres_seed_seconds": 120.0,  # PostgreSQL, 1,000,000 tokens
    "worker_peak_mib": 150.0,
}


def machine() -> dict[str, str]:
    """CPU model, cores, memory and Python version of this machine."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "Python": platform.python_version(),
        "OS": platform.platform(),
    }


@dataclass
class DatabaseResult:
    """Every figure for one database."""

    label: str
    tokens: int
    users: int
    seed_seconds: float
    # (view label, fragment p50, fragment p95, JSON p50, JSON p95, requests per view)
    views: list[tuple[str, float, float, float, float, int]] = field(default_factory=list)
    authenticated_rps: float = 0.0
    unauthenticated_rps: float = 0.0
    throughput_requests: int = 0
    concurrency: int = 0
    usage_check: str = ""
    usage_exact: bool = False
    worker_peaks_mib: list[float] = field(default_factory=list)
    # Fragments while a second client creates and revokes tokens: (label, p50, p95, max, count)
    mixed_views: list[tuple[str, float, float, float, int]] = field(default_factory=list)
    changes_during_views: int = 0
    drf_rps: float = 0.0  # the Django REST framework peer (SQLite only)

    @property
    def auth_ratio(self) -> float:
        return self.authenticated_rps / self.unauthenticated_rps if self.unauthenticated_rps else 0

    @property
    def drf_ratio(self) -> float:
        return self.authenticated_rps / self.drf_rps if self.drf_rps else 0.0

    @property
    def worst_mixed_p95(self) -> float:
        return max((view[2] for view in self.mixed_views), default=0.0)

    @property
    def slowest_mixed_request(self) -> float:
        return max((view[3] for view in self.mixed_views), default=0.0)

    @property
    def worst_fragment_p95(self) -> float:
        return max((view[2] for view in self.views), default=0.0)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table_lines(result: DatabaseResult) -> list[str]:
    """The figures for one database as Markdown table lines (also printed as they are)."""
    lines = [
        f"### {result.label}: {result.tokens:,} tokens, {result.users:,} users",
        "",
        "| audit view | fragment p50 ms | fragment p95 ms | JSON p50 ms | JSON p95 ms | requests |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, f50, f95, j50, j95, count in result.views:
        lines.append(f"| {label} | {f50:.1f} | {f95:.1f} | {j50:.1f} | {j95:.1f} | {count} |")
    lines += [
        "",
        f"While a second client created and revoked tokens ({result.changes_during_views} "
        "changes during these requests):",
        "",
        "| audit view | fragment p50 ms | fragment p95 ms | slowest ms | requests |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, p50, p95, slowest, count in result.mixed_views:
        lines.append(f"| {label} | {p50:.1f} | {p95:.1f} | {slowest:.1f} | {count} |")
    peaks = ", ".join(f"{peak:.0f}" for peak in result.worker_peaks_mib)
    drf = f"{result.drf_rps:.0f} req/s" if result.drf_rps else "not measured"
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| token-authenticated GET /api/v2/me/ | {result.authenticated_rps:.0f} req/s |",
        f"| unauthenticated probe, same work | {result.unauthenticated_rps:.0f} req/s |",
        f"| ratio authenticated / unauthenticated | {result.auth_ratio:.2f} |",
        f"| Django REST framework TokenAuthentication, GET /api/v2/me/ | {drf} |",
        f"| ratio TokenAudit / DRF | {f'{result.drf_ratio:.2f}' if result.drf_rps else '-'} |",
        f"| throughput requests per endpoint, concurrency | "
        f"{result.throughput_requests}, {result.concurrency} |",
        f"| last usage exact on every request | {result.usage_check} |",
        f"| seed-demo time | {result.seed_seconds:.1f} s |",
        f"| worker peak memory (VmHWM) | {peaks} MiB |",
    ]
    return lines


def target_lines(result: DatabaseResult) -> list[str]:
    """Each target of the issue, and whether this run met it."""
    worst_peak = max(result.worker_peaks_mib, default=0.0)
    postgres = result.label != "SQLite"
    p95_target = TARGETS["postgres_fragment_p95_ms" if postgres else "fragment_p95_ms"]
    seed_target = TARGETS["postgres_seed_seconds" if postgres else "seed_seconds"]
    checks = [
        (
            f"fragment p95 < {p95_target:.0f} ms for every view",
            f"worst {result.worst_fragment_p95:.1f} ms",
            result.worst_fragment_p95 < p95_target,
        ),
        (
            f"the same while tokens change: p95 < {p95_target:.0f} ms",
            f"worst {result.worst_mixed_p95:.1f} ms",
            result.worst_mixed_p95 < p95_target,
        ),
        (
            f"no request above {TARGETS['slowest_request_ms']:.0f} ms while tokens change",
            f"slowest {result.slowest_mixed_request:.1f} ms",
            result.slowest_mixed_request <= TARGETS["slowest_request_ms"],
        ),
        ("last used, method and path exact", result.usage_check, result.usage_exact),
        (
            f"seed < {seed_target:.0f} s",
            f"{result.seed_seconds:.1f} s",
            result.seed_seconds < seed_target,
        ),
        (
            f"each worker < {TARGETS['worker_peak_mib']:.0f} MiB",
            f"max {worst_peak:.0f} MiB",
            worst_peak < TARGETS["worker_peak_mib"],
        ),
    ]
    if result.drf_rps:
        checks.insert(
            3,
            (
                f"/api/v2/me/ throughput >= {TARGETS['drf_ratio']}x DRF TokenAuthentication",
                f"{result.drf_ratio:.2f}",
                result.drf_ratio >= TARGETS["drf_ratio"],
            ),
        )
    scope = f", {result.tokens:,} tokens"
    lines = ["", f"Targets ({result.label}{scope}):", ""]
    lines += ["| target | this run | |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {_met(ok)} |" for name, value, ok in checks]
    return lines


def write_markdown(
    path: Path,
    command: str,
    settings: str,
    results: list[DatabaseResult],
    notes: list[str],
    load_before: tuple[float, float, float],
) -> None:
    """docs/benchmarks.md: machine, date, command, tables, targets."""
    now = datetime.now(UTC)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/): gunicorn on 127.0.0.1, a fresh database per run.",
        "",
        f"- Date: {now:%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        f"- Settings: {settings}",
    ]
    lines += [f"- {name}: {value}" for name, value in machine().items()]
    load_after = os.getloadavg()
    lines.append(
        "- Load average (1, 5, 15 min) before / after the run: "
        f"{' '.join(f'{x:.2f}' for x in load_before)} / {' '.join(f'{x:.2f}' for x in load_after)}"
        " (a shared machine: other jobs' load shows in the tails)"
    )
    lines += ["", "How to read it: see bench/README.md.", ""]
    for result in results:
        lines += table_lines(result) + target_lines(result) + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
