"""The environment that points Claude Code (or an Agent SDK program) at a profile.

This is the one code path behind `hybridcc env`, `hybridcc run` and the SDK helper: a mapping of
variable → value, where ``None`` means "remove it from the environment".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from hybridcc.config.schema import Config, Profile, Provider

EnvMap = dict[str, str | None]

# Variables that would send `claude` somewhere other than our proxy: always removed.
REMOVED: Final = (
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
)
# Every variable hybridcc may set: doctor and `run` compare settings files against these.
ROUTING_VARS: Final = (
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "CLAUDE_CODE_SUBAGENT_MODEL",
    *REMOVED,
)

Format = Literal["bash", "zsh", "fish", "powershell", "dotenv", "json"]
FORMATS: Final = ("bash", "zsh", "fish", "powershell", "dotenv", "json")


@dataclass(frozen=True)
class LaunchPlan:
    profile: Profile
    provider: Provider
    via_proxy: bool  # False only for the anthropic profile with no key: `claude` runs untouched
    env: EnvMap
    base_url: str | None


def proxy_base_url(host: str, port: int, profile: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # a bind-all proxy is reached through loopback
    if ":" in host:
        host = f"[{host}]"
    # Claude Code keeps a base URL's path and appends /v1/messages, so the profile rides in it.
    return f"http://{host}:{port}/p/{profile}"


def build_env(
    config: Config,
    profile: Profile,
    *,
    base_url: str,
    token: str,
    model: str | None = None,
    small_model: str | None = None,
) -> EnvMap:
    """Variables for `claude` talking to the proxy for ``profile`` (no provider key ever)."""
    provider = config.providers[profile.provider]
    main = model or profile.model
    small = small_model or (profile.small_model if not model else None) or main
    big = profile.big_model if (profile.big_model and not model) else main
    env: EnvMap = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": token,
        # Empty, not unset: with both set Claude Code sends both headers and warns.
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_MODEL": main,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": big,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": main,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": small,
        "ANTHROPIC_SMALL_FAST_MODEL": small,  # the deprecated name, still read by older CLIs
        # Background and subagent requests must never ask a provider for a Claude model name.
        "CLAUDE_CODE_SUBAGENT_MODEL": main,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    if provider.quirks != "anthropic":
        # The per-request attribution line in the system prompt defeats local prefix caches.
        env["CLAUDE_CODE_ATTRIBUTION_HEADER"] = "0"
    max_out = profile.max_output_tokens or provider.max_output_tokens
    if max_out:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(max_out)
    if profile.context_window:
        env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] = str(profile.context_window)
        env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] = str(profile.context_window)
    for name in REMOVED:
        env[name] = None
    return env


def apply(env: EnvMap, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: os.environ) with the plan applied, ready for a child process."""
    out = dict(os.environ if base is None else base)
    for key, value in env.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def settings_json(env: EnvMap) -> str:
    """The ``--settings`` argument: outranks every settings file's ``env`` block but policy."""
    return json.dumps({"env": {k: v for k, v in env.items() if v is not None}}, separators=(",", ":"))


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _dotenv_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(env: EnvMap, fmt: Format, *, comment: str | None = None) -> str:
    """The plan as text a shell can evaluate (or JSON)."""
    if fmt == "json":
        return json.dumps(env, indent=2, sort_keys=False)
    lines: list[str] = []
    if comment:
        lines.append(f"# {comment}")
    for key, value in env.items():
        if fmt in ("bash", "zsh"):
            lines.append(f"unset {key}" if value is None else f"export {key}={_sh_quote(value)}")
        elif fmt == "fish":
            lines.append(f"set -e {key}" if value is None else f"set -gx {key} {_fish_quote(value)}")
        elif fmt == "powershell":
            lines.append(
                f"Remove-Item Env:{key} -ErrorAction SilentlyContinue"
                if value is None
                else f"$env:{key} = {_ps_quote(value)}"
            )
        elif value is not None:  # dotenv cannot unset a variable; it only leaves it out
            lines.append(f"{key}={_dotenv_quote(value)}")
    return "\n".join(lines) + "\n"


def masked(env: EnvMap) -> EnvMap:
    from hybridcc.fsutil import mask_secret

    secret = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")
    return {k: (mask_secret(v) if k in secret and v else v) for k, v in env.items()}
