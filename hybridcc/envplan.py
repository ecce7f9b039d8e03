"""The environment that points Claude Code (or an Agent SDK program) at a profile.

This is the one code path behind `hybridcc env`, `hybridcc run` and the SDK helper: a mapping of
variable → value, where ``None`` means "remove it from the environment". The profile is resolved
and "proxy or direct" decided once, in :func:`plan` (the landed ``launch.py`` folded in here).

SALVAGE (issue 10 item "launch.py folded into the env-plan module", issue 11 item 1): provider
keys never reach `claude` or the tools it runs — every variable a configured provider reads its
key from, the well-known provider key variables and the user's ``[secrets] extra_env`` list are
removed from the child's environment and unset by `hybridcc env`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.window import Window

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
# Key variables of the providers people use with Claude Code, whether or not a profile names
# them: a key in the shell must not reach `claude` or a Bash command the model runs.
WELL_KNOWN_KEYS: Final = (
    "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY",
    "MOONSHOT_API_KEY", "KIMI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_API_KEY", "GLM_API_KEY", "MINIMAX_API_KEY",
    "DASHSCOPE_API_KEY", "GROQ_API_KEY", "TOGETHER_API_KEY", "MISTRAL_API_KEY", "XAI_API_KEY",
    "FIREWORKS_API_KEY", "CEREBRAS_API_KEY", "AZURE_OPENAI_API_KEY", "HF_TOKEN", "HUGGINGFACE_API_KEY",
    "LITELLM_MASTER_KEY", "LITELLM_API_KEY",
)  # fmt: skip
# The `/model` picker (issue 13): discovery through the proxy's GET /v1/models, readable tier
# names and one custom row (hybridcc.proxy.models.tier_env).
PICKER_VARS: Final = (
    "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY",
    *(
        f"ANTHROPIC_DEFAULT_{t}_MODEL_{k}"
        for t in ("SONNET", "OPUS", "FABLE", "HAIKU")
        for k in ("NAME", "DESCRIPTION")
    ),
    "ANTHROPIC_CUSTOM_MODEL_OPTION",
    "ANTHROPIC_CUSTOM_MODEL_OPTION_NAME",
    "ANTHROPIC_CUSTOM_MODEL_OPTION_DESCRIPTION",
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
    "ANTHROPIC_DEFAULT_FABLE_MODEL",
    "ANTHROPIC_DEFAULT_MODEL",
    *PICKER_VARS,
    *REMOVED,
)

# Claude Code's own traffic, off for a local-only session (issue 18): measured with strace, these
# leave 0 non-loopback connect() calls in a `-p` session with a tool round trip (2.1.332).
PRIVACY_SWITCHES: Final = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    # An interactive session installs the official plugin marketplace in the background (lookups
    # of downloads.claude.ai and github.com, measured with strace on 2.1.197 and 2.1.332).
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}
# Tools that reach the internet by themselves, denied in a local-only session's settings.
PRIVACY_DENIED_TOOLS: Final = ("WebFetch", "WebSearch")

Format = Literal["bash", "zsh", "fish", "powershell", "dotenv", "json"]
FORMATS: Final = ("bash", "zsh", "fish", "powershell", "dotenv", "json")


@dataclass(frozen=True)
class LaunchPlan:
    profile: Profile
    provider: Provider
    via_proxy: bool  # False only for the anthropic profile with no key: `claude` runs untouched
    env: EnvMap
    base_url: str | None


def loopback_host(host: str) -> str:
    """The one place a bind-all address becomes the loopback address a client can dial."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return host


def proxy_base_url(host: str, port: int, profile: str) -> str:
    host = loopback_host(host)
    if ":" in host:
        host = f"[{host}]"
    # Claude Code keeps a base URL's path and appends /v1/messages, so the profile rides in it.
    return f"http://{host}:{port}/p/{profile}"


