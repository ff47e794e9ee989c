"""The benchmark's CPU accounting reads real processes: a busy child is seen, and so is this one."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.cpu import CpuMeter, CpuUse

BUSY = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_cpu_of_a_process_tree_and_of_this_process_is_counted():
    # The "server" is a shell whose child burns 0.3 s of CPU: a descendant, counted even after it ends.
    server = subprocess.Popen(["sh", "-c", f"{sys.executable} -c '{BUSY}'; sleep 0.5"])
    used: list[CpuUse] = []
    try:
        with CpuMeter(server.pid, None).measure(used):
            end = time.process_time() + 0.2
            while time.process_time() < end:
                pass
            time.sleep(0.5)
    finally:
        server.wait()
    [use] = used
    assert use.server is not None and use.server >= 0.25
    assert use.clients >= 0.15
    assert use.database is None
    text = use.per_call_ms(100)
    assert "PostgreSQL n/a" in text and "server" in text and "cores busy" in text
