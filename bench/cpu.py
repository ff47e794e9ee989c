"""Where an ingest measurement's time goes: CPU seconds of the server, the database and the clients.

Read from ``/proc`` (Linux) before and after a measurement. A group is a process and all its
descendants: gunicorn's master and workers; PostgreSQL's postmaster and backends (found as the
parent of this connection's backend, so only a server on this machine is measured); and this
process alone, whose threads are the HTTP clients. The CPU of a process that ended in between is
counted through its parent's "children" times (the postmaster and gunicorn wait for theirs).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuUse:
    wall: float
    server: float | None  # None: no HTTP server in this measurement
    database: float | None  # None: the database server is not on this machine
    clients: float

    def per_call_ms(self, calls: int) -> str:
        def ms(seconds: float | None) -> str:
            return "n/a" if seconds is None else f"{seconds / calls * 1000:.3f} ms"

        busy = (self.server or 0) + (self.database or 0) + self.clients
        return (f"server {ms(self.server)}, PostgreSQL {ms(self.database)}, clients {ms(self.clients)} per call; "
                f"{busy / self.wall:.2f} of {os.cpu_count()} cores busy")


def _processes() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, CPU ticks of the process and its waited-for children)."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        found[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]))
    return found


def _own_seconds() -> float:
    """This process alone (its descendants include the server it started)."""
    times = os.times()
    return times.user + times.system


def _group_seconds(root: int | None, processes: dict[int, tuple[int, int]]) -> float | None:
    if root is None or root not in processes:
        return None
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    ticks, stack = 0, [root]
    while stack:
        pid = stack.pop()
        ticks += processes[pid][1]
        stack.extend(children.get(pid, ()))
    return ticks / TICKS


def database_root(backend_pid: int) -> int | None:
    """The postmaster of a backend, if that backend runs on this machine."""
    try:
        return int((PROC / str(backend_pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    def __init__(self, server_pid: int | None, database_pid: int | None) -> None:
        self._roots = {"server": server_pid, "database": database_pid}

    def _read(self) -> dict[str, float | None]:
        processes = _processes()
        return {name: _group_seconds(root, processes) for name, root in self._roots.items()} | {
            "clients": _own_seconds()}

    @contextmanager
    def measure(self, into: list[CpuUse]) -> Iterator[None]:
        """Append the CPU used while the block runs to `into`."""
        before, started = self._read(), time.perf_counter()
        yield
        after, wall = self._read(), time.perf_counter() - started

        def used(name: str) -> float | None:
            if before[name] is None or after[name] is None:
                return None
            return after[name] - before[name]  # type: ignore[operator]

        into.append(CpuUse(wall=wall, server=used("server"), database=used("database"),
                           clients=used("clients") or 0.0))
