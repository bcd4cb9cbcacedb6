"""Servers on 127.0.0.1 for the benchmark and the tests: a free port, waiting until a server
answers, gunicorn started and stopped (and its workers' peak memory read).

The tests import this module (tests/servers.py, test_logs.py): it needs nothing from pytest,
while the tests' own helpers need pytest and the test fixtures, which a benchmark must not.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# The product's app with the benchmark's probe added (bench/app.py).
BENCH_APP = "bench.app:create_bench_app()"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_http(port: int) -> bool:
    """Whether something on the loopback port answers an HTTP request (whatever the status)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/login")
        connection.getresponse().read()
        connection.close()
        return True
    except (OSError, http.client.HTTPException):
        return False


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until the server answers HTTP on the port; fail if its process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        if answers_http(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


def bench_environment(database_url: str) -> dict[str, str]:
    """The app's environment under the benchmark: its own database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        # A fixed key, so the bench never writes instance/secret_key in the working tree.
        "SECRET_KEY": "benchmark only, not a secret",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


class Gunicorn:
    """gunicorn on a free loopback port, started at once; `with` stops it.

    Without `app`: as deployed, `gunicorn -c gunicorn.conf.py` serving wsgi:app, set up through
    the environment as in production (the tests). With `app`: that app with explicit options
    only, no gunicorn.conf.py (the benchmark's probe app, or the DRF peer), so that nothing
    else moves the figures.
    """

    def __init__(
        self,
        environment: Mapping[str, str | None],
        log_path: Path | None = None,
        workers: int = 1,
        app: str | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        """`environment` adds variables to this process's, or removes them with None; the
        server's output is appended to `log_path`."""
        self.port = free_port()
        self.workers = workers
        self.log_path = log_path
        if app is None:
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
            settings = {
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": str(workers),
                "GUNICORN_ACCESS_LOG": "-",
                "SESSION_COOKIE_SECURE": "false",  # plain http on loopback
            }
        else:
            command = [
                str(GUNICORN),
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers),
                "--worker-class", "sync",
                "--timeout", "60",
                "--log-level", "warning",
                "--chdir", str(PROJECT_ROOT),
                # No gunicorn.conf.py from the working directory: only these options count.
                "--config", "/dev/null",
                app,
            ]  # fmt: skip
            settings = {}
        # A fixed key, so a server never writes instance/secret_key in the working tree.
        merged = {**os.environ, "SECRET_KEY": "test or benchmark only", **settings, **environment}
        self._log = open(log_path or os.devnull, "ab")  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            command,
            env={name: value for name, value in merged.items() if value is not None},
            cwd=PROJECT_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() can kill every worker
        )
        try:
            self._wait_until_ready(ready_timeout)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}\n{self.log()}") from None

    def _wait_until_ready(self, timeout: float) -> None:
        """Every worker up (a benchmark reads their memory) and one of them answering."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            if len(self.worker_pids()) == self.workers and answers_http(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer on 127.0.0.1:{self.port} within {timeout} s")

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def log(self) -> str:
        """Everything gunicorn and the app wrote (stdout and stderr) so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path else ""

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
        """Stop the master (it lets its workers finish their requests), and make sure of it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """A throwaway redis-server: loopback only, nothing written to disk."""

    def __init__(self) -> None:
        import redis  # only where Redis is used: the benchmark's other servers need no client

        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port)]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Mailbox:
    """What a real SMTP server on loopback received, each message with its envelope recipients
    in X-Envelope-To."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.original_content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


class SMTPServer:
    """A real SMTP server (aiosmtpd) on a loopback port of its own, collecting into `mailbox`;
    stopped and started again, it keeps its port (an outage the app must ride out)."""

    def __init__(self, mailbox: Mailbox | None = None, **options: object) -> None:
        """`options`: aiosmtpd's Controller's (ssl_context: TLS from the first byte)."""
        self.port = free_port()
        self.mailbox = mailbox or Mailbox()
        self._options = options
        self._controller = None

    def start(self) -> SMTPServer:
        from aiosmtpd.controller import Controller  # a test and benchmark dependency only

        self._controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self._options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
