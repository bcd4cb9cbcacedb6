"""The mail sender as an operator configures it: `flask send-mail` in its own process, real SMTP
servers on loopback, settings from the environment."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys

import pytest
from aiosmtpd.smtp import AuthResult
from conftest import TEST_DATABASE_URL, Mailbox, database, free_port, reread, serve_mail
from servers import PROJECT_ROOT, MailSender, mail_environment, run_send_mail

from tokenaudit.config import InvalidSetting, load_config
from tokenaudit.extensions import db
from tokenaudit.models import OutboxEmail
from tokenaudit.outbox import queue_email

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-Pa55word"


def accept_the_mailer(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(
        success=(auth_data.login, auth_data.password)
        == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    )


def queue_pending_email() -> OutboxEmail:
    """One email waiting in the outbox, as a request that could not send it leaves it."""
    with database():
        email = queue_email("olive@acme.test", "Token revoked", "text", "<p>html</p>")
        db.session.commit()
        return email


@pytest.mark.slow  # a real process
# Loopback only: the test server takes the password without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_smtp_password_stays_out_of_the_log_even_in_debug_mode(app):
    queue_pending_email()
    mailbox = Mailbox()
    with serve_mail(
        app, mailbox, authenticator=accept_the_mailer, auth_required=True, auth_require_tls=False
    ):
        result = run_send_mail(
            app,
            env={
                "FLASK_DEBUG": "1",
                "MAIL_USERNAME": SMTP_USER,
                "MAIL_PASSWORD": SMTP_PASSWORD,
            },
        )
    assert result.returncode == 0, result.stdout
    assert [message["Subject"] for message in mailbox.messages] == ["Token revoked"]
    auth_plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    assert SMTP_PASSWORD not in result.stdout
    assert auth_plain not in result.stdout


BAD_SETTINGS = [
    ({"MAIL_TIMEOUT": "0"}, "MAIL_TIMEOUT must be a number above 0 to 30, not '0'"),
    ({"MAIL_TIMEOUT": "-1"}, "MAIL_TIMEOUT must be a number above 0 to 30, not '-1'"),
    ({"MAIL_TIMEOUT": "nan"}, "MAIL_TIMEOUT must be a number above 0 to 30, not 'nan'"),
    ({"MAIL_TIMEOUT": "ten"}, "MAIL_TIMEOUT must be a number above 0 to 30, not 'ten'"),
    ({"MAIL_TIMEOUT": "600"}, "MAIL_TIMEOUT must be a number above 0 to 30, not '600'"),
    ({"MAIL_PORT": "99999"}, "MAIL_PORT must be a whole number from 1 to 65535, not '99999'"),
    ({"MAIL_PORT": "smtp"}, "MAIL_PORT must be a whole number from 1 to 65535, not 'smtp'"),
    ({"MAIL_RETRY_BACKOFF": "-30"}, "MAIL_RETRY_BACKOFF must be a number from 0 to 86400"),
    (
        {"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"},
        "MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (TLS from the first byte) exclude each other",
    ),
    ({"MAIL_USERNAME": SMTP_USER}, "MAIL_USERNAME and MAIL_PASSWORD are set together"),
    (
        {"TRUSTED_PROXY_COUNT": "one"},
        "TRUSTED_PROXY_COUNT must be a whole number from 0 to 10, not 'one'",
    ),
    (
        {"SESSION_IDLE_MINUTES": "12h"},
        "SESSION_IDLE_MINUTES must be a whole number from 1 to 525600, not '12h'",
    ),
]


@pytest.mark.slow  # a real process
@pytest.mark.parametrize(
    ("env", "message"),
    BAD_SETTINGS,
    ids=[" ".join(f"{name}={value}" for name, value in env.items()) for env, _ in BAD_SETTINGS],
)
def test_a_bad_setting_stops_the_sender_at_start_with_one_clear_line(
    app, smtp_server, env, message
):
    email = queue_pending_email()
    result = run_send_mail(app, "--watch", env=env, timeout=30)
    assert result.returncode == 3, result.stdout
    [line] = result.stdout.splitlines()
    assert line.startswith(f"TokenAudit cannot start: {message}")
    email = reread(email)
    assert (email.status, email.attempts) == ("pending", 0)
    assert smtp_server.messages == []


@pytest.mark.slow  # a real process
def test_gunicorn_with_a_bad_mail_setting_stops_with_one_clear_line(app, tmp_path):
    """Status 3 is gunicorn's "worker failed to boot": its master stops instead of booting
    workers that fail alike, forever."""
    environment = mail_environment(
        app,
        {"MAIL_TIMEOUT": "0", "GUNICORN_BIND": f"127.0.0.1:{free_port()}", "GUNICORN_WORKERS": "1"},
    )
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "TokenAudit cannot start: MAIL_TIMEOUT must be a number above 0" in result.stdout
    assert "Traceback" not in result.stdout


@pytest.mark.slow  # a real process
@pytest.mark.parametrize("interval", ["inf", "nan", "1e10", "0", "-1", "0.001", "ten"])
def test_an_interval_the_sender_cannot_keep_is_refused_before_any_round(app, smtp_server, interval):
    email = queue_pending_email()
    result = run_send_mail(app, "--watch", "--interval", interval, timeout=30)
    assert result.returncode == 2, result.stdout
    assert "Error: Invalid value for '--interval'" in result.stdout
    assert "Traceback" not in result.stdout
    email = reread(email)
    assert email.status == "pending"
    assert smtp_server.messages == []


@pytest.mark.slow  # a real process
def test_a_database_outage_logs_one_traceback_then_one_line_a_round_then_the_recovery(
    request, app, tmp_path
):
    """The sender starts while its database is not there (down); then the database comes back."""
    if TEST_DATABASE_URL:
        databases = request.getfixturevalue("postgres_databases")
        name = f"{databases.stem}_outage"
        url = databases.url(name).render_as_string(hide_password=False)
        request.addfinalizer(lambda: databases.drop(name))

        def database_comes_back() -> None:
            databases.copy_template(name)
    else:
        path = tmp_path / "not-yet" / "mail.db"
        url = f"sqlite:///{path}"

        def database_comes_back() -> None:
            path.parent.mkdir()
            shutil.copy(request.getfixturevalue("migrated_database"), path)

    sender = MailSender(app, tmp_path, interval=0.1, env={"DATABASE_URL": url})
    try:
        sender.wait_until_ready()
        sender.wait_for_log(lambda log: log.count("Sending mail still fails") >= 5)
        database_comes_back()
        log = sender.wait_for_log(lambda log: "Sending mail works again" in log)
    finally:
        status = sender.stop()
    assert status == 0
    assert log.count("Sending mail failed; trying again every 0.1 s") == 1
    from_the_second_round = log[log.index("Sending mail still fails (2 rounds in a row)") :]
    assert "Traceback" not in from_the_second_round
    still_failing = [line for line in log.splitlines() if "Sending mail still fails" in line]
    assert all("OperationalError" in line for line in still_failing)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n \n", "is empty"),
        (b"\xcb\x00\xff" * 20, "is not text"),
        (b"secret\n", "holds 6 characters, too short a key to sign sessions (at least 32)"),
    ],
    ids=["empty", "blank", "binary", "short"],
)
def test_a_secret_key_file_that_is_not_a_key_is_refused_with_one_clear_line(
    monkeypatch, tmp_path, content, problem
):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key_file = tmp_path / "secret_key"
    key_file.write_bytes(content)
    with pytest.raises(InvalidSetting) as refused:
        load_config(tmp_path)
    assert str(refused.value) == (
        f"{key_file} {problem}: delete it to generate a new one, or set SECRET_KEY"
    )
    assert key_file.read_bytes() == content


def test_a_secret_key_path_the_app_cannot_read_is_refused_with_one_clear_line(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "secret_key").mkdir()
    with pytest.raises(InvalidSetting, match="cannot read .*secret_key \\(Is a directory\\)"):
        load_config(tmp_path)
