"""Counts and times ingest requests at the WSGI edge: every answer, whatever produced it (the
handler, the key check's 401/403, a 400/413/415 before the handler, a 503), from the moment the
request reaches the app to the moment its answer is ready (:mod:`app.metrics.instruments`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.metrics import instruments

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class IngestRequests:
    """WSGI middleware: POST requests to `paths` (path → endpoint label) are counted by status
    code and timed; anything else passes through untouched."""

    def __init__(self, app: WsgiApp, paths: Mapping[str, str]) -> None:
        self._app = app
        self._paths = dict(paths)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        endpoint = self._paths.get(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if endpoint is None:
            return self._app(environ, start_response)
        started = time.perf_counter()
        code = "500"  # an exception that escapes the app: the server answers 500

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal code
            code = status.partition(" ")[0]
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)
        finally:
            instruments.ingest_request(endpoint, code, time.perf_counter() - started)
