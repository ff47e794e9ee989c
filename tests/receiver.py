"""A real local webhook receiver for alert delivery tests: an HTTP server in a thread that keeps
every request it gets, answers `status`, and can be stopped and started again on the same port
(a receiver that is down, then back)."""

from __future__ import annotations

from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.local_http import LocalServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver(LocalServer):
    protocol = "HTTP/1.0"

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hooks/ledger"
        self.received: list[Received] = []
        self.status = 204

    def handle_post(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.received.append(Received({k.lower(): v for k, v in handler.headers.items()}, body))
        handler.send_response(self.status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
