"""The one place HTTP is spoken: POST a JSON body to the ledger with urllib3 (no retries of its own:
the sender decides), answering the status, the headers it needs and the body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import urllib3

from ledger_client import __version__


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: Optional[str]


class NetworkError(Exception):
    """No answer: refused, reset, timed out, unreadable."""


class Transport:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
                         "User-Agent": f"llm-ledger-client/{__version__}"}
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=1, retries=False)

    def post(self, path: str, body: bytes, timeout: float) -> Answer:
        try:
            response = self._pool.request(
                "POST", self.base_url + path, body=body, headers=self._headers, retries=False,
                timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout), redirect=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
        return Answer(response.status, response.data or b"", response.headers.get("Retry-After"))

    def reset(self) -> None:
        """A new pool (after a fork: the parent's sockets are not the child's to use)."""
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=1, retries=False)

    def close(self) -> None:
        self._pool.clear()
