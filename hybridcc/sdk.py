"""hybridcc.sdk: Claude Agent SDK programs on any provider, with no plumbing (issue 15).

The SDK keeps its coordination (sessions, resume, fork, checkpoints, interrupt, MCP, permission
callbacks); only inference goes through hybridcc's proxy. ``claude_agent_sdk`` is imported lazily
(extra ``hybridcc[sdk]``).

Python's ``ClaudeAgentOptions.env`` is merged over the inherited environment, so "remove this
variable" cannot be said there: every variable hybridcc would remove is set to "" instead, which
Claude Code reads as unset (a ``CLAUDE_CODE_USE_BEDROCK=1`` in the parent no longer wins) and
which hands no provider key to the CLI. The same variables also go in the session's settings,
which outrank an ``env`` block in ``~/.claude/settings.json``; the settings are a 0600 file, never
JSON on the CLI's command line (it would carry the proxy token).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hybridcc.config.schema import Config, Profile
from hybridcc.errors import NotFoundError

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeAgentOptions

Complexity = Literal["simple", "medium", "complex"]


def _config(config: Config | None) -> Config:
    if config is not None:
        return config
    from hybridcc.config import load_config

    return load_config()


def _plan_env(
    config: Config, profile: Profile, *, model: str | None, small_model: str | None, port: int | None
) -> dict[str, str | None]:
    from hybridcc.envplan import plan
    from hybridcc.proxy_token import ensure_token

    return plan(config, profile, token=ensure_token(), port=port, model=model, small_model=small_model,
                force_proxy=True).env  # fmt: skip


def agent_env(
    profile: str | None = None,
    *,
    model: str | None = None,
    small_model: str | None = None,
    base: Mapping[str, str] | None = None,
    config: Config | None = None,
    port: int | None = None,
) -> dict[str, str]:
    """The complete environment for the CLI child: ``base`` (default ``os.environ``) with the plan
    applied — removals applied, provider keys never included. For TypeScript, whose
    ``options.env`` replaces the whole environment, this is what to pass."""
    from hybridcc.config.load import get_profile
    from hybridcc.envplan import apply

    cfg = _config(config)
    return apply(_plan_env(cfg, get_profile(cfg, profile), model=model, small_model=small_model, port=port), base)


def _options_env(plan_env: Mapping[str, str | None]) -> dict[str, str]:
    """For Python's merged ``options.env``: a removal becomes an empty value."""
    return {k: ("" if v is None else v) for k, v in plan_env.items()}


_SETTINGS_FILES: list[Path] = []


@atexit.register
def _remove_settings_files() -> None:
    for path in _SETTINGS_FILES:
        with contextlib.suppress(OSError):
            path.unlink()


def _settings_file(plan_env: Mapping[str, str | None], extra: Mapping[str, Any] | None = None) -> Path:
    from hybridcc import paths
    from hybridcc.fsutil import atomic_write

    folder = paths.state_dir() / "sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"sdk-{os.getpid()}-{len(_SETTINGS_FILES)}.json"
    settings = {**(extra or {}), "env": {k: v for k, v in plan_env.items() if v is not None}}
    atomic_write(path, json.dumps(settings, separators=(",", ":")), mode=0o600)
    _SETTINGS_FILES.append(path)
    return path


def known_models(config: Config, profile: Profile) -> list[str]:
    """What a query may name on ``profile``: its models, then every provider/model of the config."""
    names = list(profile.models())
    for other in config.profiles.values():
        for m in other.models():
            ident = f"{other.provider}/{m}"
            if ident not in names:
                names.append(ident)
    return names


