"""Plain-data views of the config for `profile list/show` and `config show` (never a key)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hybridcc.config.schema import Config, Profile
from hybridcc.fsutil import mask_secret
from hybridcc.providers import key_ready, key_source, upstream_base


def profile_info(config: Config, profile: Profile) -> dict[str, Any]:
    provider = config.providers[profile.provider]
    return {
        "name": profile.name,
        "default": profile.name == config.default_profile,
        "provider": provider.name,
        "api": provider.api,
        "base_url": upstream_base(provider, config.ollama),
        "model": profile.model,
        "small_model": profile.small,
        "big_model": profile.big,
        "context_window": profile.context_window,
        "max_output_tokens": profile.max_output_tokens or provider.max_output_tokens,
        "key_source": key_source(provider),
        "ready": key_ready(provider),
    }


def config_data(config: Config) -> dict[str, Any]:
    """The effective config as TOML-able data, inline keys masked."""
    providers: dict[str, Any] = {}
    for name, p in config.providers.items():
        d = {k: v for k, v in asdict(p).items() if v is not None and k != "name"}
        if "api_key" in d:
            d["api_key"] = mask_secret(d["api_key"])
        providers[name] = d
    profiles = {
        name: {k: v for k, v in asdict(p).items() if v is not None and k != "name"}
        for name, p in config.profiles.items()
    }
    out: dict[str, Any] = {"schema_version": config.schema_version, "default_profile": config.default_profile}
    if config.claude_path:
        out["claude_path"] = config.claude_path
    out["proxy"] = asdict(config.proxy)
    out["ollama"] = asdict(config.ollama)
    out["providers"] = providers
    out["profiles"] = profiles
    return out
