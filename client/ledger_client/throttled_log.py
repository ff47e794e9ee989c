"""Log lines that could repeat at the rate of an application's calls (a full queue, a ledger that is
down), at most once per interval for each kind, saying how many were held back."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, Tuple

logger = logging.getLogger("ledger_client")


class ThrottledLog:
    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: Dict[str, Tuple[float, int]] = {}  # kind → (when last logged, held back since)

    def log(self, level: int, kind: str, message: str, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last, held = self._last.get(kind, (None, 0))
            if last is not None and now - last < self.interval:
                self._last[kind] = (last, held + 1)
                return
            self._last[kind] = (now, 0)
        if held:
            message += " (%d more like this in the last %.0f s not logged)"
            args = (*args, held, self.interval)
        logger.log(level, message, *args, **kwargs)
