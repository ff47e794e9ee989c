"""The Python client (client/, `ledger_client`) against the real ledger: a real gunicorn over the
test database, the real SDKs (openai, anthropic, google-genai) answering from a local stand-in of
the providers (tests/llm_fakes.py), so their real response types — streams too — are what the
client reads.

What is stored is checked row by row: provider, model, every token type, the costs equal to what
the ledger computes for the same usage sent directly to `POST /api/calls` (and to README's worked
examples), duration, success and error. Then what must not lose or double a call: the ledger down
and coming up later, 503s, answers lost after the ledger stored the batch, a bad call inside a
batch, a wrong key, a process that exits (or forks) with calls still queued.

The tests commit for real, under companies of their own, deleted afterwards (`tests.committed`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from decimal import Decimal

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth.keys import create_key
from app.embedded_pg import PROJECT_ROOT, free_port
from app.models import ApiKey, LlmCall
from app.token_types import TOKEN_NAMES, TOKEN_TYPES
from bench.server import gunicorn
from ledger_client import LedgerClient
from tests import llm_fakes
from tests.committed import delete_company, partitions_restored
from tests.ledger_double import LOSE_ANSWER, LedgerDouble

KEY_NAME = "client tests"
PREFIX = "client-test-"


class Ledger:
    def __init__(self, url: str, key: str, engine) -> None:
        self.url, self.key, self.engine = url, key, engine
        self.companies: set[str] = set()

    def company(self, name: str) -> str:
        company = PREFIX + name
        self.companies.add(company)
        return company

    def client(self, company: str, url: str | None = None, **options) -> LedgerClient:
        return LedgerClient(url or self.url, self.key, company=company, **options)

    def rows(self, company: str) -> list[LlmCall]:
        with Session(self.engine) as session:
            return list(session.scalars(select(LlmCall).where(LlmCall.company_id == company).order_by(LlmCall.id)))

    def post(self, path: str, body: dict, key: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {key or self.key}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def ledger(engine, database_url, tmp_path_factory):
    with Session(engine) as session:
        key = create_key(session, name=KEY_NAME, company_id=None, scopes="ingest,read").secret
        session.commit()
    with partitions_restored(engine):
        found = None
        try:
            log = tmp_path_factory.mktemp("client") / "gunicorn.log"
            with gunicorn(database_url, workers=2, log_path=log) as (host, port, _):
                found = Ledger(f"http://{host}:{port}", key, engine)
                yield found
        finally:
            for company in found.companies if found else ():
                delete_company(engine, company)
            with engine.begin() as conn:
                conn.execute(delete(ApiKey).where(ApiKey.name == KEY_NAME))


@pytest.fixture(scope="module")
def providers():
    fake = llm_fakes.FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def sdks(providers):
    """The real SDK clients, pointed at the local providers (no retries of their own)."""
    return {
        "openai": openai.OpenAI(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0),
        "anthropic": anthropic.Anthropic(base_url=providers.url, api_key="sk-ant-test", max_retries=0),
        "google": genai.Client(api_key="test", http_options=genai_types.HttpOptions(base_url=providers.url)),
    }


def tokens(row: LlmCall) -> dict[str, int]:
    return {name: getattr(row, name) for name in TOKEN_NAMES}


def costs(row: LlmCall) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    return row.input_cost, row.output_cost, row.total_cost


USER = dict(user="u-1", assistant="asst-9", assistant_name="Support", endpoint="/chat")

# What each SDK call is, as the tests make it: (name, provider, model stored, the call).
CALLS = {
    "openai-chat": lambda s: s["openai"].chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                                             "content": "hi"}]),
    "openai-chat-stream": lambda s: s["openai"].chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}),
    "openai-responses": lambda s: s["openai"].responses.create(model="o3", input="hi"),
    "openai-responses-stream": lambda s: s["openai"].responses.create(model="o3", input="hi", stream=True),
    "anthropic": lambda s: s["anthropic"].messages.create(model=llm_fakes.ANTHROPIC_MODEL, max_tokens=100,
                                                          messages=[{"role": "user", "content": "hi"}]),
    "anthropic-stream": lambda s: s["anthropic"].messages.create(
        model=llm_fakes.ANTHROPIC_MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True),
    "gemini": lambda s: s["google"].models.generate_content(model="gemini-2.5-flash", contents="hi"),
    "gemini-stream": lambda s: s["google"].models.generate_content_stream(model="gemini-2.5-flash", contents="hi"),
}
# The same usage, sent to POST /api/calls by hand: provider, model, usage, usageFormat.
DIRECT = {
    "openai": ("openai", llm_fakes.OPENAI_CHAT_MODEL, llm_fakes.OPENAI_CHAT_USAGE, "openai-chat"),
    "openai-responses": ("openai", llm_fakes.OPENAI_RESPONSES_MODEL, llm_fakes.OPENAI_RESPONSES_USAGE,
                         "openai-responses"),
    "anthropic": ("anthropic", llm_fakes.ANTHROPIC_MODEL, llm_fakes.ANTHROPIC_USAGE, "anthropic"),
    "gemini": ("google", llm_fakes.GEMINI_MODEL, llm_fakes.GEMINI_USAGE, "gemini"),
}
# README's worked examples (input cost, output cost) for the usages above.
WORKED = {
    "openai": (Decimal("0.0257425"), Decimal("0.00678")),
    "anthropic": (Decimal("0.90"), Decimal("0.09")),  # above 200k input: 4,000 × $22.50 output
    "gemini": (Decimal("0.00192"), Decimal("0.005")),  # 6,000 × 0.30 + 4,000 × 0.03; (1,500 + 500) × 2.50
}


def direct_of(name: str) -> str:
    return {"openai-chat": "openai", "openai-responses": "openai-responses"}.get(name.removesuffix("-stream"),
                                                                                 name.removesuffix("-stream"))


@pytest.mark.parametrize("name", list(CALLS))
def test_each_sdk_response_is_stored_as_the_ledger_prices_its_usage(ledger, sdks, name):
    company = ledger.company(name)
    client = ledger.client(company)
    result = CALLS[name](sdks)
    if name.endswith("-stream"):
        chunks = list(client.track_stream(result, **USER))  # passed through as the SDK yields them
        assert chunks and all(type(chunk).__module__.split(".")[0] in ("openai", "anthropic", "google")
                              for chunk in chunks)
    else:
        assert client.track(result, **USER)
    assert client.close(30)
    [row] = ledger.rows(company)
    provider, model, usage, usage_format = DIRECT[direct_of(name)]
    status, direct = ledger.post("/api/calls", {"provider": provider, "model": model, "usage": usage,
                                                "usageFormat": usage_format,
                                                "companyId": ledger.company(name + "-direct")})
    assert status == 201, direct
    assert (row.provider, row.model) == (provider, model)
    assert tokens(row) == {name: direct[key] for name, key in zip(TOKEN_NAMES, [token.json for token in TOKEN_TYPES])}
    assert row.price_id is not None and costs(row) == (Decimal(direct["inputCost"]), Decimal(direct["outputCost"]),
                                         Decimal(direct["totalCost"]))
    if direct_of(name) in WORKED:
        assert costs(row)[:2] == WORKED[direct_of(name)]
    assert (row.user_id, row.assistant_id, row.assistant_name, row.endpoint) == ("u-1", "asst-9", "Support", "/chat")
    assert row.success and row.error_message is None
    assert row.request_id and row.call_metadata.get("responseId", "").startswith(("chatcmpl-", "resp_", "msg_",
                                                                                  "gemini-"))
    assert client.stats()["stored"] == 1


def test_timed_records_duration_and_failures_with_the_callers_exception_unchanged(ledger, sdks):
    company = ledger.company("timed")
    client = ledger.client(company)

    @client.timed(user="u-2", endpoint="/ask")
    def ask(model: str):
        time.sleep(0.05)
        return sdks["openai"].chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

    assert ask("gpt-4o").usage.prompt_tokens == 12345  # the SDK's own response, returned as is
    create = client.timed(user="u-3")(sdks["anthropic"].messages.create)
    with pytest.raises(anthropic.RateLimitError) as raised:
        create(model="fail-429", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    generate = client.timed(user="u-4")(sdks["google"].models.generate_content)
    with pytest.raises(genai.errors.ClientError):
        generate(model="fail-429", contents="hi")
    with pytest.raises(openai.RateLimitError):
        with client.timed(user="u-5", model="gpt-4o-mini") as call:
            call.track(sdks["openai"].chat.completions.create(model="fail-429", messages=[]))
    assert client.close(30)
    rows = {row.user_id: row for row in ledger.rows(company)}
    assert set(rows) == {"u-2", "u-3", "u-4", "u-5"}
    assert rows["u-2"].success and rows["u-2"].duration_ms >= 50 and rows["u-2"].endpoint == "/ask"
    assert rows["u-2"].model == llm_fakes.OPENAI_CHAT_MODEL and rows["u-2"].input_tokens == 12345
    for user, provider, model in (("u-3", "anthropic", "fail-429"), ("u-4", "google", "fail-429"),
                                  ("u-5", "openai", "gpt-4o-mini")):
        row = rows[user]
        assert (row.success, row.provider, row.model) == (False, provider, model)
        assert row.input_tokens == row.output_tokens == 0 and row.duration_ms is not None
        assert "fake failure" in row.error_message
    assert rows["u-3"].error_message.startswith("RateLimitError: ")
    assert str(raised.value) in rows["u-3"].error_message


def test_streams_of_the_sdk_helpers_and_a_stream_left_early(ledger, sdks):
    company = ledger.company("stream-helpers")
    client = ledger.client(company)
    # Anthropic's messages.stream(): read through its own text_stream, the usage from its snapshot.
    stream = client.timed(user="text-stream")(sdks["anthropic"].messages.stream)
    with stream(model=llm_fakes.ANTHROPIC_MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as s:
        assert "".join(s.text_stream) == "Hello!"
    # openai's responses.stream(), iterated.
    with client.track_stream(sdks["openai"].responses.stream(model="o3", input="hi"), user="responses-stream") as s:
        assert [event.type for event in s][-1] == "response.completed"
    # A chat stream without include_usage: recorded, with zero tokens, marked.
    for _ in client.track_stream(sdks["openai"].chat.completions.create(
            model="gpt-4o", messages=[], stream=True), user="no-usage"):
        pass
    # A Gemini stream the caller leaves after its first chunk.
    for _ in client.track_stream(sdks["google"].models.generate_content_stream(model="gemini-2.5-flash",
                                                                                contents="hi"), user="left"):
        break
    assert client.close(30)
    rows = {row.user_id: row for row in ledger.rows(company)}
    assert rows["text-stream"].total_cost == rows["text-stream"].input_cost + rows["text-stream"].output_cost
    assert (rows["text-stream"].input_tokens, rows["text-stream"].output_tokens) == (250000, 4000)
    assert (rows["responses-stream"].model, rows["responses-stream"].output_tokens) == (
        llm_fakes.OPENAI_RESPONSES_MODEL, 900)
    assert rows["no-usage"].input_tokens == 0 and rows["no-usage"].call_metadata["usageMissing"] is True
    assert rows["left"].call_metadata["streamIncomplete"] is True
    assert rows["left"].input_tokens == llm_fakes.GEMINI_USAGE["promptTokenCount"]  # what the first chunk told
    assert client.stats()["usage_missing"] == 1


def test_the_ledger_down_then_up_gets_every_call_once(ledger, engine, database_url, tmp_path):
    company = ledger.company("down-then-up")
    port = free_port()  # nothing listens yet: connections are refused
    client = ledger.client(company, url=f"http://127.0.0.1:{port}", flush_interval=0.05, backoff_base=0.1,
                           backoff_max=0.5)
    response = _chat_completion()
    started = time.perf_counter()
    ids = [client.track(response, user=f"u{n}") for n in range(20)]
    assert time.perf_counter() - started < 0.5 and all(ids)
    time.sleep(1.0)
    assert client.stats()["retries"] >= 1 and client.stats()["sent"] == 0
    with gunicorn(database_url, workers=1, log_path=tmp_path / "late.log", port=port):
        assert client.flush(60)
    client.close(5)
    rows = ledger.rows(company)
    assert sorted(row.request_id for row in rows) == sorted(ids)  # each once
    assert client.stats()["sent"] == 20


def test_503s_and_lost_answers_are_retried_with_the_same_keys_and_stored_once(ledger):
    company = ledger.company("retries")
    double = LedgerDouble(upstream=ledger.url).start()
    try:
        double.script.extend([503, (503, b'{"code": 503}', {"Retry-After": "1"}), LOSE_ANSWER, 502])
        client = ledger.client(company, url=double.url, flush_interval=0.01, backoff_base=0.05, backoff_max=0.2)
        ids = [client.track(_chat_completion(), user=f"u{n}") for n in range(5)]
        started = time.perf_counter()
        assert client.flush(60)
        assert time.perf_counter() - started >= 1.0  # Retry-After honoured
        client.close(5)
    finally:
        double.stop()
    assert double.answers[:5] == [503, 503, 0, 502, 200]
    sent = double.request_ids()
    assert all(batch == sent[0] for batch in sent) and sorted(sent[0]) == sorted(ids)  # the same batch each time
    assert sorted(row.request_id for row in ledger.rows(company)) == sorted(ids)
    stats = client.stats()
    assert (stats["sent"], stats["stored"], stats["duplicates"], stats["retries"]) == (5, 0, 5, 4)


def test_a_bad_call_in_a_batch_is_dropped_alone_and_the_rest_stored(ledger):
    company = ledger.company("bad-call")
    dropped = []
    client = ledger.client(company, flush_interval=60, batch_size=50, on_drop=lambda call, why: dropped.append(
        (call["userId"], why)))
    good = [client.track(_chat_completion(), user=f"u{n}") for n in range(6)]
    client.track(_chat_completion(), user="x" * 201)  # over the ledger's 200 characters: a 400 naming it
    client.track(_chat_completion(), user="nul\x00")  # PostgreSQL cannot store it: a 400 naming calls.7.userId
    assert client.flush(30)
    assert sorted(row.request_id for row in ledger.rows(company)) == sorted(good)
    assert sorted(why for _, why in dropped) == ["rejected", "rejected"]
    assert client.stats()["rejected"] == 2 and client.stats()["stored"] == 6
    client.close(5)


def test_a_refused_key_drops_the_batch_counted_without_retrying(ledger):
    client = LedgerClient(ledger.url, "llm_notakey_0000", company=ledger.company("bad-key"), flush_interval=0.01)
    client.track(_chat_completion())
    assert client.flush(30)
    assert client.stats()["rejected"] == 1 and client.stats()["retries"] == 0
    client.close(5)


def test_a_company_key_writing_for_another_company_loses_only_those_calls(ledger, engine):
    mine, other = ledger.company("mine"), ledger.company("not-mine")
    with Session(engine) as session:
        key = create_key(session, name=KEY_NAME, company_id=mine, scopes="ingest").secret
        session.commit()
    client = LedgerClient(ledger.url, key, flush_interval=60)
    kept = [client.track(_chat_completion(), user=f"u{n}") for n in range(3)]
    client.track(_chat_completion(), company=other)
    assert client.flush(30)
    assert sorted(row.request_id for row in ledger.rows(mine)) == sorted(kept) and not ledger.rows(other)
    assert client.stats()["rejected"] == 1
    client.close(5)


def test_calls_queued_at_exit_are_sent(ledger):
    company = ledger.company("exit")
    script = textwrap.dedent(f"""
        import openai, sys
        from ledger_client import LedgerClient
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from tests.llm_fakes import chat_completion
        client = LedgerClient({ledger.url!r}, {ledger.key!r}, company={company!r}, flush_interval=3600)
        response = openai.types.chat.ChatCompletion.model_validate(chat_completion("gpt-4o-2024-08-06"))
        for n in range(25):
            client.track(response, user=f"u{{n}}")
        print(client.stats()["queued"])
    """)  # no flush, no close: the exit hook sends them
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "25"
    assert len(ledger.rows(company)) == 25


def test_a_forked_child_sends_its_own_calls_and_not_its_parents_and_flushes_at_its_exit(ledger):
    company = ledger.company("fork")
    script = textwrap.dedent(f"""
        import json, os, sys
        import openai
        from ledger_client import LedgerClient
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from tests.llm_fakes import chat_completion
        client = LedgerClient({ledger.url!r}, {ledger.key!r}, company={company!r}, flush_interval=3600)
        response = openai.types.chat.ChatCompletion.model_validate(chat_completion("gpt-4o-2024-08-06"))
        for n in range(3):
            client.track(response, user="parent")
        pid = os.fork()
        if pid == 0:
            client.track(response, user="child")
            client.close(30)
            print(json.dumps(client.stats()), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        import multiprocessing  # its children end with os._exit: no atexit, its own finalizers instead
        worker = multiprocessing.get_context("fork").Process(target=client.track, args=(response,),
                                                             kwargs={{"user": "multiprocessing"}})
        worker.start()
        worker.join()
        client.close(30)
        print(json.dumps(client.stats()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    child, parent = (json.loads(line) for line in done.stdout.splitlines())
    assert (child["sent"], parent["sent"]) == (1, 3)
    assert sorted(row.user_id for row in ledger.rows(company)) == ["child", "multiprocessing", "parent", "parent",
                                                                  "parent"]


def _chat_completion():
    return openai.types.chat.ChatCompletion.model_validate(llm_fakes.chat_completion(llm_fakes.OPENAI_CHAT_MODEL))
