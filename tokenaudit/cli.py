"""Command line (SPEC section 8): create-org, create-user, seed-demo, send-mail."""

from __future__ import annotations

import logging
import math
import signal

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask
from sqlalchemy import select

from .accounts import find_user_by_email, hash_password, normalize_email, password_problem
from .extensions import db
from .models import Organization, User
from .reminders import send_due_mail

log = logging.getLogger(__name__)
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _find_org(name: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.name == name))


@click.command("create-org")
@click.argument("name")
def create_org(name: str) -> None:
    """Create an organization."""
    name = name.strip()
    if not name:
        raise click.UsageError("The organization name must not be empty.")
    if _find_org(name):
        raise click.ClickException(f"An organization named {name!r} already exists.")
    db.session.add(Organization(name=name))
    db.session.commit()
    click.echo(f"Created organization {name!r}.")


@click.command("create-user")
@click.argument("email")
@click.option("--name", "full_name", required=True, help="The user's full name.")
@click.option("--org", "org_name", required=True, help="The organization's name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--superuser", is_flag=True, help="Make the user an Organization Superuser.")
@click.option(
    "--no-token-permission",
    is_flag=True,
    help="Withhold 'Can create and manage personal API tokens'.",
)
def create_user(
    email: str,
    full_name: str,
    org_name: str,
    password: str,
    superuser: bool,
    no_token_permission: bool,
) -> None:
    """Create a user in an organization."""
    try:
        email = validate_email(
            email,
            # Internal and test domains are fine: the app never looks the domain up.
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
        ).normalized
    except EmailNotValidError as problem:
        raise click.BadParameter(str(problem), param_hint="EMAIL") from problem
    if not full_name.strip():
        raise click.BadParameter("The name must not be empty.", param_hint="--name")
    if problem := password_problem(password):
        raise click.BadParameter(problem, param_hint="--password")
    organization = _find_org(org_name)
    if organization is None:
        raise click.ClickException(
            f"No organization named {org_name!r}; create it with create-org."
        )
    if find_user_by_email(email):
        raise click.ClickException(f"A user with email {normalize_email(email)} already exists.")
    db.session.add(
        User(
            email=normalize_email(email),
            full_name=full_name.strip(),
            password_hash=hash_password(password),
            organization=organization,
            is_superuser=superuser,
            can_manage_tokens=not no_token_permission,
        )
    )
    db.session.commit()
    role = "superuser" if superuser else "member"
    click.echo(f"Created {role} {normalize_email(email)} in {organization.name!r}.")


@click.command("seed-demo")
@click.option("--users", default=12, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--tokens-per-user", default=3, show_default=True, type=click.IntRange(0, 1_000))
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def seed_demo(users: int, tokens_per_user: int, if_empty: bool) -> None:
    """Create a demo organization with a superuser, members and tokens with usage history."""
    from .demo import DEMO_ORG_NAME, seed_demo_organization

    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("The database already has users; not seeding demo data.")
        return
    if _find_org(DEMO_ORG_NAME):
        raise click.ClickException(f"The organization {DEMO_ORG_NAME!r} already exists.")
    summary = seed_demo_organization(users, tokens_per_user)
    click.echo(summary)


def _refuse_nan(seconds: float) -> float:
    if math.isnan(seconds):
        raise click.BadParameter(f"{seconds!r} is not a number of seconds.")
    return seconds


@click.command("send-mail")
@click.option("--all", "ignore_schedule", is_flag=True, help="Retry now, ignoring the back-off.")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep sending: the app's one mail sender, until SIGTERM or SIGINT (Ctrl-C).",
)
@click.option(
    "--interval",
    # At least 0.1 s, or the sender spins on the database; at most a day: far above it, the
    # wait after the first round fails (OverflowError). NaN passes any range check: refused.
    type=click.FloatRange(min=0.1, max=86400),
    callback=lambda _context, _parameter, seconds: _refuse_nan(seconds),
    default=10,
    show_default=True,
    help="With --watch: seconds between rounds (0.1 to 86400).",
)
def send_mail(ignore_schedule: bool, watch: bool, interval: float) -> None:
    """Queue due expiry reminders, then deliver pending emails from the outbox."""
    if watch:
        watch_outbox(interval)
        return
    sent, pending = send_due_mail(ignore_schedule=ignore_schedule)
    click.echo(f"Sent {sent} email(s); {pending} still pending.")
    if pending:
        raise SystemExit(1)


def watch_outbox(interval: float) -> None:
    """Send what is due every `interval` seconds until SIGTERM or SIGINT, then return.

    The two signals are blocked and waited for rather than handled, so that one never cuts an
    email off half-way to the SMTP server: the round in progress stops after the email in hand.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def stop_requested() -> bool:
        return bool(signal.sigpending() & STOP_SIGNALS)

    log.info("Sending mail every %g s; stop with SIGTERM or Ctrl-C", interval)
    failed_rounds = 0
    while True:
        try:
            sent, pending = send_due_mail(stop_requested=stop_requested)
        except Exception as error:  # a database outage must not end the sender: try again
            db.session.rollback()
            failed_rounds += 1
            # The traceback once per outage; an hour of it would otherwise be hundreds of them.
            if failed_rounds == 1:
                log.exception("Sending mail failed; trying again every %g s", interval)
            else:
                log.warning(
                    "Sending mail still fails (%s rounds in a row): %s: %s",
                    failed_rounds,
                    type(error).__name__,
                    (str(error).splitlines() or [""])[0],
                )
        else:
            if failed_rounds:
                log.info("Sending mail works again after %s failed round(s)", failed_rounds)
                failed_rounds = 0
            if sent:
                log.info("Sent %s email(s); %s still pending", sent, pending)
        if stop_requested() or signal.sigtimedwait(STOP_SIGNALS, interval):
            break
    log.info("Mail sender stopped")


def register_cli(app: Flask) -> None:
    for command in (create_org, create_user, seed_demo, send_mail):
        app.cli.add_command(command)
