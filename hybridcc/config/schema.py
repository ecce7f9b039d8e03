"""The configuration as frozen dataclasses: what every other module reads.

The validator that builds them from TOML data is :mod:`hybridcc.config.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

SCHEMA_VERSION: Final = 1

Api = Literal["anthropic", "openai", "ollama"]
APIS: Final = ("anthropic", "openai", "ollama")
AuthStyle = Literal["x-api-key", "bearer"]


@dataclass(frozen=True)
class Provider:
    name: str
    api: Api
    base_url: str | None = None  # None only for api = "ollama": taken from [ollama].host
    api_key_env: str | None = None
    api_key_cmd: str | None = None
    api_key: str | None = None
    quirks: str = "generic"  # row of the quirks table in hybridcc.config.quirks
    auth: AuthStyle | None = None  # header form for Anthropic-wire providers; quirks decide if None
    max_output_tokens: int | None = None  # the provider's own cap; requests are clamped to it
    timeout: float = 600.0  # read timeout for one upstream response, seconds
    local: bool = False  # a non-loopback host the user declares private (privacy mode, sensitive projects)
    tool_repair: bool | None = None  # None: on for local model servers (repair.tool_repair_enabled)
    # Who serves this provider's sessions (issue 18, hybridcc.engines): None = hybridcc's own proxy;
    # "ccr" = a claude-code-router hybridcc supervises; "external" = an Anthropic-compatible URL.
    engine: str | None = None
    direct: bool = False  # engine = "external": claude talks to base_url itself, holding the key

    @property
    def needs_key(self) -> bool:
        return bool(self.api_key_env or self.api_key_cmd or self.api_key)


RULE_KINDS: Final = ("background", "subagent", "thinking", "long_context", "image", "web_search", "custom")
MATCH_SLOTS: Final = ("small", "main", "big")


@dataclass(frozen=True)
class RuleMatch:
    """``match = {…}`` of a ``when = "custom"`` rule: every condition given must hold (issue 16)."""

    slot: str | None = None  # the slot the requested model maps to: small, main or big
    model: str | None = None  # glob on the model name Claude Code sent
    tools: tuple[str, ...] = ()  # globs: one of them names (or types) a tool offered
    min_tokens: int | None = None  # estimated input tokens >= this
    max_tokens: int | None = None  # estimated input tokens <= this
    headers: tuple[tuple[str, str], ...] = ()  # (lower-case name, glob on the value; "*" = present)


@dataclass(frozen=True)
class RouteRule:
    """``[[profiles.NAME.routes]]``: when a request is of kind ``when``, ``use`` serves it (issue 16)."""

    when: str  # one of RULE_KINDS
    use: str  # a profile name or "provider/model"
    threshold: int | None = None  # long_context: estimated input tokens above which it matches
    agent: str | None = None  # subagent: a glob on x-claude-code-agent-id (None: any subagent)
    match: RuleMatch | None = None  # custom: the conditions
    scope: str = "profile"  # "global": from the top-level [[routes]], tried after the profile's own


@dataclass(frozen=True)
class Profile:
    name: str
    provider: str
    model: str
    small_model: str | None = None
    big_model: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    # Tried in order when this profile's provider fails before the first byte (issue 16):
    # other profile names, or "provider/model".
    fallback: tuple[str, ...] = ()
    privacy: str | None = None  # "local": nothing of this profile's sessions may leave the machine (issue 18)
    routes: tuple[RouteRule, ...] = ()  # scenario rules, first match wins (issue 16)
    vision: bool | None = None  # its models take images; None: only known for Anthropic's own API

    @property
    def small(self) -> str:
        return self.small_model or self.model

    @property
    def big(self) -> str:
        return self.big_model or self.model

    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.model, self.small, self.big)))


@dataclass(frozen=True)
class ProxySettings:
    host: str = "127.0.0.1"
    port: int = 8787  # 0 = a free port chosen at start and recorded in the service state
    allow_remote: bool = False
    max_body_mb: int = 64
    keep_alive: bool = False  # keep a session-started proxy running after the last session
    ping_interval: float = 5.0  # seconds of upstream silence before a `ping` event
    # Fallback (issue 16): failures in a row that open a provider's breaker, seconds it stays
    # open before one probe, seconds a session stays on the fallback that served it.
    breaker_threshold: int = 3
    breaker_cooldown: float = 30.0
    sticky_seconds: float = 300.0


@dataclass(frozen=True)
class OllamaSettings:
    binary: str = "ollama"
    host: str = "127.0.0.1:11434"
    context_length: int = 65536
    keep_alive: str = "5m"
    num_parallel: int = 1
    min_context: int = 65536  # below this doctor FAILs: Claude Code's first request is ~36–57k tokens
    keep_running: bool = False  # keep a session-started Ollama after the last session


@dataclass(frozen=True)
class PriceOverride:
    """``[prices."PROVIDER/MODEL"]`` (or ``"PROVIDER/*"``): USD per million tokens; electricity for local models."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    power_watts: float | None = None
    usd_per_kwh: float | None = None


@dataclass(frozen=True)
class UsageSettings:
    enabled: bool = True  # write the usage ledger (hybridcc.usage.ledger)
    retention_days: int = 180  # 0 keeps every row
    # The Claude models a request is compared with when it names none (its slot decides).
    baseline_model: str = "claude-sonnet-4-6"
    baseline_small_model: str = "claude-haiku-4-5"
    baseline_big_model: str = "claude-opus-4-7"


@dataclass(frozen=True)
class Config:
    schema_version: int
    default_profile: str
    providers: dict[str, Provider]
    profiles: dict[str, Profile]
    proxy: ProxySettings = field(default_factory=ProxySettings)
    ollama: OllamaSettings = field(default_factory=OllamaSettings)
    prices: dict[str, PriceOverride] = field(default_factory=dict)
    usage: UsageSettings = field(default_factory=UsageSettings)
    # [policy]: tier → profile name (simple, medium, complex, sensitive), issue 16
    policy: dict[str, str] = field(default_factory=dict)
    # [policy] sensitive_paths: path globs; a session started in (or below) a match is local-only
    sensitive_paths: tuple[str, ...] = ()
    claude_path: str | None = None
    source: str | None = None  # the file it was read from, None for built-in defaults only


# --- validation -------------------------------------------------------------------------
