"""The API reference at ``/docs``: Swagger UI over the service's own ``/openapi.json``.

Swagger UI's files come from the npm registry package ``swagger-ui-dist`` (version pinned in
package.json and package-lock.json) and are committed under ``static/swagger-ui`` by
``make assets``: the page works offline and asks no other host for anything (its validator badge,
which would call validator.swagger.io, is turned off, and a Content-Security-Policy forbids other
hosts). The page itself holds no data: "Authorize" takes an API key, and every request made from
it goes to this service with that key.
"""

from __future__ import annotations

import flask

bp = flask.Blueprint("reference", __name__, static_folder="static", static_url_path="/docs/static",
                     template_folder="templates")

# Swagger UI sets inline styles from its script; everything else is this service's own.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@bp.get("/docs")
def docs() -> flask.Response:
    response = flask.make_response(flask.render_template("reference.html"))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
