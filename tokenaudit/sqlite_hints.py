"""SQLite index hints: `select(...).with_hint(Model, "INDEXED BY ix_name", "sqlite")`.

SQLite has no statistics unless ANALYZE runs, so among several indexes that start with the
same column it picks one arbitrarily. SQLAlchemy's SQLite compiler drops from-hints; this
engine-level compiler renders them, so a query can name the one index that serves it.
"""

from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Engine


class SQLiteCompilerWithIndexHints(SQLiteCompiler):
    """SQLite's compiler, rendering from-hints (e.g. INDEXED BY) after the table name."""

    def get_from_hint_text(self, table, text: str) -> str:
        return text


def enable_sqlite_index_hints(engine: Engine) -> None:
    """Let this engine's statements carry INDEXED BY hints (other databases ignore them)."""
    if engine.dialect.name == "sqlite":
        engine.dialect.statement_compiler = SQLiteCompilerWithIndexHints
