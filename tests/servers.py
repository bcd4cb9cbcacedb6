"""Real servers for tests, on 127.0.0.1 only. bench/server.py starts gunicorn (as deployed) and
redis-server for the benchmark and the tests alike; here, what only tests need: redis-server
skipped where missing, and the mail sender process on the test app's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import skip_unless_available

from bench.server import PROJECT_ROOT, REDIS_SERVER, RedisServer, free_port


def start_redis() -> RedisServer:
    """A throwaway redis-server, or the test is skipped where none is installed (failed in CI)."""
    if not Path(REDIS_SERVER).exists():
        skip_unless_available("redis-server is not installed (apt-get install redis-server)")
    return RedisServer()


SEND_MAIL = [sys.executable, "-m", "flask", "--app", "wsgi", "send-mail"]


def mail_environment(app, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `flask send-mail` process on the test app's database and SMTP
    server; `env` adds or overrides variables."""
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": app.config["MAIL_SERVER"] or "",
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
        "MAIL_RETRY_BACKOFF": str(app.config["MAIL_RETRY_BACKOFF"]),
        "EXTERNAL_URL": app.config["EXTERNAL_URL"],
        "SECRET_KEY": "test secret key",
        **(env or {}),
    }


def run_send_mail(
    app, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`flask --app wsgi send-mail` run to its end (TimeoutExpired if it does not end within
    `timeout` seconds), its output (stdout and stderr) kept."""
    return subprocess.run(
        SEND_MAIL + list(args),
        cwd=PROJECT_ROOT,
        env=mail_environment(app, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


class MailSender:
    """`flask --app wsgi send-mail --watch`, the app's one mail sender, as deployed: its own
    process on the test app's database and SMTP server."""

    READY = "Sending mail every"

    def __init__(
        self, app, log_dir: Path, interval: float = 0.1, env: dict[str, str] | None = None
    ) -> None:
        """Start it; `env` adds or overrides environment variables."""
        self.log_path = log_dir / f"send-mail-{free_port()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            SEND_MAIL + ["--watch", "--interval", str(interval)],
            cwd=PROJECT_ROOT,
            env=mail_environment(app, env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout: float = 30) -> None:
        """Wait for its first line: from then on it has SIGTERM and SIGINT in hand."""
        deadline = time.monotonic() + timeout
        while self.READY not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mail sender did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, done, timeout: float = 30) -> str:
        """Wait until done(log) holds; its log. Fails if the sender exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not done(log := self.log()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the mail sender's log never got there:\n{log}")
            time.sleep(0.05)
        return log

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Send the signal and wait for the exit; its status (None if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self._log.close()
                return None
        self._log.close()
        return self.process.returncode
