"""Debian's Chromium (``apt-get install chromium``), driven by Playwright with `executable_path`:
no browser download, and no request to any host but the service (PITFALLS.md's flags).

Used by the browser tests (tests/test_dashboard.py) and by ``make screenshots`` (docs/screenshots.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-sync",
         "--metrics-recording-only", "--disable-domain-reliability"]


class NoBrowser(RuntimeError):
    """Debian's chromium is not installed: the browser tests fail (they never skip)."""


@contextmanager
def chromium() -> Iterator[Browser]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        raise NoBrowser(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium chromium-driver`; "
                        ".ci/run does) or set CHROMIUM")
    # Playwright gives each launch a fresh, throwaway profile (its own --user-data-dir).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