def secret_vars(config: Config, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every variable that may hold a provider key: never handed to `claude`."""
    names = dict.fromkeys(WELL_KNOWN_KEYS)
    for provider in config.providers.values():
        if provider.api_key_env:
            names[provider.api_key_env] = None
    for name in extra:
        names[name] = None
    names.pop("ANTHROPIC_API_KEY", None)  # set to "" by build_env on purpose (both-set conflict)
    return tuple(names)


def build_env(
    config: Config,
    profile: Profile,
    *,
    base_url: str,
    token: str,
    model: str | None = None,
    small_model: str | None = None,
    extra_secrets: Iterable[str] = (),
    window: Window | None = None,
    local_only: bool = False,
) -> EnvMap:
    """Variables for `claude` talking to the proxy for ``profile`` (no provider key ever).

    ``window``: the model's real context window (:func:`hybridcc.window.resolve_window`, which
    does I/O and so is called by :func:`plan`, not here); falls back to the profile's own.
    ``local_only``: the `/model` picker offers only what a local-only session may use.
    """
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
        "ANTHROPIC_DEFAULT_FABLE_MODEL": big,  # the Fable tier (alias `fable`, 2.1.33x)
        "ANTHROPIC_DEFAULT_SONNET_MODEL": main,
        "ANTHROPIC_DEFAULT_MODEL": main,  # read by ≥ 2.1.236; harmless before
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": small,
        "ANTHROPIC_SMALL_FAST_MODEL": small,  # the deprecated name, still read by older CLIs
        # Background and subagent requests must never ask a provider for a Claude model name.
        "CLAUDE_CODE_SUBAGENT_MODEL": main,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Claude Code fills its `/model` picker from the proxy's GET /v1/models: every profile's
        # models, readably named (2.1.332 fetches it even with NONESSENTIAL_TRAFFIC off; 2.1.197
        # does not, and shows the tier names and the custom row below).
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
    }
    from hybridcc.proxy.models import tier_env

    env.update(tier_env(config, profile, main=main, big=big, small=small, local_only=local_only))
    if provider.quirks != "anthropic":
        # The per-request attribution line in the system prompt defeats local prefix caches.
        env["CLAUDE_CODE_ATTRIBUTION_HEADER"] = "0"
    if _local_provider(config, provider):
        # A small local model cannot drive ToolSearch (seen: the 0.5B model called the
        # DeferredToolPlaceholder instead of Bash): offer every tool at once (issue 17).
        env["ENABLE_TOOL_SEARCH"] = "false"
    cap = output_cap(config, profile)
    if cap:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(cap)
    from hybridcc.window import Window as _W
    from hybridcc.window import timeout_env, window_env

    env.update(window_env(window or _W(profile.context_window, "profile")))
    env.update(timeout_env(config, profile))
    for name in REMOVED:
        env[name] = None
    for name in secret_vars(config, extra_secrets):
        env[name] = None
    return env


def _local_provider(config: Config, provider: Provider) -> bool:
    from urllib.parse import urlsplit

    from hybridcc.providers import upstream_base

    host = urlsplit(upstream_base(provider, config.ollama)).hostname or ""
    return provider.api == "ollama" or provider.local or host in ("localhost", "::1") or host.startswith("127.")


def output_cap(config: Config, profile: Profile) -> int | None:
    """The one definition of the output cap Claude Code is told and the proxy clamps to: the
    lowest of the provider's and the profile's (landed code took the profile's over the provider's
    here while the proxy took the minimum — issue 10's "each fact once"). ``Route.output_cap`` must
    call this for the profile's own provider."""
    caps = [c for c in (profile.max_output_tokens, config.providers[profile.provider].max_output_tokens) if c]
    return min(caps) if caps else None


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
    """The settings for `claude`: outranks every settings file's ``env`` block but policy.

    Written to a 0600 file (see ``runner.settings_file``), never passed as JSON on the command
    line: /proc/PID/cmdline is readable by every local user and holds the token (issue 11 item 2).
    """
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
    """The plan as text a shell can evaluate (or JSON).

    dotenv cannot unset a variable: its output says which key variables it could not remove.
    """
    if fmt == "json":
        return json.dumps(env, indent=2, sort_keys=False)
    lines: list[str] = []
    if comment:
        lines.append(f"# {comment}")
    unsettable = [k for k, v in env.items() if v is None]
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
        elif value is not None:
            lines.append(f"{key}={_dotenv_quote(value)}")
    if fmt == "dotenv" and unsettable:
        lines.insert(0, "# dotenv cannot unset variables: make sure these are not set where this file is used: "
                     + " ".join(unsettable))  # fmt: skip
    return "\n".join(lines) + "\n"


def masked(env: EnvMap) -> EnvMap:
    from hybridcc.fsutil import mask_secret

    secret = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")
    return {k: (mask_secret(v) if k in secret and v else v) for k, v in env.items()}


# --- the plan (the landed launch.py) ------------------------------------------------------------


def proxy_port(config: Config) -> int:
    """The running proxy's port (from its state record), else the configured one."""
    from hybridcc.services.state import read_state

    state = read_state("proxy")
    return state.port if state else config.proxy.port


def direct_anthropic(config: Config, profile: Profile) -> bool:
    """True when `claude` should run untouched: the anthropic profile with no key configured.

    The user's own `claude` login then keeps working; `--proxy` asks for the proxy anyway.
    """
    from hybridcc.providers import key_ready

    provider = config.providers[profile.provider]
    return provider.quirks == "anthropic" and not key_ready(provider)


def plan(
    config: Config,
    profile: Profile,
    *,
    token: str,
    port: int | None = None,
    model: str | None = None,
    small_model: str | None = None,
    force_proxy: bool = False,
    extra_secrets: Iterable[str] = (),
    local_only: bool = False,
) -> LaunchPlan:
    """Takes the resolved profile (resolve it once, with ``config.load.get_profile``)."""
    provider = config.providers[profile.provider]
    if not force_proxy and direct_anthropic(config, profile):
        return LaunchPlan(profile, provider, via_proxy=False, env={}, base_url=None)
    from hybridcc.policy import LOCAL_SUFFIX
    from hybridcc.window import resolve_window

    local_only = local_only or profile.privacy == "local"
    name = profile.name + (LOCAL_SUFFIX if local_only else "")  # the proxy enforces it per request
    base_url = proxy_base_url(config.proxy.host, port if port is not None else proxy_port(config), name)
    env = build_env(config, profile, base_url=base_url, token=token, model=model, small_model=small_model,
                    extra_secrets=extra_secrets, window=resolve_window(config, profile, model),
                    local_only=local_only)  # fmt: skip
    if local_only:
        env.update(PRIVACY_SWITCHES)
    return LaunchPlan(profile, provider, via_proxy=True, env=env, base_url=base_url)


def full_settings_file(env: EnvMap, profile: str) -> Path:
    """The settings for an SDK program started outside hybridcc (``env --full``): a 0600 file that
    stays (the program reads it when it starts its CLI), one per profile, rewritten each time."""
    from hybridcc import paths
    from hybridcc.fsutil import atomic_write

    folder = paths.state_dir() / "sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"env-{profile}.json"
    atomic_write(path, settings_json(env), mode=0o600)
    return path
