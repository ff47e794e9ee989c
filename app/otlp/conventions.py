"""The OpenTelemetry GenAI semantic conventions this ingest reads: attribute names, old and new, and
the providers they name, in the ledger's spelling.

Where the conventions renamed an attribute, or instrumentations in use spell it differently, every
spelling is listed, the current one first: the first a span carries is read.
"""

from __future__ import annotations

PROVIDER = ("gen_ai.provider.name", "gen_ai.system")  # gen_ai.system: before semantic conventions 1.37
# The model that answered, else the one asked for (`gpt-4o-2024-08-06` rather than `gpt-4o`).
MODEL = ("gen_ai.response.model", "gen_ai.request.model")
OPERATION = "gen_ai.operation.name"
ERROR_TYPE = "error.type"
# OpenAI's service tier that served the request (flex and priority are priced differently).
SERVICE_TIER = ("openai.response.service_tier", "gen_ai.openai.response.service_tier")

# The call's token fields (the ingest API's names) → the attributes that count them. The conventions
# count cached and cache-write tokens within gen_ai.usage.input_tokens, and reasoning tokens within
# gen_ai.usage.output_tokens — as the ledger does (app.token_types): no arithmetic is needed.
TOKENS: dict[str, tuple[str, ...]] = {
    "inputTokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "outputTokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cachedInputTokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"),
    "cacheWriteTokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
                         "gen_ai.usage.cache_creation_input_tokens"),
    "reasoningTokens": ("gen_ai.usage.reasoning.output_tokens",),
}

# `gen_ai.provider.name` / `gen_ai.system` values → the provider as the ledger spells it (a name
# app.pricing.catalog.normalise_provider resolves to the price catalog's provider). Any other value is
# kept as sent: the call is stored, and priced if the catalog knows the provider by that name.
PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "gemini",  # Gemini API (AI Studio) → google
    "gemini": "gemini",
    "gcp.vertex_ai": "vertex_ai",  # Vertex AI → google
    "vertex_ai": "vertex_ai",
    "gcp.gen_ai": "google",  # either of the two, unspecified
    "aws.bedrock": "bedrock",  # → aws
    "azure.ai.openai": "azure_openai",  # → azure (OpenAI's models at Azure's prices)
    "az.ai.openai": "azure_openai",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "x_ai": "xai",  # → x-ai
    "xai": "xai",
    "mistral_ai": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "ibm.watsonx.ai": "ibm.watsonx.ai",  # not in the catalog: stored unpriced until a price is set
}
