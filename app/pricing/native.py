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


def detect_format(provider: str, usage: dict[str, Any]) -> str:
    """The usage object's format, from its own field names and, where those agree, the provider."""
    if "promptTokenCount" in usage or "candidatesTokenCount" in usage:
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
