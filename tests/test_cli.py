"""The command line (SPEC section 8), through Flask's CLI runner."""

from datetime import timedelta

from conftest import database
from sqlalchemy import func, select

from tokenaudit.accounts import authenticate_user
from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken, Organization, User


def test_create_org_and_user(runner):
    result = runner.invoke(args=["create-org", "Initech"])
    assert result.exit_code == 0 and "Created organization 'Initech'" in result.output
    result = runner.invoke(
        args=[
            "create-user",
            "Peter@Initech.test",
            "--name",
            "Peter Gibbons",
            "--org",
            "Initech",
            "--password",
            "tps reports",
            "--superuser",
        ]
    )
    assert result.exit_code == 0, result.output
    with database():
        user = db.session.scalar(select(User).where(User.email == "peter@initech.test"))
        assert user.is_superuser and user.can_manage_tokens
        assert user.organization.name == "Initech"
        assert authenticate_user("PETER@initech.test", "tps reports") == user


def test_create_user_without_token_permission(runner, org):
    result = runner.invoke(
        args=[
            "create-user",
            "m@acme.test",
            "--name",
            "M",
            "--org",
            "Acme",
            "--password",
            "long enough",
            "--no-token-permission",
        ]
    )
    assert result.exit_code == 0
    with database():
        permission = select(User.can_manage_tokens).where(User.email == "m@acme.test")
        assert db.session.scalar(permission) is False


def test_create_user_prompts_for_the_password_twice(runner, org):
    result = runner.invoke(
        args=["create-user", "p@acme.test", "--name", "P", "--org", "Acme"],
        input="secret pass\nsecret pass\n",
    )
    assert result.exit_code == 0, result.output
    assert "secret pass" not in result.output  # hidden input
    with database():
        assert authenticate_user("p@acme.test", "secret pass") is not None


def create_user_args(email: str, org: str = "Acme", password: str = "long enough") -> list[str]:
    return ["create-user", email, "--name", "X", "--org", org, "--password", password]


def test_cli_errors_are_clear_and_change_nothing(runner, org, admin):
    cases = [
        (["create-org", "Acme"], "already exists"),
        (["create-org", "  "], "must not be empty"),
        (create_user_args("not-an-email"), "EMAIL"),
        (create_user_args("x@acme.test", org="Nope"), "No organization"),
        (create_user_args("x@acme.test", password="short"), "at least 8"),
        (create_user_args("CAROL@acme.test"), "already exists"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    with database():
        assert db.session.scalar(select(func.count(User.id))) == 1
        assert db.session.scalar(select(func.count(Organization.id))) == 1


def test_seed_demo_creates_users_tokens_and_usage(runner):
    result = runner.invoke(args=["seed-demo", "--users", "30", "--tokens-per-user", "4"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.example.com" in result.output and "demo-password" in result.output
    with database():
        assert db.session.scalar(select(func.count(User.id))) == 31
        assert db.session.scalar(select(func.count(ApiToken.id))) == 120
        used = db.session.scalar(
            select(func.count(ApiToken.id)).where(ApiToken.last_used_at.is_not(None))
        )
        assert 0 < used < 120
        assert authenticate_user("admin@demo.example.com", "demo-password").is_superuser
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "already exists" in again.output
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not seeding" in skipped.output


def test_seed_demo_gives_realistic_expiry_dates(runner, client):
    result = runner.invoke(args=["seed-demo", "--users", "30", "--tokens-per-user", "10"])
    assert result.exit_code == 0, result.output
    now = utcnow()
    with database():
        expiries = db.session.scalars(select(ApiToken.expires_at)).all()
    never = [e for e in expiries if e is None]
    dated = [e for e in expiries if e is not None]
    assert never and len(never) < len(expiries) / 2
    assert any(e <= now for e in dated), "some have expired"
    assert any(now < e <= now + timedelta(days=7) for e in dated), "some expire this week"
    assert any(e > now + timedelta(days=30) for e in dated)
    client.sign_in("admin@demo.example.com", "demo-password")
    page = client.get("/tokens?sort=expires&dir=asc").get_data(as_text=True)
    assert ">Expired</strong>" in page


def test_send_mail_reports_what_is_pending(runner):
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0 and "Sent 0 email(s); 0 still pending." in result.output
