"""Provider-native usage objects → our token usage, with `genai-prices`' own extractors.

Clients may send the ``usage`` object of a provider's response instead of counting tokens
themselves. How each format's fields map to ours (totals include their parts):

| ours | OpenAI Chat Completions | OpenAI Responses | Anthropic Messages | Gemini ``usageMetadata`` |
| --- | --- | --- | --- | --- |
| input | ``prompt_tokens`` | ``input_tokens`` | ``input_tokens + cache_creation_input_tokens + cache_read_input_tokens`` | ``promptTokenCount + toolUsePromptTokenCount`` |
| cached input | ``prompt_tokens_details.cached_tokens`` | ``input_tokens_details.cached_tokens`` | ``cache_read_input_tokens`` | ``cachedContentTokenCount`` |
| cache writes (1 h) | — | — | ``cache_creation_input_tokens`` (``cache_creation.ephemeral_1h_input_tokens``) | — |
| input audio | ``prompt_tokens_details.audio_tokens`` | — | — | ``promptTokensDetails[AUDIO]`` |
| output | ``completion_tokens`` | ``output_tokens`` | ``output_tokens`` | ``candidatesTokenCount + thoughtsTokenCount`` |
| reasoning | ``completion_tokens_details.reasoning_tokens`` | ``output_tokens_details.reasoning_tokens`` | — (in ``output_tokens``) | ``thoughtsTokenCount`` |
| output audio | ``completion_tokens_details.audio_tokens`` | — | — | ``candidatesTokensDetails[AUDIO]`` |

Gemini's usage comes in two spellings, both read: the REST API's camelCase (``promptTokenCount``)
and the google-genai SDK's snake_case (``usage_metadata.model_dump()``: ``prompt_token_count``,
``candidates_token_count``, ``thoughts_token_count``, ``prompt_tokens_details[].token_count`` …,
with ``None`` for what is absent). Mixing the two in one object is refused.

Anthropic's ``input_tokens`` excludes cache reads and writes, OpenAI's ``prompt_tokens`` includes
cached tokens, Gemini's ``candidatesTokenCount`` excludes thinking: the extractors add what each
leaves out, so no token is dropped or counted twice.
"""

from __future__ import annotations

from typing import Any

import genai_prices

from app.pricing.catalog import normalise_provider
from app.pricing.usage import TokenUsage

# format → (genai-prices provider id, api flavor, key the usage object sits under in a response)
FORMATS: dict[str, tuple[str, str, str]] = {
    "openai-chat": ("openai", "chat", "usage"),
    "openai-responses": ("openai", "responses", "usage"),
    "anthropic": ("anthropic", "default", "usage"),
    "gemini": ("google", "default", "usageMetadata"),
}


class NativeUsageError(ValueError):
    """The usage object is not in a format we can read; the message says why."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _gemini_rest_form(usage: Any) -> Any:
    """A Gemini usage object in the REST API's camelCase, from either spelling; ``None`` values
    (what google-genai's model_dump() gives for absent fields) left out."""
    if isinstance(usage, list):
        return [_gemini_rest_form(item) for item in usage]
    if not isinstance(usage, dict):
        return usage
    converted: dict[str, Any] = {}
    for key, value in usage.items():
        if value is None:
            continue
        name = _camel(key) if isinstance(key, str) else key
        if name in converted:
            raise NativeUsageError(f"Gemini usage names {name!r} twice (in camelCase and snake_case): send one spelling.")
        converted[name] = _gemini_rest_form(value)
    return converted


def detect_format(provider: str, usage: dict[str, Any]) -> str:
    """The usage object's format, from its own field names and, where those agree, the provider."""
    if {"promptTokenCount", "candidatesTokenCount", "prompt_token_count", "candidates_token_count"} & usage.keys():
        return "gemini"
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return "openai-chat"
    if {"cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"} & usage.keys():
        return "anthropic"
    if "input_tokens" in usage:
        if normalise_provider(provider) == "anthropic":
            return "anthropic"
        if "input_tokens_details" in usage or normalise_provider(provider) in ("openai", "azure"):
            return "openai-responses"
    raise NativeUsageError(f"Cannot tell the format of this usage object; set usageFormat to one of "
                           f"{', '.join(FORMATS)}.")


def token_usage(provider: str, usage: dict[str, Any], usage_format: str | None = None) -> TokenUsage:
    """Our token usage from a provider's usage object (format detected when not given)."""
    fmt = usage_format or detect_format(provider, usage)
    provider_id, flavor, key = FORMATS[fmt]
    if fmt == "gemini":
        usage = _gemini_rest_form(usage)
    try:
        _, extracted = genai_prices.data_snapshot.get_snapshot().find_provider(None, provider_id, None).extract_usage(
            {key: usage}, api_flavor=flavor)
        tokens = TokenUsage.from_genai(extracted)
    except (ValueError, TypeError, KeyError) as exc:
        raise NativeUsageError(f"Not a valid {fmt} usage object: {exc}") from exc
    if problems := tokens.problems():
        raise NativeUsageError(f"Inconsistent {fmt} usage object: " + "; ".join(
            f"{name}: {message}" for name, message in problems.items()))
    return tokens
