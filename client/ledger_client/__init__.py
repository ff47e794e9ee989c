"""llm-ledger-client: record the LLM calls of a Python service in the LLM cost ledger.

    from ledger_client import LedgerClient

    ledger = LedgerClient("http://ledger.internal:8000", api_key)
    response = openai_client.chat.completions.create(model="gpt-4o", messages=[...])
    ledger.track(response, user="u42", assistant="support", endpoint="/chat")

Its only dependency is urllib3; no LLM SDK is imported (their responses are read by attribute).
"""

__version__ = "0.1.0"

from ledger_client.client import LedgerClient, Timed  # noqa: E402
from ledger_client.responses import Reading, read  # noqa: E402
from ledger_client.streams import AsyncTrackedStream, TrackedStream  # noqa: E402

__all__ = ["LedgerClient", "Timed", "Reading", "read", "TrackedStream", "AsyncTrackedStream", "__version__"]
