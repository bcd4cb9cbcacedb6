"""Rate-limit counts in the app's own database, shared by every gunicorn worker and server.

Counted in each worker's memory, the sign-in budget was multiplied by the number of workers
(4 workers let 40 of 60 simultaneous guesses through a budget of 10); Redis shares one count,
but is one more server to run. Here each hit is one atomic statement (an upsert that starts a
new window once the old one has expired, and returns the new count) in its own transaction,
committed at once: a request that rolls back or fails later still counted its attempt.

Flask-Limiter's fixed-window strategy is all this stores. RATELIMIT_STORAGE_URI's default
(config.py); redis://... selects Redis instead.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from limits.storage import Storage
from sqlalchemy import case, create_engine, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .clock import utcnow
from .extensions import db
from .models import RateLimitCounter

SCHEME = "app-database"

_counters = RateLimitCounter.__table__
# INSERT ... ON CONFLICT DO UPDATE ... RETURNING, as each database spells it (SQLite >= 3.35).
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _now() -> float:
    """Unix time, as `limits` counts, from the app's clock (tests move it)."""
    return utcnow().timestamp()


def _digest(key: str) -> str:
    """The key's row: its SHA-256. A lone surrogate (JSON's "\\ud800" in a username) is a
    key too, and still hashes."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _counters_engine() -> Engine:
    """The app's database through a pool of its own: a request counts while its session holds
    a connection, so from the session's pool every connection ended up held by requests that
    each waited for a second one (60 simultaneous sign-ins on the development server and
    PostgreSQL: 47 answered 500, QueuePool limit reached). Here a connection is held only for
    one statement, and never while waiting for another."""
    extensions = current_app.extensions
    engine = extensions.get("rate_limit_counters")
    if engine is None:
        engine = extensions.setdefault("rate_limit_counters", create_engine(db.engine.url))
    return engine


class DatabaseStorage(Storage):
    """`limits` storage for fixed windows: one row per key and window in rate_limit_counters."""

    STORAGE_SCHEME = [SCHEME]

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's count, in a new window if the last one has expired."""
        now = _now()
        engine = _counters_engine()
        insert = _UPSERT[engine.dialect.name](_counters)
        # A refund (a right password, amount -1) after its window ended starts nothing.
        insert = insert.values(
            key_digest=_digest(key), count=max(amount, 0), expires_at=now + expiry
        )
        expired = _counters.c.expires_at <= now
        upsert = insert.on_conflict_do_update(
            index_elements=[_counters.c.key_digest],
            set_={
                "count": case((expired, insert.excluded.count), else_=_counters.c.count + amount),
                "expires_at": case(
                    (expired, insert.excluded.expires_at), else_=_counters.c.expires_at
                ),
            },
        ).returning(_counters.c.count)
        with engine.begin() as connection:
            count = connection.execute(upsert).scalar_one()
        if count == amount > 0:  # a new window, perhaps a new row: make room for it
            self._delete_an_expired_counter(engine, now)
        return count

    @staticmethod
    def _delete_an_expired_counter(engine: Engine, now: float) -> None:
        """Delete the counter that expired first, if any: with one deleted per window started,
        expired rows never outnumber the most counters ever live at once. One row in its own
        transaction, so two of these, or one and an upsert, never wait for each other in turn
        (PostgreSQL would end one with a deadlock)."""
        oldest = (
            select(_counters.c.key_digest)
            .where(_counters.c.expires_at <= now)
            .order_by(_counters.c.expires_at)
            .limit(1)
            .scalar_subquery()
        )
        with engine.begin() as connection:
            # Checked again on the row itself: another worker may have restarted it meanwhile.
            connection.execute(
                delete(_counters).where(
                    _counters.c.key_digest == oldest, _counters.c.expires_at <= now
                )
            )

    def _live(self, key: str):
        """The key's counter row, None once it has expired."""
        query = select(_counters.c.count, _counters.c.expires_at).where(
            _counters.c.key_digest == _digest(key), _counters.c.expires_at > _now()
        )
        with _counters_engine().connect() as connection:
            return connection.execute(query).one_or_none()

    def get(self, key: str) -> int:
        """The key's count in its current window."""
        row = self._live(key)
        return 0 if row is None else row.count

    def get_expiry(self, key: str) -> float:
        """When the key's current window ends (now when it has none)."""
        row = self._live(key)
        return _now() if row is None else row.expires_at

    def check(self) -> bool:
        """Whether the database answers (Flask-Limiter asks after a failure)."""
        try:
            with _counters_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int:
        """Delete every counter; how many there were."""
        with _counters_engine().begin() as connection:
            return connection.execute(delete(_counters)).rowcount

    def clear(self, key: str) -> None:
        """Delete the key's counter."""
        with _counters_engine().begin() as connection:
            connection.execute(delete(_counters).where(_counters.c.key_digest == _digest(key)))
