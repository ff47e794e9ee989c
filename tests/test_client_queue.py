"""The Python client's queue and sender, against a scripted stand-in of the ledger
(tests/ledger_double.py) or a port where nothing listens: the caller never waits or sees an
exception; a full queue drops new calls, counted; what the ledger refuses is split, isolated and
dropped, never retried forever; what may succeed later is retried with the same requestIds;
close() keeps to its timeout. (Against the real ledger: tests/test_client_ledger.py.)"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import openai
import pytest

from app.embedded_pg import free_port
from ledger_client import LedgerClient
from ledger_client.sender import Backoff, retry_after_seconds
from tests import llm_fakes
from tests.ledger_double import LedgerDouble

RESPONSE = openai.types.chat.ChatCompletion.model_validate(llm_fakes.chat_completion(llm_fakes.OPENAI_CHAT_MODEL))
FAST = dict(flush_interval=0.01, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def double():
    double = LedgerDouble().start()
    yield double
    double.stop()


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: every connection is refused


def test_a_full_queue_drops_the_new_calls_counted_and_never_waits():
    dropped = []
    client = LedgerClient(nowhere(), "key", max_queue=5, batch_size=1, **FAST,
                          on_drop=lambda call, why: dropped.append(why))
    started = time.perf_counter()
    ids = [client.track(RESPONSE) for _ in range(200)]
    assert time.perf_counter() - started < 0.5  # 200 calls, most of them onto a full queue
    stats = client.stats()
    kept = [request_id for request_id in ids if request_id]
    assert stats["enqueued"] == len(kept) and stats["enqueued"] + stats["dropped_queue_full"] == 200
    assert stats["dropped_queue_full"] >= 200 - 5 - 1  # at most one batch in flight besides the queue
    assert dropped == ["queue_full"] * stats["dropped_queue_full"]
    assert client.close(0.3) is False
    assert client.stats()["dropped_at_close"] == len(kept) and client.stats()["queued"] == 0
    assert client.track(RESPONSE) is None and client.stats()["dropped_closed"] == 1


def test_a_ledger_that_hangs_blocks_neither_track_nor_close_beyond_its_timeout(double):
    double.gate.clear()  # every request waits
    client = LedgerClient(double.url, "key", timeout=30, flush_interval=0)
    client.track(RESPONSE)
    time.sleep(0.2)  # its batch is now in flight, and hanging
    started = time.perf_counter()
    for _ in range(300):
        assert client.track(RESPONSE)  # queued, while the ledger keeps its batch
    assert time.perf_counter() - started < 0.5
    assert client.flush(0.2) is False
    started = time.perf_counter()
    assert client.close(1.0) is False
    assert time.perf_counter() - started < 3.0
    assert client.stats()["dropped_at_close"] >= 300


def test_retry_until_the_ledger_answers_with_the_same_batch(double):
    double.script.extend([503, 429, 504, 502, 503])
    client = LedgerClient(double.url, "key", **FAST)
    ids = {client.track(RESPONSE) for _ in range(3)}
    assert client.flush(10)
    assert double.answers == [503, 429, 504, 502, 503, 200]
    assert all(set(batch) == ids for batch in double.request_ids())
    assert client.stats()["retries"] == 5 and client.stats()["sent"] == 3
    client.close(1)


def test_413_and_persistent_500_split_the_batch_and_a_poisoned_call_is_rejected_alone(double):
    client = LedgerClient(double.url, "key", flush_interval=60, **{k: v for k, v in FAST.items()
                                                                   if k != "flush_interval"})
    double.script.extend([413, 500, 500, 500, 500, 500, 500])
    ids = [client.track(RESPONSE) for _ in range(4)]
    assert client.flush(10)
    sizes = [len(batch) for batch in double.request_ids()]
    # 4 → 413 → [2, 2]; the first 2: 500 ×3 → [1, 1]; the first 1: 500 ×3 → rejected; then 200s.
    assert sizes == [4, 2, 2, 2, 1, 1, 1, 1, 2]
    assert double.request_ids()[5] == [ids[0]]
    stats = client.stats()
    assert (stats["rejected"], stats["sent"], stats["retries"]) == (1, 3, 4)
    client.close(1)


def test_a_400_naming_calls_drops_those_and_sends_the_rest_at_once(double):
    client = LedgerClient(double.url, "key", flush_interval=60)
    ids = [client.track(RESPONSE) for _ in range(5)]
    double.script.append((400, b'{"code": 400, "errors": {"json": {"calls": {"1": {"userId": ["Too long."]}, '
                               b'"3": {"model": ["Missing."]}}}}}', {}))
    assert client.flush(10)
    assert double.request_ids() == [ids, [ids[0], ids[2], ids[4]]]
    assert client.stats()["rejected"] == 2 and client.stats()["sent"] == 3 and client.stats()["retries"] == 0
    client.close(1)


@pytest.mark.parametrize("status", [401, 404, 415])
def test_a_key_or_address_the_ledger_refuses_rejects_the_batch_without_retrying(double, status):
    dropped = []
    client = LedgerClient(double.url, "key", on_drop=lambda call, why: dropped.append(why), **FAST)
    double.script.append(status)
    client.track(RESPONSE)
    client.track(RESPONSE)
    assert client.flush(10)
    assert client.stats()["rejected"] == 2 and client.stats()["retries"] == 0 and dropped == ["rejected"] * 2
    client.close(1)


def test_many_threads_tracking_at_once_each_call_sent_once(double):
    client = LedgerClient(double.url, "key", batch_size=100, flush_interval=0.05)
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [client.track(RESPONSE, user=threading.current_thread().name) for _ in range(500)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(30)
    sent = [request_id for batch in double.request_ids() for request_id in batch]
    assert sorted(sent) == sorted(ids) and len(set(ids)) == 4000
    assert max(len(batch) for batch in double.request_ids()) <= 100
    assert client.stats()["sent"] == 4000
    client.close(1)


def test_what_track_cannot_read_is_counted_never_raised(double):
    class Exploding:
        def __getattr__(self, name):
            raise RuntimeError("boom")

    double.script.append(401)  # on_drop raises: logged, the sender goes on
    client = LedgerClient(double.url, "key", on_drop=lambda call, why: 1 / 0, **FAST)
    assert client.track(object()) is None
    assert client.track({"hello": "world"}) is None
    assert client.track(Exploding()) is None
    assert client.track(None) is None  # success=True and nothing to record
    assert client.track(RESPONSE, metadata={"when": datetime.now(timezone.utc), "what": object()})  # sent as text
    assert client.flush(10)
    stats = client.stats()
    assert (stats["unreadable"], stats["internal_errors"], stats["rejected"]) == (3, 1, 1)
    client.track(RESPONSE)
    assert client.flush(10) and client.stats()["sent"] == 1
    client.close(1)


def test_the_call_as_sent(double):
    client = LedgerClient(double.url, "key", company="acme", **FAST)
    start = datetime.now(timezone.utc)
    request_id = client.track(RESPONSE, user="u1", assistant="a1", assistant_name="Helper", endpoint="/e",
                              duration_ms=1500.4, metadata={"trace": "t1"})
    client.track(None, success=False, error=ValueError("bad\x00" + "x" * 20000), model="gpt-4o", provider="openai",
                 company="other", request_id="mine-1")
    assert client.flush(10)
    first, failed = [call for body in double.bodies for call in body["calls"]]
    sent_at = datetime.fromisoformat(first.pop("timestamp"))
    assert start - timedelta(seconds=2) < sent_at < start and sent_at.tzinfo == timezone.utc
    assert first == {
        "provider": "openai", "model": llm_fakes.OPENAI_CHAT_MODEL, "usage": llm_fakes.OPENAI_CHAT_USAGE,
        "usageFormat": "openai-chat", "serviceTier": "default", "durationMs": 1500, "success": True,
        "companyId": "acme", "userId": "u1", "assistantId": "a1", "assistantName": "Helper", "endpoint": "/e",
        "requestId": request_id, "metadata": {"trace": "t1", "responseId": "chatcmpl-fake1"}}
    assert failed["error"].startswith("ValueError: bad\ufffdxxx") and len(failed["error"]) == 10_000
    assert {key: failed[key] for key in ("provider", "model", "inputTokens", "outputTokens", "success", "companyId",
                                         "requestId")} == {
        "provider": "openai", "model": "gpt-4o", "inputTokens": 0, "outputTokens": 0, "success": False,
        "companyId": "other", "requestId": "mine-1"}
    client.close(1)


def test_backoff_grows_to_its_cap_and_honours_retry_after():
    backoff = Backoff(base=0.5, maximum=30)
    for attempt, ceiling in ((1, 0.5), (2, 1), (3, 2), (10, 30), (60, 30)):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert backoff.delay(1, retry_after=7) == 7
    assert backoff.delay(1, retry_after=10_000) == 300  # a Retry-After beyond reason is capped
    assert retry_after_seconds("1") == 1 and retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    assert 55 < retry_after_seconds(in_a_minute) <= 60


def test_importing_the_client_imports_no_sdk():
    import subprocess
    import sys

    code = ("import sys, ledger_client; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'anthropic', 'httpx', 'httpx2') "
            "or m.startswith('google.genai')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
