"""The token lifetime pages on a 375 px wide phone: nothing wider than the screen but tables,
which scroll inside their own box (the page itself never scrolls sideways)."""

import pytest

from .conftest import sign_in_over_http

PHONE = {"width": 375, "height": 740}

# Elements sticking out past the right edge (no page has a box that scrolls sideways).
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
    .map(e => e.tagName + (e.textContent.trim() ? ' ' + e.textContent.trim().slice(0, 30) : ''))"""


@pytest.mark.parametrize("who", ["admin", "owner"])
def test_lifetime_pages_fit_a_phone(new_page, world, who):
    page = new_page(viewport=PHONE)
    person = getattr(world, who)
    sign_in_over_http(page, person.email)
    token = world.tokens["CI deploy"]
    paths = ["/", "/profile/tokens"]
    paths += (
        ["/settings", "/tokens?sort=expires"]
        if who == "admin"
        else [f"/profile/tokens/{token.id}/rotate"]
    )
    for path in paths:
        assert page.goto(path).status == 200, path
        assert page.evaluate(OVERFLOWING) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
