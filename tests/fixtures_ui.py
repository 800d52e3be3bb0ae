"""Browser fixtures for the web UI tests: Debian's Chromium driven by Playwright.

Import the fixtures explicitly in a test module (``from tests.fixtures_ui import browser, page``).
Playwright never downloads a browser here: it launches /usr/bin/chromium (``make browser``
installs it with apt). Screenshots go to artifacts/screenshots/ (gitignored), for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "api" / "static"
WIDGET_JS = STATIC / "followup-widget.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

CHROMIUM = "/usr/bin/chromium"
# Exactly these flags: headless in a container, no sandbox (root in CI), and no background
# traffic, so a test run never touches the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1100, "height": 900}


def _chromium_path() -> str:
    path = shutil.which("chromium") or CHROMIUM
    if not Path(path).exists():
        pytest.fail(
            "Debian's Chromium is missing: run `make browser` "
            "(apt-get install -y chromium); Playwright's own browser download is not used."
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page in its own context; fails the test on uncaught JavaScript errors."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


def screenshot(page: object, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG under artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path
