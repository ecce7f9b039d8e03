"""LiteLLM's proxy config (``model_list``, ``router_settings``…) built from hybridcc's profiles.

Secrets never enter the file: every key is an ``os.environ/VAR`` reference that LiteLLM resolves
when it starts, the master key included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.errors import UsageError
from hybridcc.providers import upstream_base

MASTER_KEY_ENV: Final = "LITELLM_MASTER_KEY"
# LiteLLM's docs use this master key in every example; a gateway holding it is open to anyone.
DOCUMENTED_DEFAULT_KEY: Final = "sk-1234"
# LiteLLM's prefix for a model's provider: which wire it speaks upstream.
_PREFIX: Final = {"openai": "openai", "anthropic": "anthropic", "ollama": "ollama_chat"}
# Environment LiteLLM needs to start offline and fast: its bundled price map instead of a fetch
# from the network at import time (before any config is read, so it cannot live in the file).
OFFLINE_ENV: Final = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@dataclass(frozen=True)
class GatewayOptions:
    redis_url: str | None = None  # redis://HOST:PORT shared by every instance (rate limits)
    redis_password_env: str | None = None
    rpm: int | None = None  # requests per minute per model, counted across instances with Redis
    num_retries: int = 0  # hybridcc's proxy and Claude Code retry; the gateway answers at once


def key_env(provider: Provider) -> str | None:
    """The variable LiteLLM reads this provider's key from (a command or inline key is given to
    the instance under a derived name by `gateway start`, never written to the file)."""
    if provider.api_key_env:
        return provider.api_key_env
    if provider.api_key_cmd or provider.api_key:
        return "HYBRIDCC_GATEWAY_KEY_" + re.sub(r"[^A-Z0-9]", "_", provider.name.upper())
    return None


def _deployment(config: Config, provider: Provider, model: str, options: GatewayOptions) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": f"{_PREFIX[provider.api]}/{model}",
        "api_base": upstream_base(provider, config.ollama),
    }
    var = key_env(provider)
    if var:
        params["api_key"] = f"os.environ/{var}"
    elif provider.api == "openai":
        params["api_key"] = "none"  # LiteLLM's OpenAI client refuses to start a call without one
    params["timeout"] = provider.timeout
    if options.rpm:
        params["rpm"] = options.rpm
    return {"model_name": model, "litellm_params": params}


def model_list(config: Config, profiles: Sequence[Profile], options: GatewayOptions) -> list[dict[str, Any]]:
    """One deployment per (provider, model) of the profiles; the gateway's model names are the
    upstream names, so a developer's profile names them exactly as the provider does."""
    seen: set[tuple[str, str]] = set()
    out = []
    for profile in profiles:
        provider = config.providers[profile.provider]
        for model in profile.models():
            if (provider.name, model) not in seen:
                seen.add((provider.name, model))
                out.append(_deployment(config, provider, model, options))
    return out


def _redis(options: GatewayOptions) -> dict[str, Any]:
    if not options.redis_url:
        return {}
    parts = urlsplit(options.redis_url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or parts.password:
        raise UsageError(
            f"--redis {options.redis_url.split('@')[-1]}: expected redis://HOST:PORT (no password in the URL)",
            hint="pass the password's variable with --redis-password-env VAR",
        )
    out: dict[str, Any] = {"redis_host": parts.hostname, "redis_port": parts.port or 6379}
    if options.redis_password_env:
        out["redis_password"] = f"os.environ/{options.redis_password_env}"
    return out


def build(config: Config, profiles: Sequence[Profile], options: GatewayOptions) -> dict[str, Any]:
    """The whole proxy config as data (see :func:`render`)."""
    if not profiles:
        raise UsageError("no profile to serve", hint="pass --profile NAME (repeat it for several)")
    router: dict[str, Any] = {"routing_strategy": "simple-shuffle", "num_retries": options.num_retries}
    router.update(_redis(options))
    if options.rpm:
        # rpm on a deployment is a hard limit only with pre-call checks; with Redis the counts
        # are shared by every instance (LiteLLM's multi-instance rpm test, docs "load_test_rpm").
        router["enable_pre_call_checks"] = True
        router["routing_strategy"] = "usage-based-routing-v2"
    return {
        "model_list": model_list(config, profiles, options),
        "router_settings": router,
        "litellm_settings": {
            "drop_params": True,
            "num_retries": options.num_retries,
            # /v1/messages to an OpenAI-wire model: call its chat-completions endpoint (what every
            # OpenAI-compatible server speaks), not the Responses API LiteLLM would pick.
            "use_chat_completions_url_for_anthropic_messages": True,
            "telemetry": False,
        },
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }


def render(data: dict[str, Any], *, header: Sequence[str] = ()) -> str:
    """YAML text for LiteLLM: comment lines, then the data as indented JSON (JSON is YAML's flow
    style, so LiteLLM's ``yaml.safe_load`` reads it and no YAML library is needed here)."""
    head = [f"# {line}".rstrip() for line in header]
    return "\n".join([*head, json.dumps(data, indent=2)]) + "\n"


def _header(profiles: Sequence[Profile]) -> list[str]:
    return [
        f"LiteLLM proxy config written by `hybridcc gateway config` (profiles: {', '.join(p.name for p in profiles)}).",
        "Run it with `hybridcc gateway start`: it binds 127.0.0.1 unless told otherwise (--host). Keys",
        f"are os.environ/VAR references read when LiteLLM starts; the master key is ${MASTER_KEY_ENV}.",
        "Started by hand: export LITELLM_LOCAL_MODEL_COST_MAP=True first (no price-map fetch at start).",
    ]


_ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


def referenced_env(text: str) -> list[str]:
    """The variables a config file reads with ``os.environ/VAR``, in order, once each."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return list(dict.fromkeys(_ENV_REF.findall(body)))


def generate(config: Config, profiles: Sequence[Profile], options: GatewayOptions, *, path: Path | None) -> str:
    """The config text for ``profiles``; written atomically (0600) to ``path`` when given."""
    text = render(build(config, profiles, options), header=_header(profiles))
    if path is not None:
        from hybridcc.config.edit import write_config_text

        write_config_text(path, text, mode=0o600, backup=path.exists())
    return text
