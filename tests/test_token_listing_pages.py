"""Every page of every order, read through the shortcuts the listing takes at scale."""

from datetime import timedelta

import pytest
from conftest import database, make_token, make_user
from reference import expected_prefixes
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tokenaudit import token_listing
from tokenaudit.clock import utcnow
from tokenaudit.extensions import db
from tokenaudit.models import ApiToken
from tokenaudit.token_listing import PAGE_SIZE, SORT_COLUMNS, TokenListParams, search_org_tokens

USAGES = [(None, None), ("GET", "/api/v2/me/"), ("DELETE", "/api/v2/tokens/3/")]


@pytest.fixture
def many_tokens(org, admin):
    """130 tokens (three pages), two owners sharing a name, a third of them never used, names
    numbered past 9."""
    with database():
        owners = [
            make_user(org, "ann1@acme.test", "Ann Lee"),
            make_user(org, "ann2@acme.test", "ann lee"),
            make_user(org, "bo@acme.test", "Bo Berg"),
        ]
        now = utcnow()
        for number in range(130):
            method, path = USAGES[number % 3]
            db.session.add(
                ApiToken(
                    user_id=owners[number % 3].id,
                    organization_id=org.id,
                    name=f"{'job' if number % 4 else 'Sync'} {number % 11}",  # job 2 before job 10
                    prefix=f"tka_{number:08}",
                    digest="0" * 64,
                    created_at=now - timedelta(minutes=(number * 37) % 130),
                    last_used_at=now - timedelta(seconds=number) if method else None,
                    last_used_method=method,
                    last_used_path=path,
                    expires_at=None
                    if number % 5 == 0
                    else now + timedelta(hours=(number * 13) % 50),
                )
            )
        db.session.commit()
        # With their owners: the reference order reads them after this session has ended.
        return db.session.scalars(select(ApiToken).options(selectinload(ApiToken.owner))).all()


def every_page(organization_id, sort, direction, q=""):
    with database():
        first = search_org_tokens(organization_id, TokenListParams(q, sort, direction, 1))
        prefixes = []
        for page in range(1, first.pages + 1):
            result = search_org_tokens(organization_id, TokenListParams(q, sort, direction, page))
            assert len(result.tokens) == min(PAGE_SIZE, result.total - (page - 1) * PAGE_SIZE)
            prefixes += [token.prefix for token in result.tokens]
    return first.total, prefixes


@pytest.mark.parametrize("few_matches", [1000, 3])
@pytest.mark.parametrize("q", ["", "job", "ann", "0000012"])
def test_pages_join_up_into_the_full_order(monkeypatch, org, many_tokens, q, few_matches):
    # FEW_MATCHES 3 makes every search walk the sort order; 1000 makes it collect its matches.
    monkeypatch.setattr(token_listing, "FEW_MATCHES", few_matches)
    for sort in SORT_COLUMNS:
        for direction in ("asc", "desc"):
            total, prefixes = every_page(org.id, sort, direction, q)
            assert prefixes == expected_prefixes(many_tokens, q, sort, direction), (sort, direction)
            assert total == len(prefixes)


@pytest.mark.parametrize("q", ["100%", "e_f", "x/y", "CI/CD"])
def test_search_treats_like_wildcards_as_text(org, admin, q):
    wanted, _ = make_token(admin, f"job {q} end")
    make_token(admin, "job 100 e-f xy CIxCD end")
    with database():
        result = search_org_tokens(org.id, TokenListParams(q, "name", "asc", 1))
        assert [token.prefix for token in result.tokens] == [wanted.prefix]
