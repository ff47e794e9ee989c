"""Group commit: the single calls a process is ingesting at the same moment share one write.

A gunicorn gthread worker serves many ``POST /api/calls`` at once, one per thread. Written one by
one, every call would pay for its own connection checkout, statement and commit — more work
than pricing and validating it. Instead, calls queue for the writer, and one of their own threads
(the *leader*) writes every call queued so far with one ingest statement
(:meth:`app.ledger.Ledger.record`), then wakes the others with their results; calls that arrive
meanwhile form the next group, led by the first of them. Nothing waits for a timer: a call that
finds no write in flight is written at once, alone, so a quiet service answers as fast as before
and a busy one writes bigger groups. (PostgreSQL's own WAL writer works the same way.)

- **Atomic per statement.** A group is at most ``ledger.COPY_ABOVE`` calls, so the ledger writes
  it with its one array statement, which commits by itself: the group's session comes from
  `Database.statement_factory` (autocommit: no BEGIN and COMMIT round trips). Every call is
  answered only after the commit that stored it.
- **Same answers as one by one.** Retries inside a group resolve as they do inside a batch: the
  first call with a key is stored, the others are its duplicates (200, the original's row).
- **No call fails for a neighbour's data.** When the database refuses a group's write, its calls
  are written again one at a time, so only the call it refuses gets the error. A failure that is
  no call's doing (a lost connection, a server shutting down) fails the group's calls, unwritten
  again (the pool checks the next group's connection before use).
"""

from __future__ import annotations

import threading

from app.ledger import ingest as ledger
from app.db import Database, is_outage
from app.partitions import PartitionKeeper
from app.pricing import PriceCache
from app.records import IngestResult, NewCall


class _Wake:
    """A one-shot wake-up: a lock taken at birth and released to wake the one thread waiting on it
    (cheaper than `threading.Event`, whose condition variable is written in Python)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self) -> None:
        self._lock.acquire()


class _Ticket:
    """One call waiting to be written, and what became of it."""

    __slots__ = ("call", "wake", "leads", "result", "error")

    def __init__(self, call: NewCall) -> None:
        self.call = call
        self.wake = _Wake()
        self.leads = False  # woken to lead the next group, not with a result
        self.result: IngestResult | None = None
        self.error: BaseException | None = None

    def outcome(self) -> IngestResult:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class GroupCommit:
    """Records single calls, writing the calls of concurrent requests together (module docstring).

    `groups` and `calls` count what was written (for the benchmark and tests)."""

    def __init__(self, database: Database, prices: PriceCache | None, *, max_calls: int = ledger.COPY_ABOVE,
                 partitions: PartitionKeeper | None = None) -> None:
        if not 1 <= max_calls <= ledger.COPY_ABOVE:
            # Bigger groups would take the ledger's COPY path: several statements, which in
            # autocommit would not make one transaction.
            raise ValueError(f"max_calls must be between 1 and {ledger.COPY_ABOVE}")
        self._database = database
        self._prices = prices
        self._partitions = partitions
        self._max_calls = max_calls
        self._lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._writing = False
        self.groups = 0
        self.calls = 0

    @property
    def queued(self) -> int:
        """Calls waiting for a write (not counting those being written)."""
        with self._lock:
            return len(self._queue)

    def record(self, call: NewCall) -> IngestResult:
        """Store `call` (or find the call it retries) and return it once committed."""
        ticket = _Ticket(call)
        with self._lock:
            self._queue.append(ticket)
            leads = not self._writing
            self._writing = True
        if not leads:
            ticket.wake.wait()
            if not ticket.leads:
                return ticket.outcome()
        self._lead()
        return ticket.outcome()

    def _lead(self) -> None:
        """Write the group at the head of the queue, then pass the lead on (or end it)."""
        with self._lock:
            group, self._queue = self._queue[: self._max_calls], self._queue[self._max_calls :]
        try:
            self._write(group)
        finally:  # even if the worker is being stopped mid-write: nobody may wait for ever
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.wake.set()
                else:
                    self._writing = False
            for ticket in group:
                if ticket.result is None and ticket.error is None:
                    ticket.error = RuntimeError("the write of this call was interrupted")
                ticket.wake.set()

    def _write(self, group: list[_Ticket]) -> None:
        self.groups += 1
        self.calls += len(group)
        try:
            results = self._record([ticket.call for ticket in group])
        except Exception as exc:  # noqa: BLE001 - handed to the calls' own threads
            if len(group) == 1 or _not_the_calls_fault(exc):
                for ticket in group:
                    ticket.error = exc
                return
            for ticket in group:  # find the call the database refuses; store the others
                try:
                    [ticket.result] = self._record([ticket.call])
                except Exception as alone:  # noqa: BLE001
                    ticket.error = alone
            return
        for ticket, result in zip(group, results, strict=True):
            ticket.result = result

    def _record(self, calls: list[NewCall]) -> list[IngestResult]:
        session = self._database.statement_factory()
        try:
            writer = ledger.Ledger(session, prices=self._prices, partitions=self._partitions)
            results = writer.record(calls)
            session.commit()  # in autocommit the statement has committed already; this ends the session's work
        except BaseException as exc:
            if _not_the_calls_fault(exc):
                session.invalidate()  # the connection may be dead: discard it, do not roll it back
            else:
                session.close()
            raise
        session.close()
        writer.committed(results)
        return results


def _not_the_calls_fault(exc: BaseException) -> bool:
    """The connection or the database failed (lost connection, shutdown, cancelled statement),
    not a call's data: writing the calls one by one would not help — and a call without a
    requestId could be stored twice if the lost statement had committed."""
    return is_outage(exc)
