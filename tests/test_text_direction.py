"""Names with right-to-left overrides or letters cannot reorder the sentences they are put in."""

import pytest
from conftest import make_token, stored_rows, text_part

from tokenaudit.models import Activity
from tokenaudit.text import isolate

RLO = "\u202e"


@pytest.mark.parametrize("name", ["CI deploy", "Müller's job", "日本語", ""])
def test_left_to_right_names_are_left_as_they_are(name):
    assert isolate(name) == name


@pytest.mark.parametrize("name", [f"{RLO}fdp.exe", "שלום", "مرحبا", "x\u2067y"])
def test_overrides_and_right_to_left_names_are_isolated(name):
    assert isolate(name) == f"\u2068{name}\u2069"


def test_activity_and_status_message_isolate_an_overriding_token_name(
    admin_client, member, smtp_server
):
    token, _ = make_token(member, f"{RLO}fdp.exe")
    [created] = stored_rows(Activity, kind="token_created")
    assert created.message == f"API token “\u2068{RLO}fdp.exe\u2069” ({token.prefix}) created"
    assert created.details["token_name"] == f"{RLO}fdp.exe"  # the data itself is kept as given

    status = admin_client.submit(f"/tokens/{token.id}/revoke", follow_redirects=True)
    assert f"Revoked “\u2068{RLO}fdp.exe\u2069”" in status.get_data(as_text=True)
    [email] = smtp_server.messages
    assert f"Token:       \u2068{RLO}fdp.exe\u2069" in text_part(email)
