"""The benchmark of issue #4: how fast the ledger ingests and answers, against the physical limit
and against the naive design, in one run on one fresh database. It lives beside the product
(like the tests) and is not installed with it; run it from the repository's root.

Usage::

    make bench                                   # 1,000,000 calls, a throwaway cluster
    BENCH_CALLS=10000000 make bench              # 10M calls (the analytics target's size)
    BENCH_CALLS=50000 .venv/bin/python -m bench
    BENCH_SHAPE=large make bench                 # 50,000 users (mid, the default: 10,000; demo: app/demo.py's 77)
    BENCH_USERS=20000 BENCH_USER_SKEW=1.1 make bench   # one parameter of the shape over the preset's
    BENCH_DATABASE_URL=postgresql://postgres@db:5432/postgres make bench   # a fresh database in that server
    BENCH_KEEP=1 make bench                      # keep the database (and cluster) afterwards
    make bench-scaling                           # analytics over a grid of calls × users (bench/scaling.py)

The data's shape (:mod:`bench.shape`): BENCH_SHAPE, BENCH_COMPANIES, BENCH_USERS,
BENCH_ASSISTANTS, BENCH_ENDPOINTS, BENCH_MODELS, BENCH_USER_SKEW, BENCH_ASSISTANT_SKEW,
BENCH_COMPANY_SKEW, BENCH_FAILURE_RATE, BENCH_UNPRICED_SHARE, BENCH_LATE_SHARE, BENCH_DAYS,
BENCH_SEED. Other knobs (see :mod:`bench.config`): BENCH_COPY_SAMPLE, BENCH_BATCHES,
BENCH_BATCH_SIZE, BENCH_BATCH_CLIENTS, BENCH_SINGLE_REQUESTS, BENCH_SINGLE_CLIENTS, BENCH_REPS,
BENCH_WARMUPS, BENCH_WORKERS. Progress goes to stderr, the report to stdout.

What one run does:

1. a fresh database (a throwaway cluster with durability on and the memory settings of
   :mod:`bench.database`, or a new database in ``BENCH_DATABASE_URL``'s server),
   ``alembic upgrade head``, the price catalog;
2. ``BENCH_CALLS`` calls over the 90 days before today from an organisation of the shape asked
   for (:mod:`bench.organisation`, :mod:`bench.generate`), priced with the ledger's prices and
   COPYed straight into ``llm_call_log``; then 200,000 more, stamped today like live traffic,
   COPYed in one timed transaction: **raw COPY calls/s**, the physical limit (deleted again: a
   measurement, not data); then idempotency keys, every rollup (``rollups.rebuild``), VACUUM
   ANALYZE (:mod:`bench.load`); then what the data looks like: the companies, users,
   assistants, endpoints and models present, how concentrated activity is, a busy and a median
   user (:mod:`bench.dataset`);
3. a real gunicorn (:mod:`bench.server`): **HTTP batch ingest** (20 × 10,000 calls sent today,
   a few stamped hours to days late, 2 clients) as calls/s and as a share of raw COPY, and
   **single-call latency** (4,000 ``POST /api/calls`` from 16 clients), p50/p99
   (:mod:`bench.measure`);
4. the **analytics questions** through the API (and ``flask costs report`` in-process), each
   against the same question asked as a naive GROUP BY on the raw calls, p50/p95 and the
   speed-up, and a check that both gave the same answer (:mod:`bench.questions`; the shared
   stages are :mod:`bench.stages`);
5. one table with the targets of issue #4, met or missed, under a header with the shape, the
   data present and the row counts of ``llm_call_log`` and of each rollup table
   (:mod:`bench.report`); then gunicorn is stopped and the database dropped.
"""
