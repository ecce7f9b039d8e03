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

A sensitive project (``sensitive=True``, or a ``.hybridcc.toml`` with ``sensitive = true`` above
the working directory) gets the same local-only session as ``hybridcc run --sensitive``: the proxy
refuses any request that would leave the machine, whatever model a query names.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from hybridcc.config.schema import Config, Profile
from hybridcc.errors import NotFoundError

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeAgentOptions

Complexity = Literal["simple", "medium", "complex"]
# Claude Code prints this on stderr for every query naming a non-Claude model (shared/GATEWAY.md).
STDERR_NOISE: Final = ("[claude-code:unrecognized_model]",)


def _config(config: Config | None) -> Config:
    if config is not None:
        return config
    from hybridcc.config import load_config

    return load_config()


def _plan_env(
    config: Config,
    profile: Profile,
    *,
    model: str | None,
    small_model: str | None,
    port: int | None,
    local_only: bool = False,
) -> dict[str, str | None]:
    from hybridcc.envplan import plan
    from hybridcc.proxy_token import ensure_token

    return plan(config, profile, token=ensure_token(), port=port, model=model, small_model=small_model,
                force_proxy=True, local_only=local_only).env  # fmt: skip


def _local_only(config: Config, profile: Profile, sensitive: bool, cwd: str | Path | None) -> bool:
    """Sensitive work (asked for, or the project's marker) may only run on a local profile."""
    from hybridcc.errors import ConfigError
    from hybridcc.policy import is_local_profile, project_sensitive

    marker = project_sensitive(Path(cwd or Path.cwd()).resolve())
    if not (sensitive or marker is not None or profile.privacy == "local"):
        return False
    if not is_local_profile(config, profile):
        why = f"{marker} marks this project sensitive" if marker else "sensitive=True"
        raise ConfigError(f"profile {profile.name} is not local and {why}",
                          hint="pick a local profile, or let select_provider(sensitive=True) pick one")  # fmt: skip
    return True


def quiet_stderr(forward: Callable[[str], None] | None = None) -> Callable[[str], None]:
    """An SDK ``stderr`` callback that drops Claude Code's unrecognized-model line (printed for every
    query on a non-Claude model) and hands every other line to ``forward`` (default: our stderr)."""

    def handle(line: str) -> None:
        if line.lstrip().startswith(STDERR_NOISE):
            return
        if forward is not None:
            forward(line)
        else:
            print(line, file=sys.stderr)

    return handle


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
    """A 0600 settings file for one query: our env outranks any settings file's ``env`` block.
    ``extra``: the caller's own settings (and ours), merged; our env wins over theirs."""
    from hybridcc import paths
    from hybridcc.fsutil import atomic_write

    folder = paths.state_dir() / "sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"sdk-{os.getpid()}-{len(_SETTINGS_FILES)}.json"
    extra = dict(extra or {})
    theirs = extra.pop("env", None)
    settings = {**extra, "env": {**(theirs or {}), **{k: v for k, v in plan_env.items() if v is not None}}}
    atomic_write(path, json.dumps(settings, separators=(",", ":")), mode=0o600)
    _SETTINGS_FILES.append(path)
    return path


def _user_settings(settings: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's ``settings`` option (JSON text, a file, or a dict), to merge with ours."""
    from hybridcc.errors import UsageError

    if settings is None or isinstance(settings, Mapping):
        return dict(settings or {})
    try:
        text = settings if settings.lstrip().startswith("{") else Path(settings).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"settings: cannot read {settings[:80]!r} ({exc})", hint="pass JSON, a JSON file or a dict"
        ) from exc
    if not isinstance(data, dict):
        raise UsageError("settings must be a JSON object", hint='e.g. {"permissions": {"deny": ["WebFetch"]}}')
    return data


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
    sensitive: bool = False,
    config: Config | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> ClaudeAgentOptions:
    """``ClaudeAgentOptions`` routed through hybridcc; every other keyword passes through unchanged.

    ``claude_path``: None uses hybridcc's lookup (config ``claude_path``, PATH, …), falling back to
    the SDK's bundled CLI; ``"bundled"`` asks for the SDK's own. ``tool_search=False`` offers every
    tool at once (small models cannot drive ToolSearch). ``strict_models`` raises on a model name
    the proxy would silently map to the profile's main model. ``sensitive`` (or the project's
    ``.hybridcc.toml``) makes a local-only session. ``stderr`` (yours, or ours to stderr) never
    sees the unrecognized-model line.
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
    local_only = _local_only(cfg, prof, sensitive, kwargs.get("cwd"))
    plan_env = _plan_env(cfg, prof, model=model, small_model=None, port=port, local_only=local_only)
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
    extra = _user_settings(kwargs.pop("settings", None))
    if local_only:
        from hybridcc.envplan import PRIVACY_DENIED_TOOLS

        permissions = dict(extra.get("permissions") or {})
        # Tools that reach the internet by themselves, whatever the model.
        permissions["deny"] = list(dict.fromkeys([*(permissions.get("deny") or []), *PRIVACY_DENIED_TOOLS]))
        extra["permissions"] = permissions
    kwargs["stderr"] = quiet_stderr(kwargs.get("stderr"))
    return ClaudeAgentOptions(
        env=env,
        settings=str(_settings_file(plan_env, extra)),
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
    sensitive: bool = False
    started: float = field(default_factory=time.time)

    def options(self, **kwargs: Any) -> ClaudeAgentOptions:
        kwargs.setdefault("sensitive", self.sensitive)
        return options(self.profile, config=self.config, port=self.port, **kwargs)

    def models(self) -> list[str]:
        from hybridcc.config.load import get_profile

        return known_models(self.config, get_profile(self.config, self.profile))

    def corrected_cost(self, result: Any) -> float | None:
        """``result.total_cost_usd`` at the providers' prices (see :func:`corrected_cost`)."""
        return corrected_cost(result, self.profile, config=self.config)

    def usage(self, session_id: str | None = None) -> dict[str, Any] | None:
        """From the usage ledger: one Claude Code session (its ``session_id``: totals, per agent and
        per model, as `hybridcc usage session --json`), or, without one, every request the proxy
        served since this session opened, per model (other programs on the same proxy included).
        The proxy writes rows a fraction of a second after each request; None: nothing recorded."""
        from hybridcc.usage import report

        conn = report.open_ledger()
        if conn is None:
            return None
        try:
            if session_id is not None:
                return report.session(conn, session_id)
            return report.summary(conn, since=self.started, by="model")
        finally:
            conn.close()


