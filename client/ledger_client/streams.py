"""Streams passed through unchanged, their call recorded once when they end.

`TrackedStream` (sync) and `AsyncTrackedStream` yield exactly the chunks or events of the stream
they wrap (any other attribute is the wrapped stream's), follow them with a `StreamReading`, and
call `on_end(reading, error, complete)` once: when the stream is exhausted (complete), when it
raises (error: the exception, re-raised to the caller unchanged), or when it is closed, left by a
`with` block or garbage-collected before its end (incomplete). `TrackedStreamManager` does the same
for the SDKs' stream managers (`client.messages.stream(...)`, `client.responses.stream(...)`,
`client.chat.completions.stream(...)`): entering it enters theirs and yields a tracked stream.

When the caller reads the wrapped stream by another way than iterating the wrapper (e.g. Anthropic's
`stream.text_stream` or `get_final_message()`, which iterate the SDK's stream itself), the usage is
taken at the end from the SDK's own snapshot of the message or completion.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ledger_client.responses import StreamReading, read
from ledger_client.throttled_log import logger

OnEnd = Callable[[StreamReading, Optional[BaseException], bool], None]


def _snapshot_reading(stream: Any, reading: StreamReading) -> None:
    """Fill a reading without usage from the SDK stream's own accumulated snapshot, if it has one."""
    if reading.reading is not None and reading.reading.usage:
        return
    for get in (lambda: stream.current_message_snapshot,  # anthropic MessageStream
                lambda: stream.current_completion_snapshot,  # openai ChatCompletionStream
                lambda: stream._state._completed_response):  # openai ResponseStream (set by response.completed)
        try:
            snapshot = get()
        except Exception:  # not this kind of stream, or nothing accumulated yet
            continue
        found = read(snapshot)
        if found is not None and found.usage:
            reading._take(found)
            return


class _Tracked:
    def __init__(self, stream: Any, on_end: OnEnd) -> None:
        self._stream = stream
        self._iterator: Any = None
        self._reading = StreamReading()
        self._on_end = on_end
        self._ended = False

    def _feed(self, item: Any) -> None:
        try:
            self._reading.feed(item)
        except Exception:  # reading a chunk must never break the caller's stream
            logger.debug("ledger_client: could not read a stream item", exc_info=True)

    def _end(self, error: Optional[BaseException] = None, complete: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            _snapshot_reading(self._stream, self._reading)
            self._on_end(self._reading, error, complete)
        except Exception:
            logger.exception("ledger_client: could not record a stream's call")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_stream", "_ended"):
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __del__(self) -> None:
        try:
            if not self._ended:
                self._end()
        except Exception:
            pass


class TrackedStream(_Tracked):
    def __iter__(self) -> TrackedStream:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        try:
            item = next(self._iterator)
        except StopIteration:
            self._end(complete=True)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._feed(item)
        return item

    def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if callable(close):
                close()
        finally:
            self._end()

    def __enter__(self) -> TrackedStream:
        enter = getattr(self._stream, "__enter__", None)
        if callable(enter):
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self._stream, "__exit__", None)
            return exit_(*exc_info) if callable(exit_) else None
        finally:
            self._end()


class AsyncTrackedStream(_Tracked):
    def __aiter__(self) -> AsyncTrackedStream:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        try:
            item = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._end(complete=True)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._feed(item)
        return item

    async def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None) or getattr(self._stream, "aclose", None)
            if callable(close):
                result = close()
                if hasattr(result, "__await__"):
                    await result
        finally:
            self._end()

    aclose = close

    async def __aenter__(self) -> AsyncTrackedStream:
        enter = getattr(self._stream, "__aenter__", None)
        if callable(enter):
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self._stream, "__aexit__", None)
            return (await exit_(*exc_info)) if callable(exit_) else None
        finally:
            self._end()


class TrackedStreamManager:
    """An SDK's stream manager whose `with` (or `async with`) yields a tracked stream."""

    def __init__(self, manager: Any, on_end: OnEnd) -> None:
        self._manager = manager
        self._on_end = on_end
        self._tracked: Optional[_Tracked] = None

    def __enter__(self) -> TrackedStream:
        self._tracked = TrackedStream(self._manager.__enter__(), self._on_end)
        return self._tracked

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            if self._tracked is not None:
                self._tracked._end()

    async def __aenter__(self) -> AsyncTrackedStream:
        self._tracked = AsyncTrackedStream(await self._manager.__aenter__(), self._on_end)
        return self._tracked

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc_info)
        finally:
            if self._tracked is not None:
                self._tracked._end()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_manager":
            raise AttributeError(name)
        return getattr(self._manager, name)


def kind_of_result(result: Any) -> str:
    """How a wrapped SDK call's result is tracked: "response", "stream", "async_stream", "manager",
    "awaitable" (a coroutine: awaited, then tracked) or "response" for anything else."""
    if read(result) is not None:
        return "response"
    if hasattr(result, "__anext__") or (hasattr(result, "__aiter__") and not hasattr(result, "__iter__")):
        return "async_stream"
    if hasattr(result, "__next__"):
        return "stream"
    if (hasattr(result, "__enter__") or hasattr(result, "__aenter__")) and type(result).__name__.endswith("Manager"):
        return "manager"
    if hasattr(result, "__await__"):
        return "awaitable"
    return "response"
