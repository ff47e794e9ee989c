"""Timing: concurrent ingest over HTTP, and each analytics question ours vs naive.

Request bodies are serialised before any clock starts; a latency is the client's view (send,
server work, read the whole answer). Percentiles are nearest-rank.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.client import Client, Response
from bench.questions import Question


@dataclass(frozen=True)
class Latencies:
    seconds: tuple[float, ...]  # sorted

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latencies:
        return cls(tuple(sorted(samples)))

    def ms(self, percent: float) -> float:
        """The nearest-rank percentile, in milliseconds."""
        rank = max(1, math.ceil(percent / 100 * len(self.seconds)))
        return self.seconds[rank - 1] * 1000


@dataclass(frozen=True)
class IngestRun:
    calls: int
    seconds: float  # wall time, first request sent to last answer read
    latencies: Latencies
    reconnects: int
    problem: str | None  # a wrong status or count; None when every call was stored

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds


def post_all(host: str, port: int, path: str, bodies: Sequence[bytes], clients: int
             ) -> tuple[float, list[Response], int]:
    """POST every body, `clients` requests at a time; (wall seconds, answers in body order, reconnects)."""
    return send_all(host, port, len(bodies), lambda client, index: client.post(path, bodies[index]), clients)


def get_all(host: str, port: int, paths: Sequence[str], clients: int) -> tuple[float, list[Response], int]:
    """GET every path, `clients` requests at a time; as :func:`post_all`."""
    return send_all(host, port, len(paths), lambda client, index: client.get(paths[index]), clients)


def send_all(host: str, port: int, count: int, send: Callable[[Client, int], Response], clients: int
             ) -> tuple[float, list[Response], int]:
    """Send requests 0 … count-1 (`send(client, index)`), `clients` at a time, each client a thread
    with its own keep-alive connection; (wall seconds, answers in order, reconnects)."""
    answers: list[Response | None] = [None] * count
    errors: list[BaseException] = []
    reconnects = [0]
    position = iter(range(count))
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def work() -> None:
        client = Client(host, port)
        start.wait()
        try:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    break
                answers[index] = send(client, index)
        except BaseException as error:  # noqa: BLE001 — re-raised after the run, never lost in a thread
            errors.append(error)
        finally:
            client.close()
            with lock:
                reconnects[0] += client.reconnects

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds, [answer for answer in answers if answer is not None], reconnects[0]


def batch_ingest(host: str, port: int, bodies: Sequence[bytes], calls_per_body: int, clients: int, *,
                 retry: bool = False) -> IngestRun:
    """POST the batches; each must store every call — or, a `retry` of batches stored before, none."""
    seconds, answers, reconnects = post_all(host, port, "/api/calls/batch", bodies, clients)
    problem = None
    expected = 0 if retry else calls_per_body
    for answer in answers:
        if answer.status != 200:
            problem = f"HTTP {answer.status}: {answer.body[:300]!r}"
            break
        stored = json.loads(answer.body)["stored"]
        if stored != expected:
            problem = f"a batch stored {stored} of {calls_per_body} calls, {expected} expected"
            break
    return IngestRun(calls_per_body * len(bodies), seconds, Latencies.of([a.seconds for a in answers]), reconnects,
                     problem)


def single_calls(host: str, port: int, bodies: Sequence[bytes], clients: int) -> IngestRun:
    seconds, answers, reconnects = post_all(host, port, "/api/calls", bodies, clients)
    wrong = [answer for answer in answers if answer.status != 201]
    problem = f"{len(wrong)} answers not 201, e.g. HTTP {wrong[0].status}: {wrong[0].body[:300]!r}" if wrong else None
    return IngestRun(len(bodies), seconds, Latencies.of([a.seconds for a in answers]), reconnects, problem)


def timed(ask: Callable[[], Any], reps: int, warmups: int) -> Latencies:
    for _ in range(warmups):
        ask()
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        ask()
        samples.append(time.perf_counter() - started)
    return Latencies.of(samples)


@dataclass(frozen=True)
class Comparison:
    question: Question
    ours: Latencies
    naive: Latencies
    problem: str | None  # how the answers differ; None when they agree

    @property
    def speedup(self) -> float:
        """Naive p50 over ours."""
        return self.naive.ms(50) / self.ours.ms(50)


def compare(question: Question, ask_ours: Callable[[], Any], answer_ours: Callable[[], Any],
            ask_naive: Callable[[], list[list[tuple]]], *, reps: int, warmups: int) -> Comparison:
    """Time `ask_ours` and `ask_naive`, then check `answer_ours()` (parsed) against the naive rows."""
    ours = timed(ask_ours, reps, warmups)
    naive = timed(ask_naive, reps, warmups)
    try:
        problem = question.check(answer_ours(), ask_naive())
    except Exception as error:  # noqa: BLE001 — a malformed answer is a failed check, not a crash
        problem = f"could not compare: {error!r}"
    return Comparison(question, ours, naive, problem)