# A lease is one file per (service, pid): sessions of one program share it, counted here so the
# first session to end does not drop the lease (and stop the proxy) under the others.
_HOLDERS: dict[str, int] = {}
_HOLDERS_LOCK = threading.Lock()


def _hold(service: str) -> str:
    from hybridcc.services import leases

    with _HOLDERS_LOCK:
        _HOLDERS[service] = _HOLDERS.get(service, 0) + 1
        if _HOLDERS[service] == 1:
            leases.take(service)
    return service


def _let_go(service: str) -> bool:
    """True when this was the program's last session on ``service`` (its lease is gone)."""
    from hybridcc.services import leases

    with _HOLDERS_LOCK:
        _HOLDERS[service] -= 1
        if _HOLDERS[service] > 0:
            return False
        del _HOLDERS[service]
        for lease in leases.active(service):
            if lease.pid == os.getpid():
                leases.release(lease)
    return True


@contextlib.contextmanager
def session(
    profile: str | None = None,
    *,
    keep_proxy: bool = False,
    sensitive: bool = False,
    cwd: str | Path | None = None,
    config: Config | None = None,
) -> Iterator[Session]:
    """Ensure the proxy (and Ollama), lease it while the block runs, fail fast when the provider is
    unreachable or refuses the key, release on exit. Works in sync and async code alike (``with``).
    ``sensitive`` (or a sensitive project at ``cwd``, default the working directory): every query
    of the session is local-only, and a profile that is not local is refused here."""
    from hybridcc import preflight
    from hybridcc.config.load import get_profile
    from hybridcc.providers import resolve_key
    from hybridcc.services import proxy as proxy_svc

    cfg = _config(config)
    prof = get_profile(cfg, profile)
    local = _local_only(cfg, prof, sensitive, cwd)  # refused before anything starts
    provider = cfg.providers[prof.provider]
    key = resolve_key(provider)
    if provider.api != "ollama":
        preflight.check(cfg, prof, key)
    held: list[str] = []
    try:
        if provider.api == "ollama":
            from hybridcc.services import ollama as ollama_svc

            ollama_svc.start(cfg, owner="session")
            held.append(_hold("ollama"))
        state, _ = proxy_svc.start(cfg, owner="session")
        held.append(_hold("proxy"))
        yield Session(prof.name, cfg, state.port, local)
    finally:
        for service in held:
            if not _let_go(service):
                continue  # another session of this program still uses it
            if service == "proxy" and not keep_proxy:
                proxy_svc.release_if_unused(cfg)
            elif service == "ollama":
                from hybridcc.services import ollama as ollama_svc

                ollama_svc.release_if_unused(cfg)


def corrected_cost(result: Any, profile: str | None = None, *, config: Config | None = None) -> float | None:
    """What a ``ResultMessage`` really cost, in USD, at the prices of the providers that served it
    (Claude Code's ``total_cost_usd`` uses Claude's prices for every model). ``profile``: the one
    the query ran on (default: default_profile). None when a model's price is unknown."""
    from hybridcc.config.load import get_profile
    from hybridcc.sdk_cost import corrected_cost as priced

    cfg = _config(config)
    return priced(result, get_profile(cfg, profile), cfg)


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
    """The design's ``hybridQuery``: the SDK's ``query`` on ``provider`` (a profile; default: what
    :func:`select_provider` picks for ``complexity`` and ``sensitive``), messages as they come.
    The final ``ResultMessage`` carries ``total_cost_usd`` at the providers' prices (None when
    unknown); each ``model_usage`` entry keeps Claude Code's own figure as ``claudeCostUSD``."""
    from claude_agent_sdk import ResultMessage, query

    from hybridcc.config.load import get_profile
    from hybridcc.policy import project_sensitive
    from hybridcc.sdk_cost import correct_result

    cfg = _config(opts.pop("config", None))
    if provider is None:
        local = sensitive or project_sensitive(Path(opts.get("cwd") or Path.cwd()).resolve()) is not None
        provider, chosen = select_provider(complexity or "medium", local, config=cfg)
        model = model or chosen
    with session(provider, sensitive=sensitive, cwd=opts.get("cwd"), config=cfg) as s:
        prof = get_profile(cfg, s.profile)
        async for message in query(prompt=prompt, options=s.options(model=model, **opts)):
            yield correct_result(message, prof, cfg) if isinstance(message, ResultMessage) else message
