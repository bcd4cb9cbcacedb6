"""Organization home, Team page and team-member edit page (SPEC section 4)."""

import threading

import pytest
from conftest import (
    auth_header,
    count_rows,
    database,
    make_org,
    make_token,
    make_user,
    reread,
    stored_rows,
    update_stored,
)
from sqlalchemy import update

from tokenaudit.extensions import db
from tokenaudit.models import Activity, User


def test_superuser_home_has_team_and_api_tokens_cards_with_counts(admin_client, admin, member):
    make_token(member)
    make_token(member, "second")
    page = admin_client.get("/").get_data(as_text=True)
    assert 'href="/team"' in page and 'href="/tokens"' in page
    assert "2</span> tokens held across the organization" in page
    assert "2</span> members" in page


def test_member_home_has_only_own_tokens_card(member_client):
    page = member_client.get("/").get_data(as_text=True)
    assert 'href="/tokens"' not in page and 'href="/team"' not in page
    assert "Your API tokens" in page


@pytest.mark.parametrize("path", ["/team", "/team/1", "/tokens", "/tokens/1/revoke"])
def test_superuser_pages_are_403_for_members(member_client, path):
    assert member_client.get(path).status_code == 403


def test_team_lists_members_with_permissions(admin_client, member):
    page = admin_client.get("/team").get_data(as_text=True)
    assert "Bob Builder" in page and f"/team/{member.id}" in page


def test_editing_permissions_records_an_activity(admin_client, admin, member):
    response = admin_client.submit(f"/team/{member.id}", {"is_active": "y"})  # token permission off
    assert response.status_code == 302
    assert reread(member).can_manage_tokens is False
    [activity] = stored_rows(Activity, kind="permissions_changed")
    assert activity.subject_id == member.id and activity.actor_id == admin.id
    assert "Can create and manage personal API tokens off" in activity.message
    assert "Can create and manage personal API tokens off" in admin_client.get("/").get_data(
        as_text=True
    )


def test_saving_without_changes_records_nothing(admin_client, member):
    admin_client.submit(f"/team/{member.id}", {"is_active": "y", "can_manage_tokens": "y"})
    assert count_rows(Activity) == 0


def test_permission_off_blocks_tokens_until_switched_back_on(admin_client, member):
    _, value = make_token(member)
    admin_client.submit(f"/team/{member.id}", {"is_active": "y"})
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 401
    admin_client.submit(f"/team/{member.id}", {"is_active": "y", "can_manage_tokens": "y"})
    assert admin_client.get("/api/v2/me/", headers=auth_header(value)).status_code == 200


def test_last_superuser_cannot_remove_own_superuser_flag(admin_client, admin):
    response = admin_client.submit(
        f"/team/{admin.id}", {"is_active": "y", "can_manage_tokens": "y"}
    )
    assert response.status_code == 400
    assert "last superuser" in response.get_data(as_text=True)
    assert reread(admin).is_superuser is True
    assert count_rows(Activity) == 0


def test_a_superuser_can_step_down_when_another_remains(admin_client, admin, org):
    make_user(org, "sam@acme.test", superuser=True)
    response = admin_client.submit(
        f"/team/{admin.id}", {"is_active": "y", "can_manage_tokens": "y"}
    )
    assert response.status_code == 302
    assert reread(admin).is_superuser is False
    assert admin_client.get("/team").status_code == 403


def test_members_of_other_organizations_are_404(admin_client):
    stranger = make_user(make_org("Other"), "x@other.test")
    assert admin_client.get(f"/team/{stranger.id}").status_code == 404
    assert admin_client.submit(f"/team/{stranger.id}", {"is_superuser": "y"}).status_code == 404
    assert reread(stranger).is_superuser is False


def test_member_edit_without_csrf_changes_nothing(admin_client, member):
    assert admin_client.post(f"/team/{member.id}", data={"is_superuser": "y"}).status_code == 400
    assert reread(member).is_superuser is False


def test_team_token_counts_are_the_organizations_tokens_only(admin_client, member, org):
    """A token is counted where it belongs (its organization_id), as the home card counts it:
    Bob still holds a token from when he was in Initech; Acme's Team page must not count it."""
    make_token(member, "acme script")
    old_token, _ = make_token(member, "initech script")
    update_stored(old_token, organization_id=make_org("Initech").id)
    page = admin_client.get("/team").get_data(as_text=True)
    bob_row = page.split("Bob Builder", 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="API tokens">1</td>' in bob_row
    home = admin_client.get("/").get_data(as_text=True)
    assert "1</span> token held across the organization" in home


ROUNDS = 6


def post_at_once(requests: list[tuple]) -> list[int]:
    """POST each (client, path, form) from its own thread, released together; the statuses."""
    start = threading.Barrier(len(requests))
    statuses = []

    def post(client, path, form):
        start.wait(timeout=10)
        statuses.append(client.post(path, data=form).status_code)

    threads = [threading.Thread(target=post, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_two_superusers_demoting_each_other_at_once_leave_one(app, org, make_client):
    """Concurrent requests, each seeing the other superuser still there: one must be refused."""
    first = make_user(org, "ann@acme.test", "Ann", superuser=True)
    second = make_user(org, "ben@acme.test", "Ben", superuser=True)
    clients = {first.id: make_client(), second.id: make_client()}
    clients[first.id].sign_in(first.email)
    clients[second.id].sign_in(second.email)
    pairs = [(clients[first.id], second.id), (clients[second.id], first.id)]
    demote = {"is_active": "y", "can_manage_tokens": "y"}  # superuser box left unticked
    for _ in range(ROUNDS):
        with database():
            db.session.execute(update(User).values(is_superuser=True))
            db.session.commit()
        requests = [
            (client, f"/team/{target}", {**demote, "csrf_token": client.csrf_token()})
            for client, target in pairs
        ]
        statuses = post_at_once(requests)
        superusers = count_rows(User, is_superuser=True, is_active=True)
        assert superusers == 1, statuses
        assert sorted(statuses) in ([302, 400], [302, 403])  # the loser may be demoted already
