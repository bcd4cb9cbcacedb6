"""Automatic retry of pending outbox mail: a small daemon thread in each serving process.

Every MAIL_RETRY_INTERVAL seconds the thread queues the expiry reminders that are due and
delivers whatever is due (`send_due_mail`). Each
message is claimed with an atomic UPDATE before it is sent, so the threads of several gunicorn
workers (or a cron job running `flask send-mail`) never send one message twice.
The thread starts with the first request, not in create_app: CLI commands such as
`flask db upgrade` must not start it, and a gunicorn worker must start its own after the fork.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from .reminders import send_due_mail

log = logging.getLogger(__name__)


class OutboxRetrier:
    """Calls send_due_mail() every `interval` seconds until stopped."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-retry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                with self.app.app_context():
                    sent, pending = send_due_mail()
                if sent:
                    log.info("Outbox retry sent %s email(s); %s still pending", sent, pending)
            except Exception:  # a database outage must not end the thread: try again later
                log.exception("Outbox retry failed; trying again in %s s", self.interval)


def register_outbox_retry(app: Flask) -> None:
    """Start the retrier with this process's first request (not when TESTING, or interval 0)."""
    interval = app.config["MAIL_RETRY_INTERVAL"]
    if app.testing or interval <= 0:
        return
    lock = threading.Lock()
    started: list[OutboxRetrier] = []

    @app.before_request
    def start_outbox_retrier_once() -> None:
        if started:
            return
        with lock:
            if not started:
                retrier = OutboxRetrier(app, interval)
                retrier.start()
                started.append(retrier)
                app.extensions["outbox_retrier"] = retrier
