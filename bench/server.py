"""Starting and stopping gunicorn on 127.0.0.1, and reading its workers' peak memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_environment(database_url: str) -> dict[str, str]:
    """The app's environment under the benchmark: its own database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        # A fixed key, so the bench never writes instance/secret_key in the working tree.
        "SECRET_KEY": "benchmark only, not a secret",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


@dataclass
class Gunicorn:
    """A gunicorn master with `workers` sync workers, started with explicit options only."""

    database_url: str
    workers: int = 2
    log_path: Path | None = None
    # The product's app with the benchmark's probe added (bench/app.py), or the DRF peer.
    app: str = "bench.app:create_bench_app()"
    extra_environment: dict[str, str] | None = None

    def start(self, ready_timeout: float = 30.0) -> Gunicorn:
        self.port = free_port()
        command = [
            str(GUNICORN),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", "sync",
            "--timeout", "60",
            "--log-level", "warning",
            "--chdir", str(PROJECT_ROOT),
            # No gunicorn.conf.py from the working directory: only these options count.
            "--config", "/dev/null",
            self.app,
        ]  # fmt: skip
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 (lives as long as the server)
        self._log = log
        self.process = subprocess.Popen(
            command,
            env={**bench_environment(self.database_url), **(self.extra_environment or {})},
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self._wait_until_ready(ready_timeout)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            if len(self.worker_pids()) == self.workers:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start in time")

    def worker_pids(self) -> list[int]:
        """The master's children: its workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            return [int(pid) for pid in children.read_text().split()]
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def peak_memory_mib(self) -> list[float]:
        """Each worker's peak resident memory (VmHWM), in MiB."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def stop(self) -> None:
        """Stop the master (it stops its workers), and make sure of it."""
        if self.process.poll() is None:
            # Quick shutdown: no request is in flight once measuring is done.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
