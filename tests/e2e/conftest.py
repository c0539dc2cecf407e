"""A real browser for end-to-end tests: Debian's chromium driven by Playwright for Python."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def install_chromium() -> None:
    """Install Debian's chromium when missing (a fresh CI machine); Playwright's download fails."""
    if CHROMIUM.exists():
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"]
    if os.geteuid() != 0 and shutil.which("sudo"):
        command = ["sudo", "-n", *command]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if not CHROMIUM.exists():
        pytest.fail(f"could not install chromium ({' '.join(command)}):\n{result.stderr[-2000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless chromium per module.

    Not per session: Playwright's sync API keeps an event loop running in this thread while it
    is open, and every later test that drives the ASGI application (async_to_sync) would find
    it there.
    """
    from playwright.sync_api import sync_playwright

    install_chromium()
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are
    # ordinary blocking ones, which Django would otherwise refuse next to a running loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser tab with clipboard access, failing on any script or CSP error."""
    context = browser.new_context(
        base_url=live_server.url,
        permissions=["clipboard-read", "clipboard-write"],
        viewport={"width": 1280, "height": 860},
    )
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda msg: msg.type == "error" and tab.console_errors.append(msg.text))
    tab.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """Take a full-page screenshot; `make screenshots` keeps them under docs/screenshots/.

    An ordinary test run writes them to a temporary folder, so that it leaves the work tree as
    it found it (the pictures change with every run's dates and charts).
    """
    folder = SCREENSHOTS if os.environ.get("PORTCULLIS_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(tab, name: str) -> None:
        path = folder / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0

    return take
