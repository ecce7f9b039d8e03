"""The provider quirks table, key resolution, and provider endpoint helpers.

Per-provider differences live in one table (:data:`QUIRKS`) instead of ``if provider == …``
scattered through the translator; a provider row in config picks its row with ``quirks = …``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from hybridcc.config.schema import OllamaSettings, Provider
from hybridcc.errors import AuthError

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


@dataclass(frozen=True)
class Quirks:
    """How one family of providers differs from the plain OpenAI / Anthropic wire."""

    name: str
    auth: Literal["x-api-key", "bearer"] = "bearer"  # Anthropic-wire auth header form
    schema_drop: frozenset[str] = frozenset()  # JSON-schema keywords to remove from tool schemas
    allowed_formats: frozenset[str] | None = None  # None: keep every "format"
    reasoning_param: ReasoningParam = "none"  # how `thinking` is expressed upstream
    replay_reasoning: bool = False  # send thinking back as `reasoning_content` (DeepSeek)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    system_in_place: bool = True  # mid-conversation system messages stay system messages
    tool_result_images: bool = True  # images inside tool results may be sent as image parts
    send_user: bool = True  # metadata.user_id → `user`
    top_k: bool = False
    # Anthropic-wire passthrough: request fields and content-block keys the provider rejects.
    strip_fields: frozenset[str] = frozenset()
    strip_cache_control: bool = False
    local_count_tokens: bool = False  # provider has no /v1/messages/count_tokens


QUIRKS: Final[dict[str, Quirks]] = {
    q.name: q
    for q in (
        Quirks("generic"),
        Quirks("openai", max_tokens_field="max_completion_tokens"),
        Quirks("openrouter", reasoning_param="openrouter", top_k=True),
        Quirks(
            "gemini",
            schema_drop=GEMINI_SCHEMA_DROP,
            allowed_formats=GEMINI_FORMATS,
            reasoning_param="reasoning_effort",
            system_in_place=False,
            send_user=False,
        ),
        Quirks("deepseek", auth="x-api-key", replay_reasoning=True, local_count_tokens=True),
        Quirks("anthropic", auth="x-api-key"),
        Quirks(
            "ollama",
            top_k=True,
            tool_result_images=False,
            strip_fields=frozenset({"tool_choice", "context_management"}),
            strip_cache_control=True,
            local_count_tokens=True,
        ),
        Quirks("moonshot", auth="bearer", local_count_tokens=True),
    )
}


def quirks_for(provider: Provider) -> Quirks:
    q = QUIRKS.get(provider.quirks, QUIRKS["generic"])
    if provider.auth and provider.auth != q.auth:
        from dataclasses import replace

        q = replace(q, auth=provider.auth)
    return q


def key_source(provider: Provider) -> str:
    """Where the key comes from, for humans: never the key itself."""
    if provider.api_key:
        return "inline api_key in config.toml"
    if provider.api_key_env:
        return f"${provider.api_key_env}"
    if provider.api_key_cmd:
        return f"command `{provider.api_key_cmd}`"
    return "no key needed"


def resolve_key(provider: Provider, *, env: dict[str, str] | None = None, timeout: float = 15.0) -> str | None:
    """The provider's API key from its source; None when it needs none. Raises AuthError."""
    environ = os.environ if env is None else env
    if provider.api_key:
        return provider.api_key
    if provider.api_key_env:
        value = environ.get(provider.api_key_env, "").strip()
        if not value:
            raise AuthError(
                f"provider {provider.name}: no API key — {provider.api_key_env} is not set",
                hint=f"export {provider.api_key_env}=… (or set providers.{provider.name}.api_key_cmd in config.toml)",
            )
        return value
    if provider.api_key_cmd:
        try:
            argv = shlex.split(provider.api_key_cmd)
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise AuthError(
                f"provider {provider.name}: api_key_cmd `{provider.api_key_cmd}` could not run ({exc})",
                hint=f"fix providers.{provider.name}.api_key_cmd in config.toml",
            ) from exc
        value = done.stdout.strip()
        if done.returncode != 0 or not value:
            why = f"exit {done.returncode}" if done.returncode else "printed nothing"
            raise AuthError(
                f"provider {provider.name}: api_key_cmd `{provider.api_key_cmd}` failed ({why})",
                hint="run that command yourself to see why, then fix it in config.toml",
            )
        return value.splitlines()[0].strip()
    return None


def key_ready(provider: Provider, env: dict[str, str] | None = None) -> bool:
    """True when a key is available or none is needed; never runs api_key_cmd."""
    if provider.api_key_cmd or provider.api_key:
        return True
    if provider.api_key_env:
        return bool((os.environ if env is None else env).get(provider.api_key_env, "").strip())
    return True


def ollama_base_url(settings: OllamaSettings, env: dict[str, str] | None = None) -> str:
    """``http://127.0.0.1:11434`` from ``OLLAMA_HOST`` (as Ollama reads it) or ``[ollama].host``."""
    environ = os.environ if env is None else env
    host = environ.get("OLLAMA_HOST") or settings.host
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::", ""):  # a bind-all address is reached through loopback
        hostname = "127.0.0.1"
    port = parts.port or 11434
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{parts.scheme}://{hostname}:{port}"


def is_local_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def upstream_base(provider: Provider, settings: OllamaSettings) -> str:
    if provider.api == "ollama":
        return provider.base_url or ollama_base_url(settings)
    assert provider.base_url is not None  # the validator requires it for other wires
    return provider.base_url
