"""The Activity log (SPEC 11), its CSV export, and the member page's record, over HTTP."""

import csv
import io
import re

import pytest
from conftest import make_org, make_token, make_user

from tokenaudit.activity_log import PAGE_SIZE


@pytest.mark.parametrize("field", ["actor", "subject", "page"])
@pytest.mark.parametrize("value", ["\u00b2", "\u0663"])
def test_digits_of_other_kinds_are_ignored_not_a_server_error(admin_client, record, field, value):
    """`²` passes str.isdigit() but not int(); `٣` is another script's 3: both ignored."""
    for path in ("/activity", "/activity.csv"):
        response = admin_client.get(path, query_string={field: value})
        response.get_data()  # the CSV streams: read to its end
        assert response.status_code == 200, (path, field, value)
    page = admin_client.get("/activity", query_string={field: value}).get_data(as_text=True)
    assert "55 activities" in page


ROW = re.compile(r'<td data-label="What happened" class="message-cell"><bdi>(.*?)</bdi>')


def messages(page: str) -> list[str]:
    return ROW.findall(page)


@pytest.fixture
def record(org, admin, member):
    """Bob made 55 tokens; Carol revoked one; another organization has its own record."""
    for n in range(1, 56):
        make_token(member, f"job {n}")
    outsider = make_user(make_org("Other"), "olga@other.test", "Olga Other")
    make_token(outsider, "elsewhere")
    return member


def rows_of(csv_text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_text)))


def test_superuser_pages_through_the_whole_organization_newest_first(admin_client, record):
    first = admin_client.get("/activity").get_data(as_text=True)
    assert "55 activities" in first
    assert len(messages(first)) == PAGE_SIZE
    assert "“job 55”" in messages(first)[0]
    assert "elsewhere" not in first
    second = admin_client.get("/activity?page=2").get_data(as_text=True)
    assert len(messages(second)) == 5 and "“job 1”" in messages(second)[-1]
    # Past the end the page shows the last page, as the token list does.
    assert messages(admin_client.get("/activity?page=9").get_data(as_text=True)) == messages(second)


def test_filters_combine_and_bad_values_are_ignored(admin_client, admin, record):
    assert "0 activities" in admin_client.get("/activity?kind=token_revoked").get_data(as_text=True)
    page = admin_client.get(f"/activity?kind=token_created&subject={record.id}&actor={record.id}")
    assert "55 activities" in page.get_data(as_text=True)
    assert "0 activities" in admin_client.get(f"/activity?actor={admin.id}").get_data(as_text=True)
    for bad in ["page=x&actor=-1&subject=1e9", "kind=" + "k" * 500, "actor=99999999999999999999"]:
        response = admin_client.get(f"/activity?{bad}")
        assert response.status_code == 200, bad


def test_members_see_only_what_concerns_them(client, admin, record):
    client.sign_in(admin.email)
    client.get("/")  # Carol has nothing recorded against her
    client.sign_in(record.email)
    page = client.get(f"/activity?subject={admin.id}").get_data(as_text=True)
    assert "0 activities" in page  # asking for someone else's record shows none of it
    assert "55 activities" in client.get("/activity").get_data(as_text=True)
    exported = rows_of(client.get(f"/activity.csv?subject={admin.id}").get_data(as_text=True))
    assert len(exported) == 1  # the header only


def test_csv_has_every_matching_row_and_defuses_formulas(admin_client, org, admin):
    spreadsheet = make_user(org, "eve@acme.test", "=cmd|' /C calc'!A0")
    for n in range(60):
        make_token(spreadsheet, f"+{n}")
    response = admin_client.get(f"/activity.csv?subject={spreadsheet.id}")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *lines = rows_of(response.get_data(as_text=True))
    assert header == [
        "created_at",
        "kind",
        "actor_name",
        "actor_email",
        "subject_name",
        "subject_email",
        "message",
    ]
    assert len(lines) == 60  # all of them, not one page
    assert {line[4] for line in lines} == {"'=cmd|' /C calc'!A0"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)


def test_member_page_shows_their_tokens_and_recent_activity(admin_client, record):
    page = admin_client.get(f"/team/{record.id}").get_data(as_text=True)
    assert page.count('class="revoke-control"') == 55
    assert page.count("<li>") >= 20 and f'href="/activity?subject={record.id}"' in page


SELECTED = re.compile(r'<select id="activity-(\w+)" name="\w+">(.*?)</select>', re.S)


def selected_options(page: str) -> dict[str, list[str]]:
    """Each filter box's selected option values (none: the box shows its first, "Any")."""
    return {
        name: re.findall(r'<option value="([^"]*)" selected>', options)
        for name, options in SELECTED.findall(page)
    }


def test_filter_boxes_say_the_filter_the_table_shows(admin_client, admin, record):
    """A filter the boxes do not list (a kind with nothing on record, a person from elsewhere)
    still applies; the box shows it instead of "Any", so box and table agree (attack 12)."""
    page = admin_client.get("/activity?kind=token_revoked&actor=99999").get_data(as_text=True)
    assert "0 activities" in page
    boxes = selected_options(page)
    assert boxes["kind"] == ["token_revoked"]
    assert boxes["actor"] == ["99999"]
    assert boxes["subject"] == []
    page = admin_client.get(f"/activity?kind=token_created&subject={record.id}").get_data(
        as_text=True
    )
    assert selected_options(page) == {
        "kind": ["token_created"],
        "actor": [],
        "subject": [str(record.id)],
    }


def test_both_csv_downloads_are_named_with_the_moment_they_were_made(admin_client, admin):
    # Two exports of the log taken a day apart do not overwrite each other in Downloads.
    make_token(admin, "recorded")
    for path, name in (("/activity.csv", "activity"), ("/tokens.csv", "api-tokens")):
        response = admin_client.get(path)
        response.get_data()
        disposition = response.headers["Content-Disposition"]
        assert re.fullmatch(rf'attachment; filename="{name}-\d{{8}}-\d{{6}}\.csv"', disposition)
        assert response.mimetype_params["charset"] == "utf-8"
