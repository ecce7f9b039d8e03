"""Built-in providers and profiles: hybridcc works with no config file at all.

A user's config.toml overrides or extends these key by key (see :func:`merge`).
Endpoints, key variables and model names follow each provider's own docs (shared/PROVIDERS.md).
"""

from __future__ import annotations

import copy
from typing import Any, Final

BUILTIN: Final[dict[str, Any]] = {
    "schema_version": 1,
    "default_profile": "ollama",
    "providers": {
        "anthropic": {
            "api": "anthropic",
            "base_url": "https://api.anthropic.com",
            "api_key_env": "ANTHROPIC_API_KEY",
            "quirks": "anthropic",
        },
        "openrouter": {
            # OpenRouter's Anthropic endpoint is only guaranteed for Anthropic models, so the
            # general built-in uses its OpenAI endpoint and translates (shared/PROVIDERS.md).
            "api": "openai",
            "base_url": "https://openrouter.ai/api/v1",
            "api_key_env": "OPENROUTER_API_KEY",
            "quirks": "openrouter",
        },
        # …and its Anthropic endpoint for Claude models through OpenRouter, passed through.
        "openrouter-anthropic": {
            "api": "anthropic",
            "base_url": "https://openrouter.ai/api",
            "api_key_env": "OPENROUTER_API_KEY",
            "quirks": "openrouter",
        },
        "ollama": {"api": "ollama", "quirks": "ollama"},
        "deepseek": {
            "api": "anthropic",
            "base_url": "https://api.deepseek.com/anthropic",
            "api_key_env": "DEEPSEEK_API_KEY",
            "quirks": "deepseek",
            "max_output_tokens": 8192,
        },
        "gemini": {
            "api": "openai",
            "base_url": "https://generativelanguage.googleapis.com/v1beta/openai",
            "api_key_env": "GEMINI_API_KEY",
            "quirks": "gemini",
        },
        # The generic OpenAI-compatible template: OpenAI itself, and the model for Groq, Together
        # or a team gateway added with `hybridcc profile add`.
        "openai": {
            "api": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OPENAI_API_KEY",
            "quirks": "openai",
        },
        # Providers that speak Anthropic natively (issue 13): passthrough, Bearer keys.
        "moonshot": {
            "api": "anthropic",
            "base_url": "https://api.moonshot.ai/anthropic",
            "api_key_env": "MOONSHOT_API_KEY",
            "quirks": "moonshot",
        },
        "zai": {
            "api": "anthropic",
            "base_url": "https://api.z.ai/api/anthropic",
            "api_key_env": "ZAI_API_KEY",
            "quirks": "zai",
        },
        "minimax": {
            "api": "anthropic",
            "base_url": "https://api.minimax.io/anthropic",
            "api_key_env": "MINIMAX_API_KEY",
            "quirks": "minimax",
        },
        "dashscope": {
            # International endpoint; keys are region-bound (China: dashscope.aliyuncs.com).
            "api": "anthropic",
            "base_url": "https://dashscope-intl.aliyuncs.com/apps/anthropic",
            "api_key_env": "DASHSCOPE_API_KEY",
            "quirks": "dashscope",
        },
        # Local servers serving /v1/messages on their default ports; no key (start them with
        # --api-key and set api_key_env if you want one). Long timeouts: CPU prefill is slow.
        "llamacpp": {"api": "anthropic", "base_url": "http://127.0.0.1:8080", "quirks": "llamacpp", "timeout": 1800.0},
        "vllm": {"api": "anthropic", "base_url": "http://127.0.0.1:8000", "quirks": "vllm", "timeout": 1800.0},
        "lmstudio": {"api": "anthropic", "base_url": "http://127.0.0.1:1234", "quirks": "lmstudio", "timeout": 1800.0},
    },
    "profiles": {
        "anthropic": {
            "provider": "anthropic",
            "model": "claude-sonnet-4-6",
            "small_model": "claude-haiku-4-5",
            "big_model": "claude-opus-4-7",
        },
        "openrouter": {
            "provider": "openrouter",
            "model": "qwen/qwen3-coder",
            "small_model": "google/gemini-2.5-flash",
            "context_window": 262144,
        },
        "openrouter-anthropic": {
            "provider": "openrouter-anthropic",
            "model": "anthropic/claude-sonnet-4.5",
            "small_model": "anthropic/claude-haiku-4.5",
            "big_model": "anthropic/claude-opus-4.5",
            "context_window": 200000,
        },
        "ollama": {"provider": "ollama", "model": "qwen3-coder:30b", "context_window": 65536},
        "deepseek": {
            "provider": "deepseek",
            "model": "deepseek-chat",
            "big_model": "deepseek-reasoner",
            "context_window": 131072,
            "max_output_tokens": 8192,
        },
        "gemini": {
            "provider": "gemini",
            "model": "gemini-2.5-pro",
            "small_model": "gemini-2.5-flash",
            "context_window": 1048576,
        },
        "openai": {"provider": "openai", "model": "gpt-4.1", "small_model": "gpt-4.1-mini"},
        "kimi": {
            "provider": "moonshot",
            "model": "kimi-k2-0905-preview",
            "small_model": "kimi-k2-turbo-preview",
            "big_model": "kimi-k2-thinking",
            "context_window": 262144,
        },
        "glm": {"provider": "zai", "model": "glm-4.6", "small_model": "glm-4.5-air", "context_window": 200000},
        "minimax": {"provider": "minimax", "model": "MiniMax-M2", "context_window": 204800},
        "qwen": {
            "provider": "dashscope",
            "model": "qwen3-coder-plus",
            "small_model": "qwen3-coder-flash",
            "context_window": 1000000,
        },
        # Local templates: the window comes from the server (llama.cpp /props) or context_window;
        # set `model` to what the server serves (vLLM --served-model-name, LM Studio's model id).
        "llamacpp": {"provider": "llamacpp", "model": "local"},
        "vllm": {"provider": "vllm", "model": "Qwen/Qwen3-Coder-30B-A3B-Instruct"},
        "lmstudio": {"provider": "lmstudio", "model": "qwen/qwen3-coder-30b"},
    },
}

# Keys that say where a provider's key comes from: a user's table that sets one of them
# replaces the built-in source instead of adding a second one.
KEY_SOURCES: Final = ("api_key_env", "api_key_cmd", "api_key")


def builtin_data() -> dict[str, Any]:
    return copy.deepcopy(BUILTIN)


def merge(user: dict[str, Any]) -> dict[str, Any]:
    """Built-ins overlaid with the user's data, key by key inside each provider and profile."""
    out = builtin_data()
    for key, value in user.items():
        if key in ("providers", "profiles") and isinstance(value, dict):
            section: dict[str, Any] = out[key]
            for name, table in value.items():
                base = section.get(name)
                if isinstance(base, dict) and isinstance(table, dict):
                    merged = dict(base)
                    if key == "providers" and any(k in table for k in KEY_SOURCES):
                        for k in KEY_SOURCES:
                            merged.pop(k, None)
                    merged.update(table)
                    section[name] = merged
                else:
                    section[name] = table
        elif key in ("proxy", "ollama") and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out
