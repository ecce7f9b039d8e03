"""Validate TOML data into :class:`~hybridcc.config.schema.Config`.

Validation collects every problem with its dotted key (``profiles.fast.model: expected a
string, got 3``) so one `hybridcc config validate` shows them all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from hybridcc.config.schema import (
    APIS,
    MATCH_SLOTS,
    RULE_KINDS,
    SCHEMA_VERSION,
    Config,
    OllamaSettings,
    PriceOverride,
    Profile,
    Provider,
    ProxySettings,
    RouteRule,
    RuleMatch,
    UsageSettings,
)

_TYPE_NAMES: Final = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f'"{value}"' if len(value) < 40 else "a string"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, msg: str) -> None:
        self.problems.append(f"{key}: {msg}")

    def typed(self, table: dict[str, Any], key: str, dotted: str, kind: type, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            self.fail(f"{dotted}.{key}" if dotted else key, f"expected {_TYPE_NAMES[kind]}, got {_describe(value)}")
            return default
        return value

    def unknown(self, table: dict[str, Any], allowed: set[str], dotted: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{dotted}.{key}" if dotted else key
                self.fail(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, parent: dict[str, Any], key: str, dotted: str) -> dict[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.fail(dotted, f"expected a table, got {_describe(value)}")
            return {}
        return value


_PROVIDER_KEYS: Final = {
    "api", "base_url", "api_key_env", "api_key_cmd", "api_key", "quirks", "auth",
    "max_output_tokens", "timeout", "local", "tool_repair", "engine", "direct",
}  # fmt: skip
_PROFILE_KEYS: Final = {
    "provider", "model", "small_model", "big_model", "context_window", "max_output_tokens", "fallback", "privacy",
    "routes", "vision",
}  # fmt: skip
_PROXY_KEYS: Final = {
    "host", "port", "allow_remote", "max_body_mb", "keep_alive", "ping_interval",
    "breaker_threshold", "breaker_cooldown", "sticky_seconds",
}  # fmt: skip
_OLLAMA_KEYS: Final = {
    "binary", "host", "context_length", "keep_alive", "num_parallel", "min_context", "keep_running",
}  # fmt: skip
_TOP_KEYS: Final = {
    "schema_version", "default_profile", "providers", "profiles", "proxy", "ollama", "claude_path", "prices", "usage",
    "policy", "routes",
}  # fmt: skip
_PRICE_KEYS: Final = {"input", "output", "cache_read", "cache_write", "power_watts", "usd_per_kwh"}
_USAGE_KEYS: Final = {"enabled", "retention_days", "baseline_model", "baseline_small_model", "baseline_big_model"}


def _provider(c: _Checker, name: str, t: dict[str, Any]) -> Provider | None:
    from hybridcc.config.quirks import QUIRKS

    d = f"providers.{name}"
    c.unknown(t, _PROVIDER_KEYS, d)
    api = c.typed(t, "api", d, str, ENGINE_APIS.get(str(t.get("engine"))))  # an engine implies its wire
    if api is None:
        if "api" not in t:
            c.fail(f"{d}.api", 'missing (expected "anthropic", "openai" or "ollama")')
        return None
    if api not in APIS:
        c.fail(f"{d}.api", f'expected "anthropic", "openai" or "ollama", got {_describe(api)}')
        return None
    base_url = c.typed(t, "base_url", d, str, None)
    if base_url is None and api != "ollama":
        if "base_url" not in t:
            c.fail(f"{d}.base_url", "missing (the provider's API root, e.g. https://api.example.com/v1)")
        return None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        c.fail(f"{d}.base_url", f"expected an http:// or https:// URL, got {_describe(base_url)}")
    sources = [k for k in ("api_key_env", "api_key_cmd", "api_key") if k in t]
    if len(sources) > 1:
        c.fail(d, f"set only one of api_key_env, api_key_cmd, api_key (found {', '.join(sources)})")
    quirks = c.typed(t, "quirks", d, str, "generic")
    if quirks not in QUIRKS:
        c.fail(f"{d}.quirks", f"expected one of {', '.join(sorted(QUIRKS))}, got {_describe(quirks)}")
        quirks = "generic"
    auth = c.typed(t, "auth", d, str, None)
    if auth is not None and auth not in ("x-api-key", "bearer"):
        c.fail(f"{d}.auth", f'expected "x-api-key" or "bearer", got {_describe(auth)}')
        auth = None
    max_out = c.typed(t, "max_output_tokens", d, int, None)
    timeout = c.typed(t, "timeout", d, float, 600.0)
    if timeout is not None and timeout <= 0:
        c.fail(f"{d}.timeout", f"expected a positive number of seconds, got {timeout!r}")
    return Provider(
        name=name,
        api=api,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=c.typed(t, "api_key_env", d, str, None),
        api_key_cmd=c.typed(t, "api_key_cmd", d, str, None),
        api_key=c.typed(t, "api_key", d, str, None),
        quirks=quirks,
        auth=auth,
        max_output_tokens=max_out,
        timeout=timeout,
        local=c.typed(t, "local", d, bool, False),
        tool_repair=c.typed(t, "tool_repair", d, bool, None),
        engine=_engine(c, d, t, api),
        direct=c.typed(t, "direct", d, bool, False),
    )


# engine -> the wire its provider table describes: ccr forwards to an OpenAI-wire upstream; an
# external engine is itself an Anthropic-compatible endpoint (issue 18).
ENGINE_APIS: Final = {"ccr": "openai", "external": "anthropic"}


def _engine(c: _Checker, d: str, t: dict[str, Any], api: str) -> str | None:
    engine: str | None = c.typed(t, "engine", d, str, None)
    if engine is not None and engine not in ENGINE_APIS:
        c.fail(f"{d}.engine", f'expected "ccr" or "external", got {_describe(engine)}')
        return None
    if engine is not None and api != ENGINE_APIS[engine]:
        c.fail(f"{d}.api", f'engine = "{engine}" needs api = "{ENGINE_APIS[engine]}" (or no api), got {_describe(api)}')
    if t.get("direct") is True and engine != "external":
        c.fail(f"{d}.direct", 'only for engine = "external" (claude then talks to base_url itself)')
    return engine


def _profile(c: _Checker, name: str, t: dict[str, Any], providers: dict[str, Any]) -> Profile | None:
    d = f"profiles.{name}"
    c.unknown(t, _PROFILE_KEYS, d)
    provider = c.typed(t, "provider", d, str, None)
    model = c.typed(t, "model", d, str, None)
    for key, val in (("provider", provider), ("model", model)):
        if val is None and key not in t:
            c.fail(f"{d}.{key}", "missing")
    if provider is not None and provider not in providers:
        c.fail(f"{d}.provider", f'no provider named "{provider}" (known: {", ".join(sorted(providers))})')
    if provider is None or model is None:
        return None
    return Profile(
        name=name,
        provider=provider,
        model=model,
        small_model=c.typed(t, "small_model", d, str, None),
        big_model=c.typed(t, "big_model", d, str, None),
        context_window=c.typed(t, "context_window", d, int, None),
        max_output_tokens=c.typed(t, "max_output_tokens", d, int, None),
        fallback=_fallback(c, d, t, providers),
        privacy=_privacy(c, d, t),
        routes=_routes(c, d, t, providers),
        vision=c.typed(t, "vision", d, bool, None),
    )


def _routes(c: _Checker, d: str, t: dict[str, Any], providers: dict[str, Any]) -> tuple[RouteRule, ...]:
    value = t.get("routes", [])
    key = f"{d}.routes" if d else "routes"  # d == "": the top-level [[routes]]
    if not isinstance(value, list):
        c.fail(key, f"expected an array of tables ([[{key}]]), got {_describe(value)}")
        return ()
    rules = []
    for i, rt in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(rt, dict):
            c.fail(where, f"expected a table, got {_describe(rt)}")
            continue
        c.unknown(rt, {"when", "use", "threshold", "agent", "match"}, where)
        when = c.typed(rt, "when", where, str, None)
        use = c.typed(rt, "use", where, str, None)
        if when not in RULE_KINDS:
            c.fail(f"{where}.when", f"expected one of {', '.join(RULE_KINDS)}, got {_describe(when)}")
            continue
        if not use:
            c.fail(f"{where}.use", 'missing (a profile name or "provider/model")')
            continue
        head, sep, _model = use.partition("/")
        if sep and head not in providers:
            c.fail(f"{where}.use", f'"{use}": no provider named "{head}"')
            continue
        if (when == "custom") != ("match" in rt):
            c.fail(where, 'a rule has `match = {…}` exactly when it is `when = "custom"`')
            continue
        rules.append(RouteRule(when=when, use=use, threshold=c.typed(rt, "threshold", where, int, None),
                               agent=c.typed(rt, "agent", where, str, None),
                               match=_match(c, f"{where}.match", rt["match"]) if "match" in rt else None,
                               scope="profile" if d else "global"))  # fmt: skip
    return tuple(rules)


_MATCH_KEYS: Final = {"slot", "model", "tool", "min_tokens", "max_tokens", "header"}


def _match(c: _Checker, where: str, m: Any) -> RuleMatch | None:
    """``match = { slot = "small", tool = "WebFetch", min_tokens = 50000, header = { "x-team" = "ml" } }``."""
    if not isinstance(m, dict) or not m:
        c.fail(where, f"expected a table of conditions ({', '.join(sorted(_MATCH_KEYS))}), got {_describe(m)}")
        return None
    c.unknown(m, _MATCH_KEYS, where)
    slot = c.typed(m, "slot", where, str, None)
    if slot is not None and slot not in MATCH_SLOTS:
        c.fail(f"{where}.slot", f"expected one of {', '.join(MATCH_SLOTS)}, got {_describe(slot)}")
    tool = m.get("tool", [])
    tools = [tool] if isinstance(tool, str) else tool
    if not isinstance(tools, list) or not all(isinstance(x, str) and x for x in tools):
        c.fail(f"{where}.tool", f"expected a tool name (glob) or a list of them, got {_describe(tool)}")
        tools = []
    header = m.get("header", {})
    if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
        c.fail(f"{where}.header", 'expected { "header-name" = "value glob" } with string values ("*": present)')
        header = {}
    low, high = c.typed(m, "min_tokens", where, int, None), c.typed(m, "max_tokens", where, int, None)
    if low is not None and high is not None and low > high:
        c.fail(where, f"min_tokens {low} > max_tokens {high}: the rule could never match")
    return RuleMatch(slot=slot, model=c.typed(m, "model", where, str, None), tools=tuple(tools),
                     min_tokens=low, max_tokens=high,
                     headers=tuple((k.lower(), v) for k, v in header.items()))  # fmt: skip


def _privacy(c: _Checker, d: str, t: dict[str, Any]) -> str | None:
    value: str | None = c.typed(t, "privacy", d, str, None)
    if value is not None and value != "local":
        c.fail(f"{d}.privacy", f'expected "local", got {_describe(value)}')
        return None
    return value


def _fallback(c: _Checker, d: str, t: dict[str, Any], providers: dict[str, Any]) -> tuple[str, ...]:
    value = t.get("fallback", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        c.fail(f"{d}.fallback", f'expected a list of profile names or "provider/model" strings, got {_describe(value)}')
        return ()
    for entry in value:
        head, sep, _model = entry.partition("/")
        if sep and head not in providers:
            c.fail(f"{d}.fallback", f'"{entry}": no provider named "{head}" (known: {", ".join(sorted(providers))})')
    return tuple(value)


def _prices(c: _Checker, data: dict[str, Any]) -> dict[str, PriceOverride]:
    out: dict[str, PriceOverride] = {}
    for key, t in c.table(data, "prices", "prices").items():
        d = f'prices."{key}"'
        if "/" not in key:
            c.fail(d, 'expected a "PROVIDER/MODEL" or "PROVIDER/*" key')
            continue
        if not isinstance(t, dict):
            c.fail(d, f"expected a table, got {_describe(t)}")
            continue
        c.unknown(t, _PRICE_KEYS, d)
        values = {k: c.typed(t, k, d, float, None) for k in sorted(_PRICE_KEYS)}
        for k, v in values.items():
            if v is not None and v < 0:
                c.fail(f"{d}.{k}", f"expected a number >= 0, got {v!r}")
        if (values["input"] is None) != (values["output"] is None):
            c.fail(d, "set both input and output (USD per million tokens), or neither for electricity only")
        if (values["power_watts"] is None) != (values["usd_per_kwh"] is None):
            c.fail(d, "set both power_watts and usd_per_kwh, or neither")
        if all(v is None for v in values.values()):
            c.fail(d, "set input and output (USD per million tokens), or power_watts and usd_per_kwh")
        out[key] = PriceOverride(**values)
    return out


def _usage(c: _Checker, data: dict[str, Any]) -> UsageSettings:
    t = c.table(data, "usage", "usage")
    c.unknown(t, _USAGE_KEYS, "usage")
    du = UsageSettings()
    days = c.typed(t, "retention_days", "usage", int, du.retention_days)
    if days < 0:
        c.fail("usage.retention_days", f"expected 0 (keep everything) or more days, got {days}")
    return UsageSettings(
        enabled=c.typed(t, "enabled", "usage", bool, du.enabled),
        retention_days=days,
        baseline_model=c.typed(t, "baseline_model", "usage", str, du.baseline_model),
        baseline_small_model=c.typed(t, "baseline_small_model", "usage", str, du.baseline_small_model),
        baseline_big_model=c.typed(t, "baseline_big_model", "usage", str, du.baseline_big_model),
    )


POLICY_TIERS: Final = ("simple", "medium", "complex", "sensitive")


def _fallback_tuning(c: _Checker, px: dict[str, Any], dp: ProxySettings) -> dict[str, Any]:
    """[proxy] breaker_threshold (>= 1), breaker_cooldown and sticky_seconds (>= 0)."""
    out = {
        "breaker_threshold": c.typed(px, "breaker_threshold", "proxy", int, dp.breaker_threshold),
        "breaker_cooldown": c.typed(px, "breaker_cooldown", "proxy", float, dp.breaker_cooldown),
        "sticky_seconds": c.typed(px, "sticky_seconds", "proxy", float, dp.sticky_seconds),
    }
    for key, low in (("breaker_threshold", 1), ("breaker_cooldown", 0), ("sticky_seconds", 0)):
        if out[key] < low:
            c.fail(f"proxy.{key}", f"expected {low} or more, got {out[key]!r}")
            out[key] = getattr(dp, key)
    return out


def _sensitive_paths(c: _Checker, data: dict[str, Any]) -> tuple[str, ...]:
    table = data.get("policy")
    value = table.get("sensitive_paths", []) if isinstance(table, dict) else []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        c.fail("policy.sensitive_paths", f'expected a list of path globs like ["~/clients/*"], got {_describe(value)}')
        return ()
    return tuple(value)


def _policy(c: _Checker, data: dict[str, Any], profiles: dict[str, Profile]) -> dict[str, str]:
    table = c.table(data, "policy", "policy")
    c.unknown(table, {*POLICY_TIERS, "sensitive_paths"}, "policy")
    out: dict[str, str] = {}
    for tier in POLICY_TIERS:
        name = c.typed(table, tier, "policy", str, None)
        if name is None:
            continue
        if name not in profiles:
            c.fail(f"policy.{tier}", f'no profile named "{name}" (known: {", ".join(sorted(profiles))})')
            continue
        out[tier] = name
    return out


def validate(data: dict[str, Any], *, source: str | None) -> tuple[Config | None, list[str]]:
    """Build a :class:`Config` from merged TOML data; return it (or None) and every problem."""
    c = _Checker()
    c.unknown(data, _TOP_KEYS, "")
    version = c.typed(data, "schema_version", "", int, SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        c.fail("schema_version", f"this hybridcc reads version {SCHEMA_VERSION}, got {version}")
    providers: dict[str, Provider] = {}
    raw_providers = c.table(data, "providers", "providers")
    for name, t in raw_providers.items():
        if not isinstance(t, dict):
            c.fail(f"providers.{name}", f"expected a table, got {_describe(t)}")
            continue
        p = _provider(c, name, t)
        if p:
            providers[name] = p
    profiles: dict[str, Profile] = {}
    for name, t in c.table(data, "profiles", "profiles").items():
        if not isinstance(t, dict):
            c.fail(f"profiles.{name}", f"expected a table, got {_describe(t)}")
            continue
        pr = _profile(c, name, t, raw_providers)
        if pr:
            profiles[name] = pr
    for pr in profiles.values():
        for rule in pr.routes:
            if "/" not in rule.use and rule.use not in profiles:
                c.fail(f"profiles.{pr.name}.routes", f'"{rule.use}": no profile named "{rule.use}"')
        for entry in pr.fallback:
            if "/" not in entry and entry not in profiles:
                c.fail(
                    f"profiles.{pr.name}.fallback",
                    f'"{entry}": no profile named "{entry}" (known: {", ".join(sorted(profiles))})',
                )
    shared = _routes(c, "", data, raw_providers)  # top-level [[routes]]: every profile, after its own
    for rule in shared:
        if "/" not in rule.use and rule.use not in profiles:
            c.fail("routes", f'"{rule.use}": no profile named "{rule.use}"')
    if shared:
        profiles = {n: replace(p, routes=p.routes + shared) for n, p in profiles.items()}
    default = c.typed(data, "default_profile", "", str, None)
    if default is None:
        default = next(iter(profiles), "")
    elif default not in profiles and "default_profile" in data:
        c.fail("default_profile", f'no profile named "{default}" (known: {", ".join(sorted(profiles))})')

    px = c.table(data, "proxy", "proxy")
    c.unknown(px, _PROXY_KEYS, "proxy")
    dp = ProxySettings()
    port = c.typed(px, "port", "proxy", int, dp.port)
    if not 0 <= port <= 65535:
        c.fail("proxy.port", f"expected 0 (any free port) to 65535, got {port}")
        port = dp.port
    proxy = ProxySettings(
        host=c.typed(px, "host", "proxy", str, dp.host),
        port=port,
        allow_remote=c.typed(px, "allow_remote", "proxy", bool, dp.allow_remote),
        max_body_mb=c.typed(px, "max_body_mb", "proxy", int, dp.max_body_mb),
        keep_alive=c.typed(px, "keep_alive", "proxy", bool, dp.keep_alive),
        ping_interval=c.typed(px, "ping_interval", "proxy", float, dp.ping_interval),
        **_fallback_tuning(c, px, dp),
    )
    ol = c.table(data, "ollama", "ollama")
    c.unknown(ol, _OLLAMA_KEYS, "ollama")
    do = OllamaSettings()
    ollama = OllamaSettings(
        binary=c.typed(ol, "binary", "ollama", str, do.binary),
        host=c.typed(ol, "host", "ollama", str, do.host),
        context_length=c.typed(ol, "context_length", "ollama", int, do.context_length),
        keep_alive=c.typed(ol, "keep_alive", "ollama", str, do.keep_alive),
        num_parallel=c.typed(ol, "num_parallel", "ollama", int, do.num_parallel),
        min_context=c.typed(ol, "min_context", "ollama", int, do.min_context),
        keep_running=c.typed(ol, "keep_running", "ollama", bool, do.keep_running),
    )
    claude_path = c.typed(data, "claude_path", "", str, None)
    prices, usage = _prices(c, data), _usage(c, data)
    policy, sensitive_paths = _policy(c, data, profiles), _sensitive_paths(c, data)
    if c.problems:
        return None, c.problems
    return (
        Config(
            schema_version=version,
            default_profile=default,
            providers=providers,
            profiles=profiles,
            proxy=proxy,
            ollama=ollama,
            claude_path=claude_path,
            prices=prices,
            usage=usage,
            policy=policy,
            sensitive_paths=sensitive_paths,
            source=source,
        ),
        [],
    )
