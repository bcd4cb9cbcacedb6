"""The database the suite runs on: SQLite by default, PostgreSQL with TEST_DATABASE_URL."""

import pytest
from alembic.script import ScriptDirectory
from conftest import TEST_DATABASE_URL
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tokenaudit.extensions import db


def test_suite_runs_on_the_database_it_was_given(app):
    assert db.engine.dialect.name == ("postgresql" if TEST_DATABASE_URL else "sqlite")


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite connection settings")
def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(app):
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_migrations_go_down_to_an_empty_database_and_up_again(app):
    db.session.remove()
    downgrade(revision="base")
    upgrade()
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory.from_config(
        app.extensions["migrate"].migrate.get_config()
    ).get_current_head()
    assert version == head and head is not None
