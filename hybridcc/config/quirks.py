"""The provider quirks table: how each family of providers differs from the plain wire.

Per-provider differences live in one table (:data:`QUIRKS`) instead of ``if provider == …``
scattered through the translator; a provider row in config picks its row with ``quirks = …``.
It is data about providers, so it lives with the config schema that validates ``quirks = …``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from hybridcc.config.schema import Provider

# JSON-schema keywords Gemini's OpenAI endpoint rejects in tool parameters (shared/PROTOCOL.md).
GEMINI_SCHEMA_DROP: Final = frozenset(
    {
        "$schema", "additionalProperties", "propertyNames", "$comment", "$id", "patternProperties",
        "exclusiveMinimum", "exclusiveMaximum", "const", "default", "examples", "$ref", "$defs",
        "definitions", "unevaluatedProperties", "contentEncoding", "contentMediaType", "if", "then",
        "else", "dependentRequired", "dependentSchemas", "minContains", "maxContains", "title",
    }
)  # fmt: skip
# Gemini accepts only these string formats; others are dropped.
GEMINI_FORMATS: Final = frozenset({"enum", "date-time"})

ReasoningParam = Literal["none", "reasoning_effort", "openrouter"]
ResponseFormat = Literal["json_schema", "json_object", "none"]


@dataclass(frozen=True)
class Quirks:
    """How one family of providers differs from the plain OpenAI / Anthropic wire."""

    name: str
    auth: Literal["x-api-key", "bearer"] = "bearer"  # Anthropic-wire auth header form
    schema_drop: frozenset[str] = frozenset()  # JSON-schema keywords to remove from tool schemas
    allowed_formats: frozenset[str] | None = None  # None: keep every "format"
    reasoning_param: ReasoningParam = "none"  # how `thinking` / `output_config.effort` is expressed upstream
    replay_reasoning: bool = False  # send thinking back as `reasoning_content` (DeepSeek, Kimi thinking)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    system_in_place: bool = True  # mid-conversation system messages stay system messages
    tool_result_images: bool = True  # images inside tool results may be sent as image parts
    send_user: bool = True  # metadata.user_id → `user`
    top_k: bool = False
    # OpenAI wire: `output_config.format` (structured output) → `response_format` of this kind.
    response_format: ResponseFormat = "json_schema"
    strict_tools: bool = False  # OpenAI wire: tools may carry `function.strict` (OpenAI's own API)
    # Anthropic-wire passthrough: request fields and content-block keys the provider rejects.
    strip_fields: frozenset[str] = frozenset()
    strip_cache_control: bool = False
    local_count_tokens: bool = False  # provider has no /v1/messages/count_tokens
    # Passthrough, sessions across providers (issue 13): does this provider take earlier
    # thinking blocks back, and does it verify their signatures (then unsigned ones must go)?
    keep_thinking: bool = False
    signed_thinking: bool = False
    # Passthrough: the provider understands ToolSearch's `tool_reference` blocks and tools
    # with `defer_loading`; elsewhere the proxy resolves them (anthropic_body.resolve_tool_search).
    tool_search: bool = False
    # OpenAI wire, streamed: ask for `return_progress` (llama.cpp's `prompt_progress` chunks while
    # it reads the prompt), shown by the status line and `run -p` (issue 17).
    prompt_progress: bool = False


QUIRKS: Final[dict[str, Quirks]] = {
    q.name: q
    for q in (
        Quirks("generic"),
        Quirks("openai", max_tokens_field="max_completion_tokens", strict_tools=True),
        # Serves both OpenRouter wires: the OpenAI endpoint (translated) and the Anthropic one
        # (https://openrouter.ai/api, Bearer with ANTHROPIC_API_KEY empty — shared/PROVIDERS.md).
        Quirks("openrouter", reasoning_param="openrouter", top_k=True),
        Quirks(
            "gemini",
            schema_drop=GEMINI_SCHEMA_DROP,
            allowed_formats=GEMINI_FORMATS,
            reasoning_param="reasoning_effort",
            system_in_place=False,
            send_user=False,
        ),
        # DeepSeek's OpenAI endpoint takes only `json_object`; its thinking mode needs reasoning back.
        Quirks(
            "deepseek",
            auth="x-api-key",
            replay_reasoning=True,
            local_count_tokens=True,
            response_format="json_object",
            keep_thinking=True,
        ),
        Quirks("anthropic", auth="x-api-key", keep_thinking=True, signed_thinking=True, tool_search=True),
        Quirks(
            "ollama",
            top_k=True,
            tool_result_images=False,
            strip_fields=frozenset({"tool_choice", "context_management"}),
            strip_cache_control=True,
            local_count_tokens=True,
        ),
        # Kimi (https://api.moonshot.ai/anthropic, Bearer): kimi-k2-thinking wants its reasoning
        # kept across tool calls, on both wires.
        Quirks("moonshot", auth="bearer", local_count_tokens=True, replay_reasoning=True, keep_thinking=True),
        # Z.ai GLM (https://api.z.ai/api/anthropic, Bearer via ANTHROPIC_AUTH_TOKEN in its guide).
        Quirks("zai", auth="bearer", local_count_tokens=True),
        # MiniMax (https://api.minimax.io/anthropic): text and tools only, no images; its guide
        # asks for the full assistant content (thinking included) to be replayed.
        Quirks("minimax", auth="bearer", local_count_tokens=True, tool_result_images=False, keep_thinking=True),
        # Alibaba Model Studio / DashScope (…/apps/anthropic): Qwen-Coder models have no thinking,
        # so Claude Code's `thinking` request field is not forwarded.
        Quirks("dashscope", auth="bearer", local_count_tokens=True, strip_fields=frozenset({"thinking"})),
        # Local servers with /v1/messages. llama-server also serves /v1/messages/count_tokens.
        Quirks("llamacpp", top_k=True, prompt_progress=True),
        Quirks("vllm", top_k=True, local_count_tokens=True),
        Quirks("lmstudio", top_k=True, local_count_tokens=True),
    )
}


def quirks_for(provider: Provider) -> Quirks:
    q = QUIRKS.get(provider.quirks, QUIRKS["generic"])
    if provider.auth and provider.auth != q.auth:
        q = replace(q, auth=provider.auth)
    return q
