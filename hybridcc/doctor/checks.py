"""One small function per check. Each returns Check results; none raises; none hangs."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from hybridcc import paths
from hybridcc.claude import NEWEST_TESTED, OLDEST_TESTED, all_on_path, claude_version, find_claude, tested_fit
from hybridcc.config.schema import Config
from hybridcc.doctor.model import Check, Context
from hybridcc.envplan import ROUTING_VARS
from hybridcc.errors import HybridccError
from hybridcc.fsutil import mask_secret
from hybridcc.providers import key_ready, key_source, resolve_key, upstream_base

# --- config ------------------------------------------------------------------------------------


def check_config(ctx: Context) -> Iterator[Check]:
    path = paths.config_file()
    if ctx.config_error:
        yield Check(
            "config.file",
            "config",
            "fail",
            ctx.config_error,
            "fix it with `hybridcc config edit` (or restore config.toml.bak)",
        )
        return
    assert ctx.config is not None
    if ctx.config.source:
        yield Check("config.file", "config", "ok", f"{path} is valid")
    else:
        yield Check(
            "config.file",
            "config",
            "ok",
            f"no config file: built-in defaults in use ({path})",
            "`hybridcc init` writes one",
            "init",
        )
    if ctx.config.default_profile in ctx.config.profiles:
        yield Check("config.default_profile", "config", "ok", f"default profile: {ctx.config.default_profile}")
    else:
        yield Check("config.default_profile", "config", "fail", f'default profile "{ctx.config.default_profile}" does not exist',
                    "`hybridcc profile default NAME`")  # fmt: skip
    inline = [p.name for p in ctx.config.providers.values() if p.api_key]
    if inline and ctx.config.source:
        mode = stat.S_IMODE(Path(ctx.config.source).stat().st_mode)
        if mode & 0o077:
            yield Check("config.permissions", "config", "fail", f"{ctx.config.source} holds an API key ({', '.join(inline)}) and is mode {mode:o}",
                        f"chmod 600 {ctx.config.source}", f"chmod:{ctx.config.source}")  # fmt: skip
        else:
            yield Check("config.permissions", "config", "warn", f"API key written in config.toml for {', '.join(inline)} (file is 0600)",
                        "prefer api_key_env = \"VAR\" or api_key_cmd = \"pass show …\"")  # fmt: skip


# --- claude ------------------------------------------------------------------------------------

CLAUDE_FIX = (
    "install it with `npm install -g @anthropic-ai/claude-code`, or point claude_path in config.toml "
    "(or HYBRIDCC_CLAUDE) at it"
)


def check_claude(ctx: Context) -> Iterator[Check]:
    cfg_path = ctx.config.claude_path if ctx.config else None
    try:
        exe = find_claude(None, cfg_path)
    except HybridccError as exc:
        # find_claude's hint names `run --claude-path`, an option doctor does not have.
        yield Check("claude.found", "claude", "fail", exc.message, CLAUDE_FIX)
        return
    version = claude_version(exe.path, timeout=min(ctx.timeout, 15.0))
    if version is None:
        yield Check(
            "claude.found",
            "claude",
            "warn",
            f"{exe.path} (from {exe.source}) did not report a version",
            "run `claude --version` yourself",
        )
    elif (fit := tested_fit(version)) == "older":
        yield Check("claude.found", "claude", "warn",
                    f"claude {version} at {exe.path} is older than {OLDEST_TESTED}, the oldest release hybridcc is "
                    f"tested with ({OLDEST_TESTED}–{NEWEST_TESTED})",
                    "npm install -g @anthropic-ai/claude-code@latest")  # fmt: skip
    elif fit == "newer":
        # Not a warning: users are on newer releases within days; say what to do if one breaks.
        yield Check("claude.found", "claude", "ok",
                    f"claude {version} at {exe.path} (found by {exe.source}); newer than {NEWEST_TESTED}, the newest "
                    f"tested — if something breaks: npm install -g @anthropic-ai/claude-code@{NEWEST_TESTED}")  # fmt: skip
    else:
        yield Check("claude.found", "claude", "ok",
                    f"claude {version} at {exe.path} (found by {exe.source}; tested {OLDEST_TESTED}–{NEWEST_TESTED})")  # fmt: skip
    on_path = all_on_path()
    if len(on_path) > 1:
        yield Check("claude.duplicates", "claude", "warn", f"{len(on_path)} `claude` on PATH; {on_path[0]} runs: " + ", ".join(map(str, on_path)),
                    "remove the stale one, or pin one with claude_path in config.toml")  # fmt: skip


def check_claude_settings(ctx: Context) -> Iterator[Check]:
    found: list[str] = []
    for path in paths.claude_settings_files(Path.cwd()):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            yield Check(
                "claude.settings.invalid",
                "claude",
                "warn",
                f"{path} is not valid JSON ({exc})",
                "fix or remove it: claude may ignore it",
            )
            continue
        env = data.get("env") if isinstance(data, dict) else None
        if isinstance(env, dict):
            found += [f"{path}: env.{k}" for k in env if k in ROUTING_VARS or k.startswith("CLAUDE_CODE_USE_")]
    if found:
        yield Check("claude.settings", "claude", "warn", "settings override routing: " + "; ".join(found),
                    "`hybridcc run` overrides them via --settings; a plain `claude` would obey them — remove those keys")  # fmt: skip
    else:
        yield Check("claude.settings", "claude", "ok", "no settings file overrides the base URL, keys or models")
    if os.environ.get("ANTHROPIC_API_KEY") and os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        yield Check("claude.shell_env", "claude", "warn", "ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are both exported (claude sends both)",
                    "unset one of them (hybridcc run empties ANTHROPIC_API_KEY for its session)")  # fmt: skip


# --- profiles ----------------------------------------------------------------------------------


def user_configured(config: Config) -> set[str]:
    """Profiles the user set up in config.toml: named there, their provider named there, or the
    default they chose. A built-in nobody configured is not a failure of `doctor --all`."""
    from hybridcc.config.load import read_user_data

    try:
        data, _found = read_user_data()
    except HybridccError:
        return set(config.profiles)
    named = set(data.get("profiles", {}) or {})
    providers = set(data.get("providers", {}) or {})
    named |= {p.name for p in config.profiles.values() if p.provider in providers}
    if "default_profile" in data:
        named.add(config.default_profile)
    return named


def check_profiles(ctx: Context, *, lenient: bool = False) -> Iterator[Check]:
    """Each profile's key and base URL (and with --online, one request). ``lenient`` (doctor --all):
    a profile the user never set up and that has no key is a warning, skipped."""
    assert ctx.config is not None
    configured = user_configured(ctx.config) if lenient else set()
    for profile in ctx.profiles:
        provider = ctx.config.providers[profile.provider]
        area = f"profile {profile.name}"
        pid = f"profile.{profile.name}"
        if lenient and profile.name not in configured and not key_ready(provider):
            yield Check(f"{pid}.key", area, "warn", f"not set up: no key ({key_source(provider)} is not set); skipped",
                        f"export {provider.api_key_env}=… to use it" if provider.api_key_env else "")  # fmt: skip
            continue
        if provider.quirks == "anthropic" and not key_ready(provider):
            # `run` starts claude untouched on this profile (launch.direct_anthropic): not a failure.
            yield Check(
                f"{pid}.key", area, "ok", f"no {key_source(provider)}: `hybridcc run` uses your own claude login"
            )
            continue
        try:
            key = resolve_key(provider, timeout=ctx.timeout)
            if key:
                yield Check(f"{pid}.key", area, "ok", f"key from {key_source(provider)}: {mask_secret(key)}")
            else:
                yield Check(f"{pid}.key", area, "ok", f"{provider.name} needs no key")
        except HybridccError as exc:
            yield Check(f"{pid}.key", area, "fail", exc.message, exc.hint or "")
            key = None
        base = upstream_base(provider, ctx.config.ollama)
        parts = urlsplit(base)
        if parts.scheme in ("http", "https") and parts.hostname:
            yield Check(f"{pid}.base_url", area, "ok", f"{provider.api} wire at {base}")
        else:
            yield Check(
                f"{pid}.base_url",
                area,
                "fail",
                f"base URL {base!r} is not an http(s) URL",
                f"fix providers.{provider.name}.base_url",
            )
        if ctx.online and provider.api != "ollama":
            yield from _online(ctx, profile.name, provider, base, key)
            yield from _window(ctx, profile.name)


# Claude Code's first request with its default ~20 tools: 18,684 tokens measured (shared/LOCAL_MODELS.md).
CLAUDE_CODE_PROMPT_TOKENS = 19_000


def _window(ctx: Context, profile: str) -> Iterator[Check]:
    """The model's real window (profile, or a loopback server's own figure) must hold the prompt."""
    from hybridcc.window import resolve_window

    assert ctx.config is not None
    window = resolve_window(ctx.config, ctx.config.profiles[profile])
    if window.tokens is None:
        return
    cid, area, said = f"profile.{profile}.window", f"profile {profile}", f"{window.tokens} tokens ({window.source})"
    if window.tokens >= CLAUDE_CODE_PROMPT_TOKENS:
        yield Check(cid, area, "ok", f"context window {said}")
        return
    fix = ("restart llama-server with a larger context, e.g. `-c 32768`" if window.source == "llama.cpp /props"
           else f"choose a model with a larger window, or correct profiles.{profile}.context_window")  # fmt: skip
    yield Check(cid, area, "fail", f"context window {said} is smaller than Claude Code's prompt (about "
                f"{CLAUDE_CODE_PROMPT_TOKENS // 1000}k tokens with its default tools)", fix)  # fmt: skip


def _online(ctx: Context, profile: str, provider: object, base: str, key: str | None) -> Iterator[Check]:
    import httpx

    from hybridcc.config.quirks import quirks_for
    from hybridcc.config.schema import Provider

    assert isinstance(provider, Provider)
    area, cid = f"profile {profile}", f"profile.{profile}.online"
    headers: dict[str, str] = {}
    if provider.api == "anthropic":
        url = base + "/v1/models"
        headers["anthropic-version"] = "2023-06-01"
        if key:
            headers["x-api-key" if quirks_for(provider).auth == "x-api-key" else "authorization"] = (
                key if quirks_for(provider).auth == "x-api-key" else f"Bearer {key}"
            )
    else:
        url = base + "/models"
        if key:
            headers["authorization"] = f"Bearer {key}"
    try:
        resp = httpx.get(url, headers=headers, timeout=httpx.Timeout(ctx.timeout, connect=min(ctx.timeout, 3.0)))
    except httpx.TimeoutException:
        yield Check(
            cid,
            area,
            "fail",
            f"{provider.name} did not answer within {ctx.timeout:.0f}s ({url})",
            "check the network, or raise --timeout",
        )
        return
    except httpx.HTTPError as exc:
        yield Check(
            cid,
            area,
            "fail",
            f"{provider.name} is unreachable at {url}: {type(exc).__name__}",
            "check base_url and your network",
        )
        return
    if resp.status_code in (401, 403):
        yield Check(
            cid,
            area,
            "fail",
            f"{provider.name} rejected the key (HTTP {resp.status_code})",
            f"check the key in {key_source(provider)}",
        )
        return
    if resp.status_code >= 400:
        yield Check(
            cid,
            area,
            "warn",
            f"{provider.name} answered HTTP {resp.status_code} to {url}",
            "the key may still work for messages",
        )
        return
    yield Check(cid, area, "ok", f"{provider.name} answered and accepted the key")
    try:
        listed = {str(m.get("id")) for m in resp.json().get("data", [])}
    except (ValueError, AttributeError):
        listed = set()
    if listed and ctx.config:
        missing = [m for m in ctx.config.profiles[profile].models() if m not in listed]
        if missing:
            yield Check(
                f"{cid}.models",
                area,
                "warn",
                f"not listed by {provider.name}: {', '.join(missing)}",
                f"fix the model names of profiles.{profile}",
            )
        else:
            yield Check(f"{cid}.models", area, "ok", "the profile's models are listed by the provider")


def check_policy(ctx: Context) -> Iterator[Check]:
    """Which providers count as local, and whether this directory's project is sensitive (issue 16)."""
    from hybridcc.policy import is_local_profile, project_sensitive

    assert ctx.config is not None
    config = ctx.config
    local = sorted(
        {config.profiles[n].provider for n in config.profiles if is_local_profile(config, config.profiles[n])}
    )
    yield Check("policy.local", "policy", "ok", "local providers: " + (", ".join(local) or "none"),
                "" if local else "add one for sensitive work, or declare a host private: [providers.X] local = true")  # fmt: skip
    try:
        marker = project_sensitive(Path.cwd(), config=config)
    except HybridccError as exc:
        yield Check("policy.project", "policy", "fail", exc.message, exc.hint or "")
        return
    if marker is None:
        yield Check("policy.project", "policy", "ok", f"{Path.cwd()} is not marked sensitive")
    elif local:
        yield Check("policy.project", "policy", "ok", f"sensitive project ({marker}): sessions here are local-only")
    else:
        yield Check("policy.project", "policy", "fail", f"sensitive project ({marker}) but no local provider",
                    "add a local profile (llamacpp, ollama, vllm, lmstudio) before running here")  # fmt: skip
