"""claude-code-router's ``config.json`` for one hybridcc provider, and the model names that route
through it. Pure: no I/O, no key (issue 18 part 3).

Measured with ``@musistudio/claude-code-router`` 2.0.0: it reads ``$HOME/.claude-code-router/
config.json``, replaces ``$VAR``/``${VAR}`` in every string with the environment's value, accepts
its ``APIKEY`` as ``x-api-key`` or ``Authorization: Bearer``, answers ``GET /health`` without a
key, and sends a request whose model is ``"PROVIDER,MODEL"`` straight to that provider and model
(other names go through its ``Router``). So the key is handed over in ccr's environment and the
file names only the variable; hybridcc's profile decides every model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.errors import ConfigError

KEY_VAR: Final = "HYBRIDCC_CCR_API_KEY"  # ccr's environment carries the provider key under this name
# hybridcc quirks row -> ccr's built-in transformer for the same OpenAI-wire endpoint. Not gemini:
# ccr's gemini transformer speaks Gemini's native API, hybridcc's gemini row its OpenAI-wire one.
TRANSFORMERS: Final = {"openrouter": "openrouter", "deepseek": "deepseek"}


def ccr_model(provider: Provider, model: str) -> str:
    """The model name Claude Code sends so ccr routes it to exactly this provider and model."""
    return f"{provider.name},{model}"


def models_for(config: Config, provider: Provider) -> list[str]:
    """Every model a profile (its slots, rules and fallbacks) names on ``provider``, in order."""
    found: dict[str, None] = {}
    for profile in config.profiles.values():
        if profile.provider == provider.name:
            found.update(dict.fromkeys(profile.models()))
        entries = [rule.use for rule in profile.routes] + list(profile.fallback)
        for entry in entries:
            head, sep, model = entry.partition("/")
            if sep and head == provider.name and model:
                found[model] = None
    return list(found)


def check_provider(provider: Provider) -> None:
    """ccr splits ``PROVIDER,MODEL`` at the comma: a comma in the name cannot be routed."""
    if "," in provider.name or not provider.base_url:
        raise ConfigError(
            f'provider "{provider.name}" cannot be served by claude-code-router (its name has a comma or it has no base_url)',
            hint=f"rename [providers.{provider.name}] without a comma and give it a base_url",
        )


def build(
    config: Config, provider: Provider, *, port: int, apikey: str, profile: Profile | None = None
) -> dict[str, Any]:
    """ccr's config for ``provider`` on 127.0.0.1:``port``; ``apikey`` is the key ccr asks of its clients."""
    check_provider(provider)
    assert provider.base_url is not None
    models = models_for(config, provider) or ([profile.model] if profile else [])
    entry: dict[str, Any] = {
        "name": provider.name,
        "api_base_url": provider.base_url.rstrip("/") + "/chat/completions",
        "api_key": f"${KEY_VAR}" if provider.needs_key else "",
        "models": models,
    }
    transformer = TRANSFORMERS.get(provider.quirks)
    if transformer:
        entry["transformer"] = {"use": [transformer]}
    default = ccr_model(provider, profile.model if profile else models[0]) if models else ""
    return {
        "LOG": False,
        "HOST": "127.0.0.1",  # never reachable from another machine
        "PORT": port,
        "APIKEY": apikey,
        "API_TIMEOUT_MS": int(provider.timeout * 1000),
        "Providers": [entry],
        "Router": {"default": default},
    }


def fingerprint(data: dict[str, Any], key: str | None) -> str:
    """Changes when ccr must be restarted: its config (less its own client key, port) or the provider key."""
    stable = {k: v for k, v in data.items() if k not in ("APIKEY", "PORT")}
    h = hashlib.sha256(json.dumps(stable, sort_keys=True).encode())
    h.update(b"\0" + (key or "").encode())
    return h.hexdigest()[:16]
