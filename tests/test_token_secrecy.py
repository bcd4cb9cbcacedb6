"""A token value is shown once and stored nowhere: not in the database, not in a log."""

from pathlib import Path

from conftest import PASSWORD, auth_header

from tokenaudit.extensions import db


def every_stored_value(database_url: str) -> bytes:
    """All the database holds: the file's bytes for SQLite, every row of every table anywhere."""
    rows = [
        repr(row).encode()
        for table in db.metadata.sorted_tables
        for row in db.session.execute(table.select())
    ]
    if database_url.startswith("sqlite:///"):
        db.session.remove()
        db.engine.dispose()  # flush the WAL into the file
        path = Path(database_url.removeprefix("sqlite:///"))
        rows += [p.read_bytes() for p in path.parent.glob(path.name + "*")]
    return b"\n".join(rows)


def test_token_value_never_reaches_the_database_or_logs(client, member, database_url, logs):
    created = client.post("/api/v2/api-token-auth/", json={"username": member.email, "password": PASSWORD})
    value = created.json["token"]
    for path in ("/api/v2/me/", f"/api/v2/tokens/?token={value}", "/api/v2/nope/"):
        client.get(path, headers=auth_header(value))
    client.get("/api/v2/me/", headers=auth_header(value[:-1] + "x"))  # a failure is logged too
    stored = every_stored_value(database_url)
    assert value.encode() not in stored
    assert created.json["prefix"].encode() in stored  # the check above looks at the real file
    assert value not in logs.text and PASSWORD not in logs.text
    assert "authentication failed" in logs.text and "bad checksum" in logs.text
