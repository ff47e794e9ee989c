"""A stand-in for the ledger's HTTP side, for the client's reliability tests: it answers each request
by a script — a status of its own (503 with Retry-After, 500, 401…), or the real ledger's answer
(forwarded to `upstream`), or the real ledger's work with the answer lost (forwarded, then the
connection dropped) — and keeps every request body it got. With nothing left in the script it
forwards (or, without upstream, answers as the ledger would that every call was stored)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import LocalServer, send_json

FORWARD = "forward"
LOSE_ANSWER = "lose-answer"  # the ledger stores the batch; its answer never reaches the client


class LedgerDouble(LocalServer):
    def __init__(self, upstream: str | None = None) -> None:
        super().__init__()
        self.upstream = upstream
        self.url = f"http://127.0.0.1:{self.port}"
        self.script: deque[Any] = deque()
        self.bodies: list[dict] = []  # every request body, in order
        self.answers: list[int] = []  # the status each got (0: none, the connection dropped)
        self.gate = threading.Event()  # cleared: requests wait (a ledger that hangs) until set
        self.gate.set()
        self._lock = threading.Lock()

    def handle_post(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        self.gate.wait(30)
        with self._lock:
            self.bodies.append(json.loads(raw))
            action = self.script.popleft() if self.script else FORWARD
        self._answer(handler, action, raw)

    def stop(self) -> None:
        self.gate.set()
        super().stop()

    def request_ids(self) -> list[list[str]]:
        """The requestIds of each request, in order."""
        return [[call["requestId"] for call in body["calls"]] for body in self.bodies]

    def _answer(self, handler: BaseHTTPRequestHandler, action: Any, raw: bytes) -> None:
        if action in (FORWARD, LOSE_ANSWER) and self.upstream:
            status, body = self._forward(handler, raw)
            if action == LOSE_ANSWER:
                self.answers.append(0)
                handler.close_connection = True
                handler.connection.close()
                return
            return self._reply(handler, status, body)
        if action in (FORWARD, LOSE_ANSWER):  # no upstream: every call stored
            calls = json.loads(raw)["calls"]
            return self._reply(handler, 200, json.dumps({"stored": len(calls), "duplicates": 0, "budgets": [],
                                                         "calls": []}).encode())
        status, body, headers = action if isinstance(action, tuple) else (action, b'{"code": %d}' % action, {})
        if status == 503 and not headers:
            headers = {"Retry-After": "0"}
        return self._reply(handler, status, body, headers)

    def _forward(self, handler: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(self.upstream + handler.path, data=raw, method="POST", headers={
            "Content-Type": "application/json", "Authorization": handler.headers["Authorization"]})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: bytes,
               headers: dict[str, str] | None = None) -> None:
        self.answers.append(status)
        send_json(handler, body, status, headers)
