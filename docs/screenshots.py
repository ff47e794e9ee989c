"""``make screenshots``: the dashboard's pages and the API reference, photographed into docs/screenshots/.

A fresh database (the test suite's choice of server: TEST_DATABASE_URL, else a throwaway cluster),
migrated, priced, with two budgets and `flask costs demo`'s 20,000 calls of three companies over
90 days; a real gunicorn; Debian's Chromium at 1400 × 1000 (tests/browser.py). Run it from the
repository's root after changing the dashboard.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import flask_cli, fresh_service  # noqa: E402
from tests.browser import chromium  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CALLS = int(os.environ.get("SCREENSHOT_CALLS", "20000"))
PAGES = [("overview", "#/overview"), ("peaks", "#/peaks"), ("records", "#/records?model=claude-sonnet-4-5"),
         ("docs", None)]


def post(base: str, key: str, path: str, body: dict) -> None:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with fresh_service("screenshots", "ingest,read,admin") as service:
        base, key = service.base, service.key
        post(base, key, "/api/budgets", {"companyId": "acme-corp", "limit": "2", "period": "month"})
        post(base, key, "/api/budgets", {"companyId": "acme-corp", "assistantId": "acme-code-review",
                                         "limit": "1", "period": "day"})
        flask_cli(service.database_url, "demo", "--calls", str(CALLS))
        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="Europe/Berlin")
            page = context.new_page()
            page.goto(base + "/")
            page.fill("#api-key", key)
            page.click("#sign-in-form button[type=submit]")
            page.wait_for_selector("#nav:not([hidden])")
            for name, route in PAGES:
                if route is None:
                    page.goto(f"{base}/docs")
                    page.wait_for_selector(".opblock-summary-path")
                else:
                    page.goto(f"{base}/{route}")
                    page.wait_for_function("() => [...document.querySelectorAll('.card')].length && "
                                           "[...document.querySelectorAll('.card')].every(c => c.dataset.state !== 'loading')")
                target = OUT / f"{name}.png"
                page.screenshot(path=str(target), full_page=name != "docs")
                print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
