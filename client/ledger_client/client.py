"""`LedgerClient`: the calls of a Python service, recorded in the ledger without getting in its way.

`track()` reads an SDK response (ledger_client.responses), makes the call the ledger's
`POST /api/calls/batch` takes and queues it (ledger_client.sender); `timed()` times a call and
records it, or its failure; `track_stream()` passes a stream through and records it at its end
(ledger_client.streams). Nothing here raises into the caller or waits on the network: a problem of
the client's own is logged and counted in `stats()`.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import sys
import time
import uuid
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Optional, Union

from ledger_client.responses import Reading, StreamReading, read
from ledger_client.sender import MAX_BATCH_CALLS, Backoff, OnDrop, Sender
from ledger_client.streams import AsyncTrackedStream, TrackedStream, TrackedStreamManager, kind_of_result
from ledger_client.throttled_log import logger
from ledger_client.transport import Transport

MAX_ERROR = 10_000  # characters: the ledger's bound on `error`
UNKNOWN = "unknown"  # model (or provider) of a failed call nothing told

# The SDK a failed call's exception (or the wrapped function) comes from → the provider.
_PROVIDER_OF_MODULE = (("openai", "openai"), ("anthropic", "anthropic"), ("google.genai", "google"),
                       ("google.generativeai", "google"))

# A call's attribution (user, assistant, assistant_name, endpoint, company, metadata), provider and model
# that override the response's (track's), and provider_hint and model_hint for what it does not say (timed's).
_Who = Dict[str, Any]


class LedgerClient:
    """Records LLM calls in the ledger at `base_url` with an API key holding the `ingest` scope.

    One client per process is meant to be shared by every thread (it is thread-safe; a forked
    child starts its own queue). Calls are sent in the background in batches of up to `batch_size`,
    at least every `flush_interval` seconds; at most `max_queue` wait (then new calls are dropped,
    counted, and handed to `on_drop(call, reason)` if given). At interpreter exit what is queued is
    sent for up to `exit_timeout` seconds.
    """

    def __init__(self, base_url: str, api_key: str, *, company: Optional[str] = None, batch_size: int = 500,
                 flush_interval: float = 1.0, max_queue: int = 10_000, timeout: float = 10.0,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, exit_timeout: float = 5.0,
                 on_drop: Optional[OnDrop] = None) -> None:
        if not 1 <= batch_size <= MAX_BATCH_CALLS:
            raise ValueError(f"batch_size must be 1 … {MAX_BATCH_CALLS:,} (the ledger's batch limit)")
        if max_queue < 1 or flush_interval < 0 or timeout <= 0 or backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("max_queue ≥ 1, flush_interval ≥ 0, timeout > 0 and 0 < backoff_base ≤ backoff_max")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL (got {base_url!r})")
        self.company = company
        self.exit_timeout = exit_timeout
        self._sender = Sender(Transport(base_url, api_key), batch_size=batch_size, flush_interval=flush_interval,
                              max_queue=max_queue, timeout=timeout, backoff=Backoff(backoff_base, backoff_max),
                              on_drop=on_drop)
        _EXIT_TIMEOUTS[self._sender] = exit_timeout

    # --- recording ---

    def track(self, response: Any, *, user: Optional[str] = None, assistant: Optional[str] = None,
              assistant_name: Optional[str] = None, endpoint: Optional[str] = None, company: Optional[str] = None,
              provider: Optional[str] = None, model: Optional[str] = None, duration_ms: Optional[float] = None,
              timestamp: Optional[datetime] = None, request_id: Optional[str] = None,
              metadata: Optional[Dict[str, Any]] = None, success: bool = True,
              error: Union[None, str, BaseException] = None) -> Optional[str]:
        """Record the call `response` tells of (an SDK response object, or its JSON as a dict);
        returns its requestId, or None when it was not queued (dropped, or unreadable: logged and
        counted). `provider`/`model` override what the response says (e.g. "azure" for Azure
        OpenAI). `response=None` with `success=False` records a failed call with no tokens.
        Never raises, never waits."""
        who = dict(user=user, assistant=assistant, assistant_name=assistant_name, endpoint=endpoint,
                   company=company, provider=provider, model=model, metadata=metadata)
        return self._track(response, who, duration_ms=duration_ms, timestamp=timestamp, request_id=request_id,
                           success=success, error=error)

    def track_stream(self, stream: Any, *, user: Optional[str] = None, assistant: Optional[str] = None,
                     assistant_name: Optional[str] = None, endpoint: Optional[str] = None,
                     company: Optional[str] = None, provider: Optional[str] = None, model: Optional[str] = None,
                     metadata: Optional[Dict[str, Any]] = None, started: Optional[float] = None,
                     timestamp: Optional[datetime] = None) -> Any:
        """`stream` (an SDK stream, sync or async, or a stream manager) passed through unchanged;
        its call is recorded when it ends, timed from now (or from `started`, a `time.perf_counter()`
        reading, and `timestamp`). OpenAI chat streams carry usage only with
        `stream_options={"include_usage": True}`."""
        who = dict(user=user, assistant=assistant, assistant_name=assistant_name, endpoint=endpoint,
                   company=company, provider=provider, model=model, metadata=metadata)
        try:
            kind = kind_of_result(stream)
            if kind == "response":  # not a stream after all: recorded as the response it is
                self._track(stream, who)
                return stream
            return self._wrap(stream, kind, who, started, timestamp)
        except Exception:
            self._internal_error()
            return stream

    def timed(self, *, user: Optional[str] = None, assistant: Optional[str] = None,
              assistant_name: Optional[str] = None, endpoint: Optional[str] = None, company: Optional[str] = None,
              provider: Optional[str] = None, model: Optional[str] = None,
              metadata: Optional[Dict[str, Any]] = None) -> Timed:
        """A decorator and a context manager that times an SDK call and records it — or, when it
        raises, records a failed call with the error and re-raises the exception unchanged.
        `provider` and `model` are for what the response does not say (a failed call's model is
        otherwise the wrapped call's `model=` argument, its provider the SDK that raised).

            create = ledger.timed(user="u1")(openai_client.chat.completions.create)
            create(model="gpt-4o", messages=[...])             # recorded; streams too

            with ledger.timed(user="u1", model="gpt-4o") as call:
                call.track(openai_client.chat.completions.create(model="gpt-4o", messages=[...]))
        """
        return Timed(self, dict(user=user, assistant=assistant, assistant_name=assistant_name, endpoint=endpoint,
                                company=company, provider_hint=provider, model_hint=model, metadata=metadata))

    # --- the queue ---

    def flush(self, timeout: Optional[float] = 10.0) -> bool:
        """Wait (at most `timeout` seconds) until every call tracked so far is sent or dropped;
        False when the time ran out. The only method that waits, and only when asked to."""
        try:
            return self._sender.flush(timeout)
        except Exception:
            self._internal_error()
            return False

    def close(self, timeout: Optional[float] = 10.0) -> bool:
        """Send what is queued (at most `timeout` seconds) and stop; calls tracked afterwards are
        dropped (counted). True when nothing was left unsent."""
        try:
            _EXIT_TIMEOUTS.pop(self._sender, None)
            return self._sender.close(timeout)
        except Exception:
            self._internal_error()
            return False

    def stats(self) -> Dict[str, int]:
        """Counters since the client was made (or the process forked): enqueued, sent (acknowledged
        by the ledger: stored + duplicates), stored, duplicates (retries the ledger had already
        stored), retries (batches sent again), rejected (refused by the ledger, never retried),
        dropped_queue_full, dropped_closed (tracked after close), dropped_at_close (unsent when
        close's time ran out), unreadable (track() given no usage), usage_missing (streams that
        ended without usage, recorded with zero tokens), internal_errors; and queued (now)."""
        return self._sender.stats()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- making calls ---

    def _track(self, response: Any, who: _Who, *, duration_ms: Optional[float] = None,
               timestamp: Optional[datetime] = None, request_id: Optional[str] = None, success: bool = True,
               error: Any = None) -> Optional[str]:
        try:
            if response is None:
                if success:
                    self._sender.count("unreadable")
                    logger.warning("ledger_client: track(None) without success=False: nothing to record")
                    return None
                return self._failure(error, who, duration_ms=duration_ms, timestamp=timestamp, request_id=request_id)
            reading = read(response)
            if reading is None or not reading.usage:
                self._sender.count("unreadable")
                self._sender.log.log(30, "unreadable", "ledger_client: cannot read the usage of a %s; not recorded",
                                     type(response).__name__)
                return None
            return self._record(reading, who, duration_ms=duration_ms, timestamp=timestamp, request_id=request_id,
                                success=success and reading.success, error=error if error is not None else reading.error)
        except Exception:
            return self._internal_error()

    def _record(self, reading: Reading, who: _Who, *, duration_ms: Optional[float], timestamp: Optional[datetime],
                request_id: Optional[str], success: bool, error: Any,
                extra_metadata: Optional[Dict[str, Any]] = None) -> Optional[str]:
        call: Dict[str, Any] = {  # what the caller says, else what the response says, else what is known
            "provider": who.get("provider") or reading.provider or who.get("provider_hint") or UNKNOWN,
            "model": who.get("model") or reading.model or who.get("model_hint") or UNKNOWN,
        }
        if reading.usage:
            call["usage"], call["usageFormat"] = reading.usage, reading.usage_format
        else:
            call["inputTokens"], call["outputTokens"] = 0, 0
        if reading.service_tier:
            call["serviceTier"] = reading.service_tier
        metadata = dict(who.get("metadata") or {})
        if reading.response_id and "responseId" not in metadata:
            metadata["responseId"] = reading.response_id
        metadata.update(extra_metadata or {})
        return self._enqueue(call, who, duration_ms=duration_ms, timestamp=timestamp, request_id=request_id,
                             success=success, error=error, metadata=metadata)

    def _failure(self, error: Any, who: _Who, *, duration_ms: Optional[float], timestamp: Optional[datetime],
                 request_id: Optional[str] = None, hint: Optional[Any] = None) -> Optional[str]:
        """A failed call: no tokens; provider and model from what is known."""
        provider = who.get("provider") or who.get("provider_hint") or _provider_of(error) or _provider_of(hint)
        reading = Reading(provider, who.get("model") or who.get("model_hint"), None, None)
        return self._record(reading, who, duration_ms=duration_ms, timestamp=timestamp,
                            request_id=request_id, success=False, error=error if error is not None else "failed")

    def _enqueue(self, call: Dict[str, Any], who: _Who, *, duration_ms: Optional[float],
                 timestamp: Optional[datetime], request_id: Optional[str], success: bool, error: Any,
                 metadata: Dict[str, Any]) -> Optional[str]:
        now = datetime.now(timezone.utc)
        if timestamp is None:  # when the call started
            timestamp = now - timedelta(milliseconds=duration_ms or 0)
        elif timestamp.tzinfo is None:
            timestamp = timestamp.astimezone()  # a naive time is the machine's local time
        call["timestamp"] = timestamp.astimezone(timezone.utc).isoformat()
        if duration_ms is not None:
            call["durationMs"] = max(0, int(round(duration_ms)))
        call["success"] = bool(success)
        if not success or error is not None:
            call["error"] = _error_text(error) if error is not None else None
        for key, name in (("company", "companyId"), ("user", "userId"), ("assistant", "assistantId"),
                          ("assistant_name", "assistantName"), ("endpoint", "endpoint")):
            value = who.get(key) if key != "company" else (who.get("company") or self.company)
            if value is not None:
                call[name] = str(value)
        call["requestId"] = request_id or str(uuid.uuid4())  # the idempotency key, the same in every retry
        if metadata:
            call["metadata"] = metadata
        if _forked:
            _close_at_exit_of_multiprocessing_child()
        return call["requestId"] if self._sender.put(call) else None

    def _stream_ended(self, who: _Who, started: float, timestamp: datetime, reading: StreamReading,
                      error: Optional[BaseException], complete: bool) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        found = reading.reading
        if error is not None and not (found and found.usage):
            self._failure(error, {**who, "model_hint": (found.model if found else None) or who.get("model_hint"),
                                  "provider_hint": (found.provider if found else None) or who.get("provider_hint")},
                          duration_ms=duration_ms, timestamp=timestamp)
            return
        if found is None:
            found = Reading(None, None, None, None)
        extra: Dict[str, Any] = {}
        if not complete and error is None:
            extra["streamIncomplete"] = True  # closed, or left, by the caller before its end
        if not found.usage:
            extra["usageMissing"] = True
            self._sender.count("usage_missing")
            self._sender.log.log(30, "usage_missing", "ledger_client: a %s stream ended without usage (for OpenAI "
                                 "chat, pass stream_options={'include_usage': True}); recorded with zero tokens",
                                 found.provider or "LLM")
        self._record(found, who, duration_ms=duration_ms, timestamp=timestamp, request_id=None,
                     success=error is None and found.success and not reading.error,
                     error=error if error is not None else (reading.error or found.error), extra_metadata=extra)

    def _wrap(self, result: Any, kind: str, who: _Who, started: Optional[float],
              timestamp: Optional[datetime]) -> Any:
        started = time.perf_counter() if started is None else started
        timestamp = timestamp or datetime.now(timezone.utc)
        on_end = functools.partial(self._stream_ended, who, started, timestamp)
        if kind == "stream":
            return TrackedStream(result, on_end)
        if kind == "async_stream":
            return AsyncTrackedStream(result, on_end)
        if kind == "manager":
            return TrackedStreamManager(result, on_end)
        return result

    def _internal_error(self) -> None:
        try:
            self._sender.count("internal_errors")
            self._sender.log.log(40, "internal", "ledger_client: internal error; the call is not recorded",
                                 exc_info=True)
        except Exception:
            pass
        return None


class Timed:
    """`LedgerClient.timed(...)`: a context manager, and a decorator of functions (sync or async)."""

    def __init__(self, client: LedgerClient, who: _Who) -> None:
        self._client = client
        self._who = who
        self._response: Any = None
        self._stream: Any = None
        self._started: Optional[float] = None
        self._timestamp: Optional[datetime] = None

    # --- as a context manager ---

    def __enter__(self) -> Timed:
        self._response = self._stream = None
        self._started, self._timestamp = time.perf_counter(), datetime.now(timezone.utc)
        return self

    def track(self, response: Any) -> Any:
        """The response of the timed call (returned as is); a stream is returned tracked."""
        try:
            kind = kind_of_result(response)
            if kind in ("stream", "async_stream", "manager"):
                self._stream = self._client._wrap(response, kind, self._who, self._started, self._timestamp)
                return self._stream
        except Exception:
            self._client._internal_error()
            return response
        self._response = response
        return response

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        try:
            duration_ms = (time.perf_counter() - (self._started or time.perf_counter())) * 1000
            # Only what the SDK call raised is a failed call: an exception of the caller's own after
            # the response came is not (the tokens were spent); it goes on unchanged either way.
            if self._stream is not None:
                if exc is not None and isinstance(self._stream, (TrackedStream, AsyncTrackedStream)):
                    self._stream._end()  # left by an exception (a stream's own has ended it already)
                # else: recorded by the stream when it ends, which may be after this block
            elif self._response is not None:
                self._client._track(self._response, self._who, duration_ms=duration_ms, timestamp=self._timestamp)
            elif exc is not None and isinstance(exc, Exception):
                self._client._failure(exc, self._who, duration_ms=duration_ms, timestamp=self._timestamp)
            elif exc is None:
                self._client._sender.count("unreadable")
                logger.warning("ledger_client: a timed() block ended without call.track(response); nothing recorded")
        except Exception:
            self._client._internal_error()
        return False  # the caller's exception, if any, goes on unchanged

    async def __aenter__(self) -> Timed:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # --- as a decorator ---

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        client, who = self._client, self._who

        def before(kwargs: Dict[str, Any]) -> _Who:
            model = kwargs.get("model")  # the SDKs' model= (a failed call's model, if timed() was not told one)
            return {**who, "model_hint": who.get("model_hint") or (model if isinstance(model, str) else None)}

        def after(result: Any, call_who: _Who, started: float, timestamp: datetime) -> Any:
            try:
                kind = kind_of_result(result)
                if kind in ("stream", "async_stream", "manager"):
                    return client._wrap(result, kind, call_who, started, timestamp)
                client._track(result, call_who, duration_ms=(time.perf_counter() - started) * 1000,
                              timestamp=timestamp)
            except Exception:
                client._internal_error()
            return result

        def failed(exc: BaseException, call_who: _Who, started: float, timestamp: datetime) -> None:
            try:
                client._failure(exc, call_who, duration_ms=(time.perf_counter() - started) * 1000,
                                timestamp=timestamp, hint=fn)
            except Exception:
                client._internal_error()

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                call_who, started, timestamp = before(kwargs), time.perf_counter(), datetime.now(timezone.utc)
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    failed(exc, call_who, started, timestamp)
                    raise
                return after(result, call_who, started, timestamp)
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call_who, started, timestamp = before(kwargs), time.perf_counter(), datetime.now(timezone.utc)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                failed(exc, call_who, started, timestamp)
                raise
            if kind_of_result(result) == "awaitable":  # an async SDK method not marked as a coroutine function
                return _awaited(result, after, failed, call_who, started, timestamp)
            return after(result, call_who, started, timestamp)
        return wrapper


async def _awaited(awaitable: Any, after: Callable[..., Any], failed: Callable[..., None], who: _Who,
                   started: float, timestamp: datetime) -> Any:
    try:
        result = await awaitable
    except Exception as exc:
        failed(exc, who, started, timestamp)
        raise
    return after(result, who, started, timestamp)


def _provider_of(thing: Any) -> Optional[str]:
    """The provider whose SDK raised `thing` (an exception) or defines it (a function)."""
    if thing is None or isinstance(thing, str):
        return None
    module = getattr(thing, "__module__", None) or type(thing).__module__ or ""
    for prefix, provider in _PROVIDER_OF_MODULE:
        if module == prefix or module.startswith(prefix + "."):
            return provider
    return None


def _error_text(error: Any) -> str:
    """The error as the ledger stores it: "Type: message", at most 10,000 characters of text
    PostgreSQL can store (no NUL, no lone surrogate)."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    text = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text[:MAX_ERROR]


# Each open client's sender → its exit timeout: at exit each is closed (sends what it holds, for so long).
_EXIT_TIMEOUTS: "weakref.WeakKeyDictionary[Sender, float]" = weakref.WeakKeyDictionary()


def _close_at_exit() -> None:
    while _EXIT_TIMEOUTS:
        try:
            sender, timeout = _EXIT_TIMEOUTS.popitem()
            sender.close(timeout)
        except KeyError:
            break
        except Exception:
            logger.exception("ledger_client: could not close at exit")


_forked = False  # in a forked child that has not yet tracked a call


def _forked_child() -> None:
    global _forked
    _forked = True


def _close_at_exit_of_multiprocessing_child() -> None:
    """At the first call tracked in a forked child: multiprocessing's children end with os._exit,
    which skips atexit; the finalizers it runs before that close the clients instead. (Registered
    now, not at the fork: multiprocessing clears them in the child before running its target.)"""
    global _forked
    _forked = False
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        try:
            util.Finalize(None, _close_at_exit, exitpriority=0)
        except Exception:
            logger.debug("ledger_client: no multiprocessing finalizer", exc_info=True)


atexit.register(_close_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)
