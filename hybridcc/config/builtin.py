"""Built-in providers and profiles: hybridcc works with no config file at all.

A user's config.toml overrides or extends these key by key (see :func:`merge`).
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
            # built-in uses its OpenAI endpoint and translates (shared/PROVIDERS.md).
            "api": "openai",
            "base_url": "https://openrouter.ai/api/v1",
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
        # The generic OpenAI-compatible template: OpenAI itself, and the model for LM Studio,
        # vLLM, Groq or a team gateway added with `hybridcc profile add`.
        "openai": {
            "api": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OPENAI_API_KEY",
            "quirks": "openai",
        },
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
