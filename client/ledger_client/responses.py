"""What a response of an official LLM SDK says about its call: provider, model and the provider's own
usage object, read by attribute (or key, for the plain JSON of the REST APIs) — no SDK is imported.

| SDK | object | provider | model | usage sent as (`usageFormat`) |
| --- | --- | --- | --- | --- |
| openai | `ChatCompletion`, `ChatCompletionChunk` (`object` "chat.completion[.chunk]") | openai | `model` | `usage` (openai-chat) |
| openai | `Response` (`object` "response"); the `response.completed`, `.incomplete`, `.failed` events | openai | `model` | `usage` (openai-responses) |
| anthropic | `Message` (`type` "message"); the `message_start` + `message_delta` events | anthropic | `model` | `usage` (anthropic) |
| google-genai | `GenerateContentResponse` (`usage_metadata`) | google | `model_version` | `usage_metadata`, keys in camelCase (gemini) |

The usage object is sent as the provider gave it (`None`s left out) and the ledger prices it with
genai-prices' extractors, so a token type added by a provider needs no change here. google-genai's
pydantic fields are snake_case (`prompt_token_count`); the REST form the ledger reads is camelCase
(`promptTokenCount`), so Gemini's keys are converted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

# The service tiers the ledger prices (its `serviceTier`); a response's other tiers are not sent.
SERVICE_TIERS = frozenset({"standard", "default", "auto", "batch", "flex", "priority", "fast"})
# OpenAI Responses stream events that carry the whole response.
RESPONSE_EVENTS = frozenset({"response.created", "response.in_progress", "response.queued", "response.completed",
                             "response.incomplete", "response.failed"})


@dataclass
class Reading:
    """One call as a response tells it."""

    provider: Optional[str]
    model: Optional[str]
    usage: Optional[dict]  # the provider's own usage object, plain JSON
    usage_format: Optional[str]
    response_id: Optional[str] = None
    service_tier: Optional[str] = None
    success: bool = True
    error: Optional[str] = None


def field(obj: Any, *names: str) -> Any:
    """The first of `names` that `obj` has (as an attribute, or a key of a mapping) and is not None."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def plain(obj: Any) -> Any:
    """`obj` as plain JSON values, None values left out (pydantic models of either major version,
    objects with `to_dict`, mappings, sequences)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, enum.Enum):
        return plain(obj.value)
    if isinstance(obj, Mapping):
        return {str(key): plain(value) for key, value in obj.items() if value is not None}
    if isinstance(obj, (list, tuple)):
        return [plain(value) for value in obj]
    dump = getattr(obj, "model_dump", None)
    if callable(dump):  # pydantic 2: plain JSON values already
        try:
            return dump(mode="json", exclude_none=True, warnings=False)
        except TypeError:  # an older model_dump without `warnings`
            return dump(mode="json", exclude_none=True)
    for name in ("to_dict", "dict"):  # pydantic 1, protobuf-style objects
        method = getattr(obj, name, None)
        if callable(method):
            return plain(method())
    if hasattr(obj, "__dict__"):
        return plain({key: value for key, value in vars(obj).items() if not key.startswith("_")})
    return str(obj)


def camel_keys(obj: Any) -> Any:
    """Keys turned to camelCase (`prompt_token_count` → `promptTokenCount`), all the way down."""
    if isinstance(obj, dict):
        return {_camel(key): camel_keys(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [camel_keys(value) for value in obj]
    return obj


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(plain(value))


def _tier(value: Any) -> Optional[str]:
    value = plain(value)
    return value if isinstance(value, str) and value in SERVICE_TIERS else None


def _usage(obj: Any) -> Optional[dict]:
    usage = plain(obj)
    return usage if isinstance(usage, dict) and usage else None


def read(obj: Any) -> Optional[Reading]:
    """The call `obj` (a response, a stream's chunk or event) tells of, or None if it is none of
    the objects above. A chunk or event without usage gives a reading whose usage is None."""
    if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return None
    kind = field(obj, "type")
    if isinstance(kind, str) and kind in RESPONSE_EVENTS:
        inner = field(obj, "response")
        reading = read(inner) if inner is not None else None
        if reading is not None and kind == "response.failed":
            reading = replace(reading, success=False, error=reading.error or "response.failed")
        return reading
    if kind == "chunk" and field(obj, "chunk") is not None:  # openai's chat.completions.stream() events
        return read(field(obj, "chunk"))
    if kind == "message":
        return _anthropic(_text(field(obj, "model")), field(obj, "usage"), _text(field(obj, "id")))
    kind_of_object = field(obj, "object")
    if kind_of_object in ("chat.completion", "chat.completion.chunk"):
        return Reading("openai", _text(field(obj, "model")), _usage(field(obj, "usage")), "openai-chat",
                       _text(field(obj, "id")), _tier(field(obj, "service_tier")))
    if kind_of_object == "response":
        return _responses(obj, _text(field(obj, "model")), field(obj, "usage"), _text(field(obj, "id")))
    usage_metadata = field(obj, "usage_metadata", "usageMetadata")
    if usage_metadata is not None or field(obj, "model_version", "modelVersion") is not None \
            or field(obj, "candidates") is not None:
        usage = _usage(usage_metadata)
        return Reading("google", _text(field(obj, "model_version", "modelVersion")),
                       camel_keys(usage) if usage else None, "gemini", _text(field(obj, "response_id", "responseId")))
    usage = field(obj, "usage")
    if usage is None:
        return None
    model, response_id = _text(field(obj, "model")), _text(field(obj, "id"))
    # No `object` or `type` (e.g. an OpenAI-compatible server's answer as a dict): by the usage's fields.
    fields = _usage(usage) or {}
    if "prompt_tokens" in fields or "completion_tokens" in fields:
        return Reading("openai", model, fields, "openai-chat", response_id, _tier(field(obj, "service_tier")))
    if {"cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"} & fields.keys() \
            or (model or "").startswith("claude"):
        return _anthropic(model, usage, response_id)
    if "input_tokens" in fields:
        return _responses(obj, model, usage, response_id)
    return None


def _responses(obj: Any, model: Optional[str], usage: Any, response_id: Optional[str]) -> Reading:
    failed = field(obj, "status") == "failed"
    error = field(field(obj, "error") or {}, "message") if failed else None
    return Reading("openai", model, _usage(usage), "openai-responses", response_id, _tier(field(obj, "service_tier")),
                   success=not failed, error=_text(error) if failed else None)


def _anthropic(model: Optional[str], usage: Any, response_id: Optional[str]) -> Reading:
    tier = "fast" if field(usage, "speed") == "fast" else _tier(field(usage, "service_tier"))
    return Reading("anthropic", model, _usage(usage), "anthropic", response_id, tier)


class StreamReading:
    """Follows a stream's chunks or events to the call they add up to: OpenAI chat chunks (the last
    carries the usage, with `stream_options={"include_usage": True}`), OpenAI Responses events
    (`response.completed` carries the response), Anthropic events (`message_start`'s usage
    updated by each `message_delta`'s; or `message_stop`'s snapshot from `messages.stream()`),
    Gemini chunks (the last `usage_metadata`)."""

    def __init__(self) -> None:
        self.reading: Optional[Reading] = None
        self.error: Optional[str] = None

    def feed(self, item: Any) -> None:
        kind = field(item, "type")
        if kind == "message_start":
            self._take(read(field(item, "message")))
        elif kind == "message_delta":
            delta = _usage(field(item, "usage"))
            if delta and self.reading is not None:
                self.reading.usage = {**(self.reading.usage or {}), **delta}
        elif kind == "message_stop":
            message = field(item, "message")  # messages.stream()'s snapshot: the final message
            if message is not None:
                self._take(read(message))
        elif kind == "error":
            self.error = _text(field(field(item, "error") or {}, "message") or field(item, "message")) or "error event"
        else:
            self._take(read(item))

    def _take(self, new: Optional[Reading]) -> None:
        if new is None:
            return
        old = self.reading
        if old is None:
            self.reading = new
            return
        self.reading = Reading(
            provider=new.provider or old.provider, model=new.model or old.model,
            usage=new.usage or old.usage,
            usage_format=new.usage_format or old.usage_format, response_id=new.response_id or old.response_id,
            service_tier=new.service_tier or old.service_tier,
            success=old.success and new.success, error=new.error or old.error)
