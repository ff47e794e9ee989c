"""The background sender: a bounded queue of calls and a daemon thread that posts them to
`POST /api/calls/batch`, retrying what may succeed later and dropping — counted, logged, handed to
`on_drop` — what never will.

- The queue holds at most `max_queue` calls. When it is full the NEW call is dropped
  (`dropped_queue_full`, a warning at most once a minute): what is queued keeps its order and its
  place, and the caller is never made to wait.
- A batch (up to `batch_size` calls) leaves when it is full, when its oldest call has waited
  `flush_interval`, or at `flush()` / `close()`. One batch is in flight at a time, in order.
- No answer (refused, reset, timed out), 408, 425, 429, 502, 503, 504: the same batch — the same
  bytes, the same requestIds, so the ledger stores each call once — is sent again after an
  exponential backoff with jitter (at least the `Retry-After` asked for), for as long as the client
  is open. Meanwhile new calls wait in the queue, up to `max_queue`.
- 500 (or another 5xx): "a retry will not help" in the ledger's words, unless it was passing: sent
  again twice, then the batch is split in halves to find the call behind it; that call is rejected.
- 400: the calls the answer names (`calls.<index>`) are rejected and the rest sent again at once;
  when it names none, the batch is split in halves until the bad call is alone. 413: split.
- 403 (the key may not write for a companyId): a batch of several companies is split by company;
  one company's calls are rejected. 401 and any other 4xx: the batch is rejected (a key or URL that
  is wrong for one call is wrong for all), logged as an error.
- `close(timeout)` (and the exit hook) sends what is queued until the timeout; what is still unsent
  then is dropped (`dropped_at_close`).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Deque, Dict, List, Optional

from ledger_client.throttled_log import ThrottledLog, logger
from ledger_client.transport import Answer, NetworkError, Transport

BATCH_PATH = "/api/calls/batch"
MAX_BATCH_CALLS = 10_000  # the ledger's bound (README, Bounds)
TRANSIENT = frozenset({408, 425, 429, 502, 503, 504})
SERVER_ERROR_ATTEMPTS = 3  # a 500 sent this many times, then the batch is split to find the call behind it
MAX_RETRY_AFTER = 300.0  # seconds: a longer Retry-After is taken as this
IDLE_EXIT = 30.0  # seconds without a call, after which the sender thread ends (the next call starts one)

OnDrop = Callable[[Dict[str, Any], str], None]

COUNTERS = ("enqueued", "sent", "stored", "duplicates", "retries", "rejected", "dropped_queue_full",
            "dropped_closed", "dropped_at_close", "unreadable", "usage_missing", "internal_errors")


@dataclass
class Queued:
    call: Dict[str, Any]
    at: float  # time.monotonic() when queued
    encoded: Optional[bytes] = field(default=None, repr=False)


class Closed(Exception):
    """The close deadline passed while a batch was still being sent."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits between half and all of
    min(maximum, base × 2^(n−1)), and never less than the Retry-After asked for."""

    base: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        ceiling = min(self.maximum, self.base * 2 ** min(attempt - 1, 30))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(wait, min(retry_after or 0.0, MAX_RETRY_AFTER))


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """`Retry-After` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


_CALL_KEY = re.compile(r"^calls\.(\d+)(?:\.|$)")


