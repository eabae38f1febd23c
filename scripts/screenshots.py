"""Screenshots of the key pages, for the README, taken from a running demo server.

    make run                                     # or any server with the seeded demo network
    .venv/bin/python scripts/screenshots.py [--base-url http://127.0.0.1:8000] [--out DIR]

It logs in as the demo users (listings/demo.py), opens each page in Debian's Chromium
(/usr/bin/chromium, driven by Playwright; never `playwright install`) and writes full-page PNGs,
cut at MAX_HEIGHT, into docs/screenshots/. It changes nothing on the server beyond the logins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_HEIGHT = 1800  # px: long lists are cut, to keep the PNGs small
PASSWORD = "symbiosis-demo"  # noqa: S105 -- the published demo login (README), not a secret
IMPACT_REGION = "Rotterdam and Moerdijk"
SHIPMENT_QUESTION = {
    "origin": "BE",
    "destination": "NL",
    "status": "waste",
    "operation": "R5",
    "low_code": "10 01 05",
}


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    if not page.locator(".who").count():
        sys.exit(f"could not log in as {username}: is the demo data seeded?")


def shoot(page: Page, out: Path, name: str, path: str | None = None) -> None:
    if path is not None:
        page.goto(path)
    page.wait_for_load_state("networkidle")
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
    page.screenshot(path=out / f"{name}.png", full_page=True, clip=clip)
    print(f"{out / f'{name}.png'}  {page.url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    options = parser.parse_args()
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        viewport = {"width": 1280, "height": 800}

        company = browser.new_context(base_url=options.base_url, viewport=viewport)
        page = company.new_page()
        log_in(page, "anna.nl")
        shoot(page, out, "dashboard", "/dashboard/")
        shoot(page, out, "offer-form", "/offers/new/")
        shoot(page, out, "my-matches", "/matches/")
        shoot(
            page, out, "shipment-procedure", f"/shipment-procedure/?{urlencode(SHIPMENT_QUESTION)}"
        )
        shoot(page, out, "dashboard-fr", "/fr/dashboard/")
        company.close()

        facilitator = browser.new_context(base_url=options.base_url, viewport=viewport)
        page = facilitator.new_page()
        log_in(page, "facilitator")
        shoot(page, out, "facilitator-queue", "/facilitate/queue/")
        page.locator("table.queue tbody tr a").first.click()
        shoot(page, out, "match-detail")
        shoot(page, out, "map", "/facilitate/map/")
        page.goto("/facilitate/impact/")
        region = page.locator("select[name=region]")
        if region.count() and region.locator(f"option:text-is('{IMPACT_REGION}')").count():
            region.select_option(label=IMPACT_REGION)  # the demo's implemented synergy is there
            page.locator("main form button[type=submit]").first.click()
        shoot(page, out, "impact")
        facilitator.close()
        browser.close()


if __name__ == "__main__":
    main()
