"""An HTTP client for the measurements: one keep-alive connection per thread, timed requests.

`http.client` asks for keep-alive (HTTP/1.1). A server that closes the connection after a
response (gunicorn does after a batch, see app/gunicorn_conf.py) makes the next request open a new
one; that is part of the latency measured, as it would be for a real client. A request that finds
the connection already closed is sent again once on a new one (safe: every POST carries a
requestId).
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.auth.keys import create_key

RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    seconds: float
    headers: dict[str, str]


def use_platform_key(engine: Engine) -> str:
    """Make a platform key with every scope in the benchmark's database (committed) and send it
    with every request from now on; returns it."""
    with Session(engine) as session:
        secret = create_key(session, name="bench", company_id=None, scopes="ingest,read,admin").secret
        session.commit()
    Client.authorization = f"Bearer {secret}"
    return secret


class Client:
    authorization: str | None = None  # the Authorization header every request sends (use_platform_key)

    def __init__(self, host: str, port: int, *, timeout: float = 600) -> None:
        self._connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.authorization:
            headers["Authorization"] = self.authorization
        started = time.perf_counter()  # a retry's time counts in the latency
        for attempt in (1, 2):
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
            except RETRYABLE:
                self._connection.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
                continue
            return Response(response.status, data, time.perf_counter() - started, dict(response.getheaders()))
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, body: bytes) -> Response:
        return self.request("POST", path, body)

    def close(self) -> None:
        self._connection.close()
