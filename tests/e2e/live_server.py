"""A real TokenAudit server on a free loopback port, mailing a real SMTP server beside it.

Used by the browser tests and by `make screenshots`. The server runs in a thread of this
process, so tests can also reach the same app (and database) directly to arrange and check.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import base_config
from flask import Flask
from werkzeug.serving import make_server

from bench.server import SMTPServer
from tokenaudit import create_app
from tokenaudit.extensions import db


class LiveServer:
    """The app served over HTTP on 127.0.0.1, its mail going to an aiosmtpd mailbox."""

    def __init__(self, template_database: Path, workdir: Path) -> None:
        database = workdir / "live.db"
        shutil.copy(template_database, database)
        self.database_path = database
        self._smtp = SMTPServer()
        self.mailbox = self._smtp.mailbox
        self.app: Flask = create_app(
            {
                **base_config(f"sqlite:///{database}"),
                # A real server behaves as in production: exceptions become error pages.
                "TESTING": False,
                # Links in emails point at this server, whatever port it got.
                "SERVER_NAME": None,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": self._smtp.port,
                "MAIL_TIMEOUT": 5.0,
            }
        )
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._smtp.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._smtp.stop()
        with self.app.app_context():
            db.engine.dispose()

    @contextmanager
    def database(self) -> Iterator[None]:
        """An app context for arranging data or checking it, with a fresh session."""
        with self.app.app_context():
            try:
                yield
            finally:
                db.session.remove()

    def messages_to(self, email: str) -> list:
        """What the SMTP server received for one recipient."""
        return [m for m in self.mailbox.messages if m["X-Envelope-To"] == email]
