"""Real servers for tests: gunicorn serving the app, redis-server, on 127.0.0.1 only; the mail
sender process."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import free_port, skip_unless_available

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until something answers HTTP on the port; fail if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/login")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


class GunicornServer:
    """`gunicorn -c gunicorn.conf.py` as deployed, bound to a free loopback port."""

    def __init__(self, env: dict[str, str | None], log_dir: Path, workers: int = 1) -> None:
        """Start serving; `env` adds variables, or removes them with None."""
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        environment = {
            **os.environ,
            "SECRET_KEY": "test secret key",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_ACCESS_LOG": "-",
            "SESSION_COOKIE_SECURE": "false",  # the tests talk plain http
            **env,
        }
        environment = {name: value for name, value in environment.items() if value is not None}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_listening(self.port, self.process)
        except RuntimeError:
            self.stop()
            raise RuntimeError(self.log()) from None

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def log(self) -> str:
        """Everything gunicorn and the app wrote (stdout and stderr) so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # graceful: workers finish their requests
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class RedisServer:
    """A throwaway redis-server: loopback only, nothing written to disk."""

    def __init__(self) -> None:
        if not Path(REDIS_SERVER).exists():
            skip_unless_available("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

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
