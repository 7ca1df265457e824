"""Browser tests: Playwright drives Debian's Chromium (no browser download) against the
live server, with the same gateway and callback fixtures the engine tests use."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.calls.conftest import (  # noqa: F401
    _tasks_run_inline,
    callbacks,
    gateway,
    grid_receiver,
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Screenshots of the main pages, referenced from README.md.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The machine has no internet: without these, Chromium keeps trying Google's services.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM
    # calls from the test body, which here are plain synchronous code. Only while the
    # browser runs: `check --deploy` (tests/callauto) rightly flags the variable.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def log_in(page: Page) -> Callable[[str], Page]:
    """Log `username` (made by UserFactory) into the portal through the login form."""

    def go(username: str) -> Page:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return go


@pytest.fixture
def screenshot(tmp_path) -> Callable[[Page, str], Path]:
    """Take a page's picture: into docs/screenshots/ under `make screenshots`
    (CALLAUTO_SCREENSHOTS=1), else into the test's own temporary folder, so an ordinary
    test run leaves the checked-in pictures alone."""
    folder = SCREENSHOTS if os.environ.get("CALLAUTO_SCREENSHOTS") == "1" else tmp_path

    def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