def options(
    profile: str | None = None,
    *,
    model: str | None = None,
    fallback_model: str | None = None,
    claude_path: str | None = None,
    tool_search: bool | None = None,
    strict_models: bool = False,
    config: Config | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> ClaudeAgentOptions:
    """``ClaudeAgentOptions`` routed through hybridcc; every other keyword passes through unchanged.

    ``claude_path``: None uses hybridcc's lookup (config ``claude_path``, PATH, …), falling back to
    the SDK's bundled CLI; ``"bundled"`` asks for the SDK's own. ``tool_search=False`` offers every
    tool at once (small models cannot drive ToolSearch). ``strict_models`` raises on a model name
    the proxy would silently map to the profile's main model.
    """
    from claude_agent_sdk import ClaudeAgentOptions

    from hybridcc.config.load import get_profile

    cfg = _config(config)
    prof = get_profile(cfg, profile)
    if strict_models:
        known = known_models(cfg, prof)
        for name in (model, fallback_model):
            if name and name not in known and name.lower() not in ("sonnet", "opus", "haiku", "fable"):
                raise NotFoundError(f'model "{name}" is not a model of profile {prof.name}',
                                    hint="one of: " + ", ".join(known))  # fmt: skip
    plan_env = _plan_env(cfg, prof, model=model, small_model=None, port=port)
    if tool_search is not None:
        plan_env["ENABLE_TOOL_SEARCH"] = "true" if tool_search else "false"
    env = {**_options_env(plan_env), **(kwargs.pop("env", None) or {})}
    cli = claude_path
    if cli is None:
        from hybridcc.claude import find_claude
        from hybridcc.errors import MissingToolError

        with contextlib.suppress(MissingToolError):
            cli = str(find_claude(None, cfg.claude_path).path)
    elif cli == "bundled":
        cli = None
    return ClaudeAgentOptions(
        env=env,
        settings=str(_settings_file(plan_env)),
        cli_path=cli,
        model=model or prof.model,
        fallback_model=fallback_model,
        **kwargs,
    )


@dataclass
class Session:
    """A leased proxy for the program's lifetime; ``options()`` for each query."""

    profile: str
    config: Config
    port: int
    _held: list[Any] = field(default_factory=list)

    def options(self, **kwargs: Any) -> ClaudeAgentOptions:
        return options(self.profile, config=self.config, port=self.port, **kwargs)

    def models(self) -> list[str]:
        from hybridcc.config.load import get_profile

        return known_models(self.config, get_profile(self.config, self.profile))


@contextlib.contextmanager
def session(profile: str | None = None, *, keep_proxy: bool = False, config: Config | None = None) -> Iterator[Session]:
    """Ensure the proxy (and Ollama), lease it while the block runs, fail fast when the provider is
    unreachable or refuses the key, release on exit. Works in sync and async code alike (``with``)."""
    from hybridcc import preflight
    from hybridcc.config.load import get_profile
    from hybridcc.providers import resolve_key
    from hybridcc.services import leases
    from hybridcc.services import proxy as proxy_svc

    cfg = _config(config)
    prof = get_profile(cfg, profile)
    provider = cfg.providers[prof.provider]
    key = resolve_key(provider)
    if provider.api != "ollama":
        preflight.check(cfg, prof, key)
    held = []
    try:
        if provider.api == "ollama":
            from hybridcc.services import ollama as ollama_svc

            ollama_svc.start(cfg, owner="session")
            held.append(leases.take("ollama"))
        state, _ = proxy_svc.start(cfg, owner="session")
        held.append(leases.take("proxy"))
        yield Session(prof.name, cfg, state.port, held)
    finally:
        for lease in held:
            leases.release(lease)
        if not keep_proxy and any(lease.service == "proxy" for lease in held):
            proxy_svc.release_if_unused(cfg)
        if any(lease.service == "ollama" for lease in held):
            from hybridcc.services import ollama as ollama_svc

            ollama_svc.release_if_unused(cfg)


def select_provider(
    complexity: Complexity = "medium", sensitive: bool = False, *, config: Config | None = None
) -> tuple[str, str]:
    """The design's ``selectProvider``: (profile, model); see :func:`hybridcc.policy.select_provider`."""
    from hybridcc.policy import select_provider as select

    return select(complexity, sensitive, config=_config(config))


async def hybrid_query(
    prompt: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    complexity: Complexity | None = None,
    sensitive: bool = False,
    **opts: Any,
) -> AsyncIterator[Any]:
    """The design's ``hybridQuery``: the SDK's ``query`` on the chosen provider, messages as they come."""
    from claude_agent_sdk import query

    if provider is None:
        provider, chosen = select_provider(complexity or "medium", sensitive)
        model = model or chosen
    with session(provider) as s:
        async for message in query(prompt=prompt, options=s.options(model=model, **opts)):
            yield message
