"""Local HTTP servers for tests (a webhook receiver, fake LLM providers, a stand-in ledger): a
`ThreadingHTTPServer` on 127.0.0.1 in a daemon thread that hands each POST to `handle_post`, and can
be stopped and started again on the same port (a peer that is down, then back)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.server import free_port


class LocalServer:
    protocol = "HTTP/1.1"  # keep-alive, as the SDKs and the client expect

    def __init__(self) -> None:
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    def handle_post(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = server.protocol

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                server.handle_post(self, self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def send_json(handler: BaseHTTPRequestHandler, body: Any, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
    """Answer `status` with `body` (bytes as they are, anything else as JSON)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
