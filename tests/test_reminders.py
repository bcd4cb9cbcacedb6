"""Expiry reminders (SPEC 10): 7 days before and at expiry, once each, whatever sends mail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import (
    count_rows,
    database,
    html_part,
    make_token,
    make_user,
    run_at_the_same_moment,
    text_part,
    update_stored,
)
from servers import MailSender

from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken, TokenReminder
from tokenaudit.reminders import send_due_mail

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_config() -> dict:
    return {"EXTERNAL_URL": "https://tokens.example.org"}


def expiring_token(owner, days: float, name: str = "nightly sync") -> ApiToken:
    token, _ = make_token(owner, name)
    update_stored(token, expires_at=utcnow() + timedelta(days=days))
    return token


def subjects(mailbox) -> list[str]:
    return [message["Subject"] for message in mailbox.messages]


def test_owner_is_reminded_7_days_before_and_at_expiry_once_each(
    runner, member, clock, smtp_server
):
    token = expiring_token(member, 10)
    assert runner.invoke(args=["send-mail"]).exit_code == 0
    assert smtp_server.messages == []

    clock(timedelta(days=3, minutes=1))  # 7 days left
    for _ in range(3):
        assert runner.invoke(args=["send-mail"]).exit_code == 0
    expires_on = f"{token.expires_at:%Y-%m-%d}"
    assert subjects(smtp_server) == [f"Your API token {token.prefix} expires on {expires_on}"]
    [soon] = smtp_server.messages
    assert soon["X-Envelope-To"] == member.email
    rotate_link = f"https://tokens.example.org/profile/tokens/{token.id}/rotate"
    assert rotate_link in text_part(soon) and f'href="{rotate_link}"' in html_part(soon)

    clock(timedelta(days=7))  # past its date
    for _ in range(3):
        assert runner.invoke(args=["send-mail"]).exit_code == 0
    assert subjects(smtp_server)[1:] == [f"Your API token {token.prefix} has expired"]
    assert "401 Unauthorized" in text_part(smtp_server.messages[1])


def test_rotated_token_is_reminded_again_for_its_new_date(runner, member, clock, smtp_server):
    token = expiring_token(member, 3)
    runner.invoke(args=["send-mail"])
    assert len(smtp_server.messages) == 1
    update_stored(token, expires_at=utcnow() + timedelta(days=5))  # rotated under a 5-day policy
    runner.invoke(args=["send-mail"])
    runner.invoke(args=["send-mail"])
    assert len(smtp_server.messages) == 2


def test_tokens_without_expiry_or_long_expired_get_no_reminder(runner, member, smtp_server):
    make_token(member, "forever")  # the organization default, 90 days
    never, _ = make_token(member, "never")
    # Committed: with the whole test in one session this was flushed by a later commit only.
    update_stored(never, expires_at=None)
    expiring_token(member, -30, "expired a month ago")
    runner.invoke(args=["send-mail"])
    assert smtp_server.messages == []


def test_two_senders_at_the_same_moment_send_each_reminder_once(app, org, smtp_server):
    """As when two mail senders wake together."""
    owners = [make_user(org, f"owner{n}@acme.test") for n in range(4)]
    tokens = [expiring_token(owners[n % 4], 2 + n / 10, f"token {n}") for n in range(40)]
    run_at_the_same_moment(app, send_due_mail, threads=2)
    sent = Counter(subjects(smtp_server))
    assert sorted(sent) == sorted(
        f"Your API token {t.prefix} expires on {t.expires_at:%Y-%m-%d}" for t in tokens
    )
    assert set(sent.values()) == {1}


@pytest.mark.slow  # two real processes
def test_two_send_mail_processes_at_the_same_moment_send_each_reminder_once(
    app, database_url, org, smtp_server
):
    owner = make_user(org, "olive@acme.test")
    tokens = [expiring_token(owner, 3, f"token {n}") for n in range(30)]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
        "SECRET_KEY": "test secret key",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "send-mail"]
    processes = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    sent = Counter(subjects(smtp_server))
    assert len(sent) == len(tokens) and set(sent.values()) == {1}


@pytest.mark.slow  # a real mail sender process
def test_the_mail_sender_sends_reminders(app, member, smtp_server, tmp_path):
    prefix = expiring_token(member, 1).prefix
    sender = MailSender(app, tmp_path)
    try:
        sender.wait_until_ready()
        deadline = time.monotonic() + 10
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more rounds of the sender: nothing is sent twice
    finally:
        assert sender.stop() == 0, sender.log()
    [subject] = subjects(smtp_server)
    assert subject.startswith(f"Your API token {prefix} expires on ")


@pytest.mark.slow  # a real mail sender process
def test_the_mail_sender_stops_on_sigterm_amid_a_backlog_of_reminders(
    app, org, member, smtp_server, tmp_path
):
    """After a large seed-demo thousands of reminders fall due at once: SIGTERM (systemd, make
    run's Ctrl-C) stops the sender after the reminder in hand, not after queueing them all."""
    backlog = 2000
    expires_at = utcnow() + timedelta(days=3)
    with database():
        for number in range(backlog):
            db.session.add(
                ApiToken(
                    user_id=member.id,
                    organization_id=org.id,
                    name=f"token {number}",
                    prefix=f"tka_{number:08}",
                    digest="0" * 64,
                    expires_at=expires_at,
                )
            )
        db.session.commit()
    sender = MailSender(app, tmp_path)
    sender.wait_until_ready()
    asked = time.monotonic()
    assert sender.stop() == 0, sender.log()
    assert time.monotonic() - asked < 5
    assert count_rows(TokenReminder) < backlog
    assert "Mail sender stopped" in sender.log()
