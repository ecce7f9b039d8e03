"""Plain-data views of the config for `profile list/show` and `config show` (never a key)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hybridcc.config.schema import Config, Profile
from hybridcc.errors import HybridccError
from hybridcc.fsutil import mask_secret
from hybridcc.providers import is_local_url, key_ready, key_source, resolve_key, upstream_base

KEY_CMD_TIMEOUT = 3.0  # seconds: `profile show` runs an api_key_cmd to say whether it works


def readiness(config: Config, profile: Profile, *, run_key_cmd: bool = False) -> tuple[bool | None, str]:
    """Would `hybridcc run` on this profile start a session? (True/False, or None: not checked)
    and why, in a few words. Network checks are short (a local Ollama answers in milliseconds)."""
    import shutil

    provider = config.providers[profile.provider]
    if provider.api == "ollama":
        from hybridcc.services.ollama import server_version

        url = upstream_base(provider, config.ollama)
        if server_version(url, timeout=0.5) is not None:
            return True, "Ollama answers"
        if not is_local_url(url):
            return False, f"no Ollama server at {url}"
        if shutil.which(config.ollama.binary):
            return True, "hybridcc starts Ollama"
        return False, "Ollama is not installed"
    if provider.quirks == "anthropic" and not key_ready(provider):
        return True, "your own claude login"  # `run` starts claude untouched (launch.direct_anthropic)
    if provider.api_key_cmd and not provider.api_key:
        if not run_key_cmd:
            return None, "key command not run (`hybridcc profile show NAME` runs it)"
        try:
            resolve_key(provider, timeout=KEY_CMD_TIMEOUT)
        except HybridccError:
            return False, "key command failed"
        return True, "key command works"
    if not key_ready(provider):
        return False, f"{key_source(provider)} is not set"
    base = upstream_base(provider, config.ollama)
    if is_local_url(base) and not _answers(base):
        return False, f"nothing listens at {base}"  # a local server (llama.cpp, vLLM, LM Studio) not started
    return True, "key set" if (provider.api_key or provider.api_key_env) else "no key needed"


def _answers(url: str, timeout: float = 0.3) -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def profile_info(config: Config, profile: Profile, *, run_key_cmd: bool = False) -> dict[str, Any]:
    provider = config.providers[profile.provider]
    ready, why = readiness(config, profile, run_key_cmd=run_key_cmd)
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
        "ready": ready,
        "ready_detail": why,
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
