"""`make serve` as a developer runs it: gunicorn and the mail sender together, Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from conftest import database

from bench.server import PROJECT_ROOT, free_port, wait_until_listening
from tokenaudit.extensions import db
from tokenaudit.outbox import queue_email


def group_is_gone(group: int, timeout: float = 10) -> bool:
    """True once no process of this process group is left."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.mark.slow  # make serve: gunicorn and the mail sender, real processes
def test_make_serve_runs_the_mail_sender_beside_gunicorn_and_ctrl_c_stops_both(
    app, smtp_server, tmp_path
):
    with database():
        queue_email("olive@acme.test", "queued before the server started", "text", "<p>html</p>")
        db.session.commit()
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
        "SECRET_KEY": "test secret key",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "SESSION_COOKIE_SECURE": "false",
    }
    log_path = tmp_path / "make-serve.log"
    with log_path.open("wb") as log:
        # Its own process group, as a terminal gives the command it runs in the foreground.
        make = subprocess.Popen(
            ["make", "-s", "serve"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_listening(port, make)
        deadline = time.monotonic() + 30  # the sender's first round delivers it
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m["Subject"] for m in smtp_server.messages] == ["queued before the server started"]
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        make.wait(30)
        assert group_is_gone(make.pid), log_path.read_text()
        assert "Mail sender stopped" in log_path.read_text()
    finally:
        if make.poll() is None or not group_is_gone(make.pid, timeout=0):
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
