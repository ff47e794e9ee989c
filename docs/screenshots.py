"""``make screenshots``: the dashboard's pages and the API reference, photographed into docs/screenshots/.

A fresh database (the test suite's choice of server: TEST_DATABASE_URL, else a throwaway cluster),
migrated, priced, with two budgets and `flask costs demo`'s 20,000 calls of three companies over
90 days; a real gunicorn; Debian's Chromium at 1400 × 1000 (tests/browser.py). Run it from the
repository's root after changing the dashboard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import gunicorn  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.pg import fresh_database, server_url  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CALLS = int(os.environ.get("SCREENSHOT_CALLS", "20000"))
PAGES = [("overview", "#/overview"), ("peaks", "#/peaks"), ("records", "#/records?model=claude-sonnet-4-5"),
         ("docs", None)]


def flask(url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "costs", *args], cwd=ROOT, check=True,
                          env=os.environ | {"DATABASE_URL": url}, capture_output=True, text=True)
    return done.stdout


def post(base: str, key: str, path: str, body: dict) -> None:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with server_url() as (server, where), fresh_database(server) as url:
        print(f"database: {where}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, check=True,
                       env=os.environ | {"DATABASE_URL": url}, capture_output=True)
        flask(url, "prices", "sync")
        key = flask(url, "keys", "create", "--name", "screenshots", "--scopes", "ingest,read,admin").strip().splitlines()[-1]
        with tempfile.TemporaryDirectory() as scratch, \
                gunicorn(url, workers=2, log_path=Path(scratch) / "gunicorn.log",
                         env={"ALERT_DELIVERY": "off"}) as (host, port, _):
            base = f"http://{host}:{port}"
            post(base, key, "/api/budgets", {"companyId": "acme-corp", "limit": "2", "period": "month"})
            post(base, key, "/api/budgets", {"companyId": "acme-corp", "assistantId": "acme-code-review",
                                             "limit": "1", "period": "day"})
            flask(url, "demo", "--calls", str(CALLS))
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
