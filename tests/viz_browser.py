"""Headless Chromium for the report viewer's tests and docs/screenshot.py: Debian's `chromium` driven by
Playwright for Python (its pip package ships the driver; no browser is downloaded), with a fresh empty
profile and every background service off, so the only traffic is what the page itself asks for."""
from __future__ import annotations

import contextlib
import shutil
import tempfile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


def missing() -> str | None:
    """Why the browser cannot run here (None: it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: pip install -e '.[test]'"
    if chromium_path() is None:
        return "no Chromium found: apt-get install -y chromium (.ci/run installs it)"
    return None


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900):
    """A Playwright page in headless Chromium, in a new empty profile that is deleted afterwards."""
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="gandiag-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height}, device_scale_factor=1, accept_downloads=False)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
