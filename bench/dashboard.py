"""``make bench-dashboard``: how soon the dashboard's overview shows spend, on a database you name.

Usage (the issue's target is the 10M-call realistic benchmark database: make one with
``BENCH_CALLS=10000000 BENCH_KEEP=1 make bench``, which prints its URL)::

    DASHBOARD_DATABASE_URL=postgresql://postgres@127.0.0.1:5433/ledger_bench_… make bench-dashboard
    DASHBOARD_RUNS=10 DASHBOARD_PERIOD_DAYS=30 …

A real gunicorn (two workers, as `make run`) over that database, a read key made for the run
(deleted afterwards), and Debian's Chromium (tests/browser.py) at 1400 × 1000. Each run is a new
browser context (no cache, the key already in the tab) loading ``/#/overview`` for the last
DASHBOARD_PERIOD_DAYS days of the data (ending on the last day with calls). Measured in the page,
from the start of navigation:

- **first meaningful paint**: the spend headline drawn (the ``ledger:first-meaningful-paint``
  mark, set in the first animation frame after the total, its change and the calls are in the
  page);
- **complete**: every card has its answer;
- each API request's time (Resource Timing), slowest first.

The first run after gunicorn starts is reported apart (cold: each worker's first connection and
price cache). In the same run, the headline asked naively — sums over the raw calls of the period
and of the one before, as the headline shows them — for comparison.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, text
from sqlalchemy.orm import Session

from app.auth.keys import create_key
from app.config import normalise_url
from app.models import ApiKey
from bench.server import gunicorn
from tests.browser import chromium

KEY_NAME = "bench-dashboard"


def _last_day(engine) -> date:
    """The last UTC day with calls (from the day rollup: the raw log's max would scan every partition)."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT max(day) FROM rollup_company_day")).scalar_one()


def _naive_headline(engine, start: date, end: date) -> float:
    """Seconds for the headline's two sums straight from the raw calls."""
    days = (end - start).days + 1
    began = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text(
            "SELECT sum(total_cost) FILTER (WHERE timestamp >= :s), count(*) FILTER (WHERE timestamp >= :s), "
            "sum(total_cost) FILTER (WHERE timestamp < :s), count(*) FILTER (WHERE timestamp < :s) "
            "FROM llm_call_log WHERE timestamp >= :p AND timestamp < :e"),
            {"s": start, "p": start - timedelta(days=days), "e": end + timedelta(days=1)}).all()
    return time.perf_counter() - began


def _one_run(browser, base: str, key: str, start: date, end: date) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(f"sessionStorage.setItem('ledger.apiKey', {key!r})")
    page = context.new_page()
    try:
        page.goto(f"{base}/#/overview?startDate={start}&endDate={end}")
        page.wait_for_function("() => performance.getEntriesByName('ledger:first-meaningful-paint').length > 0",
                               timeout=120_000)
        page.wait_for_function("() => [...document.querySelectorAll('.card')].every(c => c.dataset.state !== 'loading')",
                               timeout=300_000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        return page.evaluate("""() => ({
            paint: performance.getEntriesByName('ledger:first-meaningful-paint')[0].startTime,
            complete: performance.now(),
            states: [...document.querySelectorAll('.card')].map(c => c.id + ':' + c.dataset.state),
            requests: performance.getEntriesByType('resource').filter(r => r.name.includes('/api/'))
                .map(r => [new URL(r.name).pathname + new URL(r.name).search, r.responseEnd - r.startTime]),
        })""")
    finally:
        context.close()


def main() -> int:
    url = os.environ.get("DASHBOARD_DATABASE_URL")
    if not url:
        print("Set DASHBOARD_DATABASE_URL to the database to measure (e.g. a kept 10M-call benchmark database: "
              "BENCH_CALLS=10000000 BENCH_KEEP=1 make bench prints it).", file=sys.stderr)
        return 2
    runs = int(os.environ.get("DASHBOARD_RUNS", "7"))
    period_days = int(os.environ.get("DASHBOARD_PERIOD_DAYS", "30"))
    engine = create_engine(normalise_url(url))
    with engine.connect() as connection:
        calls = connection.execute(text("SELECT count(*) FROM llm_call_log")).scalar_one()
    end = _last_day(engine)
    start = end - timedelta(days=period_days - 1)
    with Session(engine) as session:
        key = create_key(session, name=KEY_NAME, company_id=None, scopes="read").secret
        session.commit()
    results = []
    try:
        with tempfile.TemporaryDirectory() as scratch, \
                gunicorn(url, workers=2, log_path=Path(scratch) / "gunicorn.log",
                         env={"ALERT_DELIVERY": "off"}) as (host, port, _):
            base = f"http://{host}:{port}"
            with chromium() as browser:
                for n in range(runs + 1):
                    results.append(_one_run(browser, base, key, start, end))
                    print(f"[dashboard] run {n}: first meaningful paint {results[-1]['paint']:.0f} ms, "
                          f"complete {results[-1]['complete']:.0f} ms", file=sys.stderr)
        naive = [_naive_headline(engine, start, end) for _ in range(3)]
    finally:
        with engine.begin() as connection:
            connection.execute(delete(ApiKey).where(ApiKey.name == KEY_NAME))
    cold, warm = results[0], results[1:]
    paints = [r["paint"] for r in warm]
    completes = [r["complete"] for r in warm]
    print(f"Dashboard overview, {calls:,} calls, period {start} – {end} ({period_days} days), "
          f"Chromium {runs} warm runs after 1 cold")
    print(f"  first meaningful paint: median {statistics.median(paints):.0f} ms, max {max(paints):.0f} ms "
          f"(cold {cold['paint']:.0f} ms) — target < 1000 ms: {'met' if max(paints) < 1000 else 'MISSED'}")
    print(f"  every card answered:    median {statistics.median(completes):.0f} ms, max {max(completes):.0f} ms "
          f"(cold {cold['complete']:.0f} ms)")
    print(f"  cards: {', '.join(cold['states'])}")
    print("  API requests (median over the warm runs, slowest first):")
    by_request: dict[str, list[float]] = {}
    for run in warm:
        for path, ms in run["requests"]:
            by_request.setdefault(path.split("?")[0] + ("?by=" + path.split("by=")[1].split("&")[0]
                                                        if "by=" in path else ""), []).append(ms)
    for path, samples in sorted(by_request.items(), key=lambda item: -statistics.median(item[1])):
        print(f"    {statistics.median(samples):8.1f} ms  {path}")
    print(f"  naive headline (two sums over the raw calls of the period and the one before): "
          f"median {statistics.median(naive) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
