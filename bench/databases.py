"""Fresh databases for a run: SQLite in a temporary directory, PostgreSQL when it can be started."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.server import PROJECT_ROOT, bench_environment, free_port

FLASK = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class SeededDatabase:
    label: str
    url: str
    seed_seconds: float


def _flask(database_url: str, *args: str) -> None:
    subprocess.run(
        [*FLASK, *args],
        env=bench_environment(database_url),
        cwd=PROJECT_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def migrate_and_seed(
    label: str, database_url: str, users: int, tokens_per_user: int
) -> SeededDatabase:
    """Migrate an empty database, then time `flask seed-demo` on it (a whole CLI run)."""
    _flask(database_url, "db", "upgrade")
    started = time.perf_counter()
    _flask(
        database_url, "seed-demo", "--users", str(users), "--tokens-per-user", str(tokens_per_user)
    )
    seconds = time.perf_counter() - started
    if database_url.startswith("postgresql"):
        _vacuum_analyze(database_url)
    return SeededDatabase(label, database_url, seconds)


def _vacuum_analyze(database_url: str) -> None:
    """What autovacuum does soon after a bulk load, so the run sees a settled database:
    planner statistics, and visibility maps that let counts read only an index."""
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'bench.db'}"


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be benchmarked here, or None when it can."""
    if not (POSTGRES_BIN / "initdb").exists():
        return f"no PostgreSQL binaries in {POSTGRES_BIN}"
    if shutil.which("runuser") is None:
        return "no runuser to start the server as the postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        return "no postgres user to run the server as"
    return None


def _as_postgres(*command: str) -> None:
    finished = subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True
    )
    if finished.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {finished.stderr.strip()[-500:]}")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server of our own on 127.0.0.1 and a free port; stopped and removed after."""
    # Its own directory (the run's scratch directory is private to root), owned by postgres.
    directory = Path(tempfile.mkdtemp(prefix="tokenaudit-bench-pg-"))
    data = directory / "pgdata"
    data.mkdir()
    shutil.chown(directory, "postgres")
    shutil.chown(data, "postgres")
    port = free_port()
    _as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    log = directory / "postgres.log"
    _as_postgres(
        str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"
    )
    try:
        _as_postgres(str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
    finally:
        try:
            _as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
