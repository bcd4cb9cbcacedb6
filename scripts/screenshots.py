"""Save screenshots of the main pages to docs/screenshots/ (`make screenshots`), at desktop width
and as a phone (375 px) shows them.

Starts the live server of the browser tests on a throwaway database with the demo data, and
drives Debian's Chromium through it. The token value in profile-new-token.png is a throwaway.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import migrate_database  # noqa: E402
from e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from e2e.live_server import LiveServer  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tokenaudit.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo_organization  # noqa: E402

OUTPUT = ROOT / "docs" / "screenshots"


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        template = Path(workdir) / "template.db"
        migrate_database(f"sqlite:///{template}")
        live = LiveServer(template, Path(workdir)).start()
        try:
            with live.database():
                seed_demo_organization(users=12, tokens_per_user=3)
            capture(live)
        finally:
            live.stop()


def capture(live: LiveServer) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(base_url=live.url, viewport={"width": 1200, "height": 760})
        sign_in(page, live)
        save(page, "home")

        page.goto("/tokens?sort=last_used")
        save(page, "organization-api-tokens")
        page.locator("#token-table tbody tr").first.get_by_role("button", name="Revoke").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        save(page, "revoke-dialog")

        page.goto("/team")
        save(page, "team")

        page.goto("/profile/tokens")
        page.get_by_label("Token name").fill("Laptop")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_label("Token value")).to_be_visible()
        save(page, "profile-new-token")

        page.goto("/activity")
        save(page, "activity")

        phone = browser.new_page(base_url=live.url, viewport={"width": 375, "height": 812})
        sign_in(phone, live)
        for path, name in [
            ("/tokens?sort=last_used", "phone-organization-api-tokens"),
            ("/team", "phone-team"),
            ("/profile/tokens", "phone-profile"),
            ("/activity", "phone-activity"),
        ]:
            phone.goto(path)
            # The cards are what a phone shows differently: start the picture at the table.
            phone.evaluate("document.querySelector('main table').scrollIntoView()")
            save(phone, name)
        browser.close()


def sign_in(page, live: LiveServer) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(DEMO_ADMIN_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/")


def save(page, name: str) -> None:
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
