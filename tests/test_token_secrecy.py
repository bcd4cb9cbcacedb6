"""A token value is shown once and stored nowhere: not in the database, not in a log."""

from conftest import PASSWORD, auth_header, bad_checksum, every_stored_value


def test_token_value_never_reaches_the_database_or_logs(client, member, database_url, logs):
    created = client.post(
        "/api/v2/api-token-auth/", json={"username": member.email, "password": PASSWORD}
    )
    value = created.json["token"]
    for path in ("/api/v2/me/", f"/api/v2/tokens/?token={value}", "/api/v2/nope/"):
        client.get(path, headers=auth_header(value))
    client.get("/api/v2/me/", headers=auth_header(bad_checksum(value)))  # a failure is logged too
    stored = every_stored_value(database_url)
    assert value.encode() not in stored
    assert created.json["prefix"].encode() in stored  # the check above looks at the real file
    assert value not in logs.text and PASSWORD not in logs.text
    assert "authentication failed" in logs.text and "bad checksum" in logs.text
