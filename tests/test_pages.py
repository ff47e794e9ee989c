"""The dashboard's and the API reference's pages, without a browser: public shells (no data), a
self-only Content-Security-Policy, every file they load served, and the committed Swagger UI files
the version package-lock.json pins (tests/test_dashboard.py drives them in Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_are_public_shells_under_a_self_only_policy(app, path):
    response = app.test_client().get(path)  # no key
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy
    page = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page)
    assert assets and not re.search(r'(?:src|href)="https?://', page)
    for asset in assets:
        if asset != "/docs":
            assert app.test_client().get(asset).status_code == 200, asset


def test_every_module_the_dashboard_imports_is_served(app):
    static = ROOT / "app" / "dashboard" / "static"
    client = app.test_client()
    for module in static.glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', module.read_text()):
            assert (static / imported).exists(), f"{module.name} imports {imported}"
        response = client.get(f"/dashboard/static/{module.name}")
        assert response.status_code == 200 and "javascript" in response.mimetype


def test_api_data_still_needs_a_key(app):
    assert app.test_client().get("/api/costs/summary").status_code == 401


def test_committed_swagger_ui_is_the_pinned_package():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    assert json.loads((ROOT / "package.json").read_text())["devDependencies"]["swagger-ui-dist"] == pinned
    committed = ROOT / "app" / "reference" / "static" / "swagger-ui"
    assert (committed / "VERSION").read_text().strip() == f"swagger-ui-dist {pinned}"
    assert {path.name for path in committed.iterdir()} >= {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"}
