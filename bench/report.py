"""The benchmark's output: a table on stdout and docs/benchmarks.md with machine, date, command."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TARGETS = {
    "fragment_p95_ms": 50.0,
    "auth_ratio": 0.75,
    "seed_seconds": 15.0,
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
    # The search fragment right after a token was created: (p50, p95, requests)
    search_after_change: tuple[float, float, int] = (0.0, 0.0, 0)

    @property
    def auth_ratio(self) -> float:
        return self.authenticated_rps / self.unauthenticated_rps if self.unauthenticated_rps else 0

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
    peaks = ", ".join(f"{peak:.0f}" for peak in result.worker_peaks_mib)
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| token-authenticated GET /api/v2/me/ | {result.authenticated_rps:.0f} req/s |",
        f"| unauthenticated probe, same work | {result.unauthenticated_rps:.0f} req/s |",
        f"| ratio authenticated / unauthenticated | {result.auth_ratio:.2f} |",
        f"| throughput requests per endpoint, concurrency | "
        f"{result.throughput_requests}, {result.concurrency} |",
        f"| last usage exact on every request | {result.usage_check} |",
        f"| search fragment right after a token is created, p50 / p95 "
        f"({result.search_after_change[2]} requests) | {result.search_after_change[0]:.1f} / "
        f"{result.search_after_change[1]:.1f} ms |",
        f"| seed-demo time | {result.seed_seconds:.1f} s |",
        f"| worker peak memory (VmHWM) | {peaks} MiB |",
    ]
    return lines


def target_lines(result: DatabaseResult) -> list[str]:
    """Each target of the issue, and whether this run met it."""
    worst_peak = max(result.worker_peaks_mib, default=0.0)
    checks = [
        (
            f"fragment p95 < {TARGETS['fragment_p95_ms']:.0f} ms for every view",
            f"worst {result.worst_fragment_p95:.1f} ms",
            result.worst_fragment_p95 < TARGETS["fragment_p95_ms"],
        ),
        (
            f"authenticated throughput >= {TARGETS['auth_ratio']} of unauthenticated",
            f"{result.auth_ratio:.2f}",
            result.auth_ratio >= TARGETS["auth_ratio"],
        ),
        ("last used, method and path exact", result.usage_check, result.usage_exact),
        (
            f"seed < {TARGETS['seed_seconds']:.0f} s",
            f"{result.seed_seconds:.1f} s",
            result.seed_seconds < TARGETS["seed_seconds"],
        ),
        (
            f"each worker < {TARGETS['worker_peak_mib']:.0f} MiB",
            f"max {worst_peak:.0f} MiB",
            worst_peak < TARGETS["worker_peak_mib"],
        ),
    ]
    scope = "" if result.label == "SQLite" else ", set for SQLite: for reference"
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
