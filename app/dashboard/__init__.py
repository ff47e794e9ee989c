"""The dashboard at ``/``: spend at a glance, drilled down to the call.

The page and its scripts (``static/``, plain ES modules: no build step, no other host) hold no
data. The browser signs in with an API key (kept in the tab's sessionStorage), and every number it
shows comes from the REST API with that key — a company key sees its company only, as everywhere.
Money is shown as the API's exact decimal strings; where the page adds amounts (a month's running
total) it adds them exactly (``static/decimal.js``, BigInt), never in floats.
"""

from __future__ import annotations

import flask

bp = flask.Blueprint("dashboard", __name__, static_folder="static", static_url_path="/dashboard/static",
                     template_folder="templates")

# Nothing but this service: scripts, styles, images and API calls from 'self' only.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; connect-src 'self'; style-src 'self'; "
                           "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@bp.get("/")
def index() -> flask.Response:
    response = flask.make_response(flask.render_template("dashboard.html"))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    return response