def bad_indices(answer: Answer, size: int) -> Optional[Dict[int, Any]]:
    """The calls a 400 names, index → its errors (`errors.json.calls.<i>`, or `calls.<i>.<field>`
    from the text check); None when the answer does not name calls only."""
    try:
        errors = json.loads(answer.body)["errors"]["json"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(errors, dict) or not errors:
        return None
    named: Dict[int, Any] = {}
    for key, value in errors.items():
        if key == "calls" and isinstance(value, dict) and value and all(str(k).isdigit() for k in value):
            named.update({int(k): v for k, v in value.items()})
        elif (match := _CALL_KEY.match(str(key))) is not None:  # the text check's "calls.3.userId"
            named.setdefault(int(match.group(1)), {})[key] = value
        else:
            return None
    return named if all(0 <= i < size for i in named) else None


def _detail(answer: Answer) -> str:
    text = answer.body[:2000].decode("utf-8", "replace")
    return f"{answer.status} {text}"


class Sender:
    def __init__(self, transport: Transport, *, batch_size: int, flush_interval: float, max_queue: int,
                 timeout: float, backoff: Backoff, on_drop: Optional[OnDrop]) -> None:
        self.transport = transport
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.timeout = timeout
        self.backoff = backoff
        self.on_drop = on_drop
        self.log = ThrottledLog()
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: Deque[Queued] = deque()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._in_flight = 0
        self._accepted = 0  # calls ever queued
        self._settled = 0  # of which sent, rejected or dropped since
        self._flushers = 0
        self._closing = False
        self._deadline: Optional[float] = None  # monotonic: when close() gives up
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()

    # --- the caller's side: never blocks for longer than a counter update, never raises ---

    def put(self, call: Dict[str, Any]) -> bool:
        """Queue `call`; False (counted, logged, handed to on_drop) when it was dropped instead."""
        if self._pid != os.getpid():
            self.after_fork()
        reason = None
        with self._lock:
            if self._closing:
                reason = "closed"
                self._counts["dropped_closed"] += 1
            elif len(self._queue) >= self.max_queue:
                reason = "queue_full"
                self._counts["dropped_queue_full"] += 1
            else:
                self._queue.append(Queued(call, time.monotonic()))
                self._accepted += 1
                self._counts["enqueued"] += 1
                if len(self._queue) >= self.batch_size:
                    self._changed.notify_all()
                if self._thread is None or not self._thread.is_alive():
                    self._start()
        if reason == "queue_full":
            self.log.log(30, "queue_full", "ledger_client: queue full (%d calls waiting): a call was dropped",
                         self.max_queue)
        elif reason == "closed":
            self.log.log(30, "closed", "ledger_client: a call was tracked after close(); dropped")
        if reason:
            self._dropped([call], reason)
            return False
        return True

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def stats(self) -> Dict[str, int]:
        with self._lock:
            return {**self._counts, "queued": len(self._queue) + self._in_flight}

    def flush(self, timeout: Optional[float]) -> bool:
        """Wait until every call queued before now is sent, rejected or dropped; False on timeout."""
        if threading.current_thread() is self._thread:
            return False  # from on_drop, in the sender's own thread: it cannot wait for itself
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            if self._settled >= target:
                return True
            if self._thread is None or not self._thread.is_alive():
                self._start()
            self._flushers += 1
            self._changed.notify_all()
            try:
                while self._settled < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._changed.wait(remaining)
                return True
            finally:
                self._flushers -= 1

    def close(self, timeout: Optional[float]) -> bool:
        """Send what is queued until `timeout`, then stop; what is left is dropped (counted)."""
        with self._lock:
            if self._pid != os.getpid():
                return True
            self._closing = True
            dropped_before = self._counts["dropped_at_close"]
            if timeout is not None:
                self._deadline = time.monotonic() + timeout
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(None if timeout is None else timeout + 1.0)
        elif thread is None or not thread.is_alive():
            self._run()  # no sender thread (never started, or shutting down): send from here
        with self._lock:
            left = list(self._queue)
            self._queue.clear()
        if left:
            self._abandon([queued.call for queued in left])
        self.transport.close()
        with self._lock:
            return self._counts["dropped_at_close"] == dropped_before and self._settled >= self._accepted

    def after_fork(self) -> None:
        """In a forked child: a fresh queue, lock and counters; the parent sends what it had queued."""
        self._reset()
        self.transport.reset()

    # --- the sender's side ---

    def _start(self) -> None:
        thread = threading.Thread(target=self._run, name="ledger-client-sender", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # at interpreter shutdown: close() sends from its own thread
            return
        self._thread = thread

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Closed:
                pass
            except Exception:  # a bug of ours must not stop the sender: the batch is dropped, counted
                logger.exception("ledger_client: internal error while sending a batch; %d calls dropped", len(batch))
                self.count("internal_errors")
                self._dropped([queued.call for queued in batch], "internal_error")
                self._settle(len(batch))
            finally:
                with self._lock:
                    self._in_flight = 0

    def _next_batch(self) -> Optional[List[Queued]]:
        with self._lock:
            while True:
                if self._closing and self._past_deadline():
                    return None  # close() drops what is left, at once
                if self._queue:
                    waited = time.monotonic() - self._queue[0].at
                    if len(self._queue) >= self.batch_size or self._flushers or self._closing \
                            or waited >= self.flush_interval:
                        batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                        self._in_flight = len(batch)
                        return batch
                    self._changed.wait(self.flush_interval - waited)
                elif self._closing:
                    return None
                elif not self._changed.wait(IDLE_EXIT) and not self._queue and self._thread is threading.current_thread():
                    self._thread = None  # idle: the thread ends, and the next call starts another
                    return None

    def _deliver(self, batch: List[Queued]) -> None:
        parts: Deque[List[Queued]] = deque([batch])
        try:
            while parts:
                self._send(parts.popleft(), parts)
        except Closed as closed:
            self._abandon([queued.call for part in (*closed.args, *parts) for queued in part])
            raise

    def _send(self, part: List[Queued], parts: Deque[List[Queued]]) -> None:
        """Send `part` until it is stored or rejected, or split it into `parts`."""
        attempt = server_errors = 0
        while part:
            if self._past_deadline():
                raise Closed(part)
            try:
                answer: Optional[Answer] = self.transport.post(BATCH_PATH, self._body(part), self._request_timeout())
                problem = _detail(answer)
            except NetworkError as exc:
                answer, problem = None, str(exc)
            status = answer.status if answer is not None else None
            if status is not None and 200 <= status < 300:
                self._stored(part, answer)
                return
            if status is None or status in TRANSIENT:
                pass  # retried below
            elif status >= 500:
                server_errors += 1
                if server_errors >= SERVER_ERROR_ATTEMPTS:
                    self._split_or_reject(part, parts, problem)
                    return
            elif status == 400:
                named = bad_indices(answer, len(part))
                if not named:
                    self._split_or_reject(part, parts, problem)
                    return
                for index, errors in sorted(named.items()):
                    self._reject([part[index]], f"400 {json.dumps(errors)[:2000]}")
                part = [queued for index, queued in enumerate(part) if index not in named]
                attempt = server_errors = 0
                continue
            elif status == 413:
                self._split_or_reject(part, parts, problem)
                return
            elif status == 403 and len({queued.call.get("companyId") for queued in part}) > 1:
                companies: Dict[Any, List[Queued]] = {}
                for queued in part:
                    companies.setdefault(queued.call.get("companyId"), []).append(queued)
                parts.extendleft(reversed(list(companies.values())))
                return
            else:  # 401, 403 for one company, 404, 415, …: the same for every call; a retry will not help
                self._reject(part, problem)
                return
            attempt += 1
            self.count("retries")
            delay = self.backoff.delay(attempt, retry_after_seconds(answer.retry_after) if answer else None)
            self.log.log(30, "retry", "ledger_client: the ledger did not take a batch of %d calls (%s); "
                                      "sending it again in %.1f s", len(part), problem[:300], delay)
            if not self._sleep(delay):
                raise Closed(part)

    def _split_or_reject(self, part: List[Queued], parts: Deque[List[Queued]], problem: str) -> None:
        if len(part) > 1:
            half = len(part) // 2
            parts.extendleft([part[half:], part[:half]])
        else:
            self._reject(part, problem)

    def _body(self, part: List[Queued]) -> bytes:
        encoded = []
        for queued in part:
            if queued.encoded is None:
                queued.encoded = json.dumps(queued.call, separators=(",", ":"), default=str).encode()
            encoded.append(queued.encoded)
        return b'{"calls":[' + b",".join(encoded) + b"]}"

    def _stored(self, part: List[Queued], answer: Answer) -> None:
        try:
            body = json.loads(answer.body)
            stored, duplicates = int(body["stored"]), int(body["duplicates"])
        except (ValueError, KeyError, TypeError):
            stored, duplicates = len(part), 0
        with self._lock:
            self._counts["sent"] += len(part)
            self._counts["stored"] += stored
            self._counts["duplicates"] += duplicates
        self._settle(len(part))

    def _reject(self, part: List[Queued], problem: str) -> None:
        self.count("rejected", len(part))
        self.log.log(40, "rejected", "ledger_client: the ledger refused %d call(s), which are dropped: %s",
                     len(part), problem[:2000])
        self._dropped([queued.call for queued in part], "rejected")
        self._settle(len(part))

    def _abandon(self, calls: List[Dict[str, Any]]) -> None:
        if not calls:
            return
        self.count("dropped_at_close", len(calls))
        logger.warning("ledger_client: closed with %d call(s) not sent; dropped", len(calls))
        self._dropped(calls, "closed_unsent")
        self._settle(len(calls))

    def _dropped(self, calls: List[Dict[str, Any]], reason: str) -> None:
        if self.on_drop is None:
            return
        for call in calls:
            try:
                self.on_drop(call, reason)
            except Exception:
                logger.exception("ledger_client: on_drop raised")

    def _settle(self, n: int) -> None:
        with self._lock:
            self._settled += n
            self._changed.notify_all()

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _request_timeout(self) -> float:
        if self._deadline is None:
            return self.timeout
        return max(0.1, min(self.timeout, self._deadline - time.monotonic()))

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` (woken early only to give up); False when the close deadline passed."""
        until = time.monotonic() + seconds
        with self._lock:
            while True:
                now = time.monotonic()
                if self._deadline is not None and now >= self._deadline:
                    return False
                if now >= until:
                    return True
                end = until if self._deadline is None else min(until, self._deadline)
                self._changed.wait(end - now)


# Every live sender, for the exit hook and the fork hook (weak: a client nobody holds may go).
_LIVE: "weakref.WeakSet[Sender]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sender in list(_LIVE):
        sender.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
