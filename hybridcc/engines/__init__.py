"""Other engines behind Claude Code (issue 18 part 3): claude-code-router, external gateways.

``[providers.NAME] engine = ...`` says who serves a provider's sessions:

- unset: hybridcc's own proxy (the rest of hybridcc);
- ``"external"``: an Anthropic-compatible URL with its own key (a deployed Y-Router, a company
  gateway). By default it is an Anthropic-wire provider of hybridcc's proxy like any other, so
  keys stay out of `claude` and usage is recorded — nothing here is needed. With ``direct =
  true`` `claude` talks to it itself and holds its key (:func:`session`);
- ``"ccr"``: a claude-code-router hybridcc supervises (hybridcc.engines.ccr); `claude` talks to it
  holding only ccr's random local key, never the provider's.

The one entry point for the launcher is :func:`session`; :func:`bypasses_proxy` says when to use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Final

from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.envplan import EnvMap, build_env
from hybridcc.errors import ConfigError

# The model variables Claude Code reads: rewritten to ccr's "PROVIDER,MODEL" form.
MODEL_VARS: Final = (
    "ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_FABLE_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL",
)  # fmt: skip


def bypasses_proxy(provider: Provider) -> bool:
    """True when `claude` talks to the engine itself, not to hybridcc's proxy: run it with :func:`session`."""
    return provider.engine == "ccr" or (provider.engine == "external" and provider.direct)


def _ccr_env(config: Config, profile: Profile, provider: Provider, url: str, key: str,
             model: str | None, small_model: str | None) -> EnvMap:  # fmt: skip
    from hybridcc.engines.ccr_config import ccr_model

    env = build_env(config, profile, base_url=url, token=key, model=model, small_model=small_model)
    for var in MODEL_VARS:
        value = env.get(var)
        if value and "," not in value:
            env[var] = ccr_model(provider, value)
    return env


def _direct_env(config: Config, profile: Profile, provider: Provider, model: str | None,
                small_model: str | None) -> EnvMap:  # fmt: skip
    """`claude` straight at an external Anthropic-compatible URL with the provider's key."""
    from hybridcc.config.quirks import quirks_for
    from hybridcc.providers import resolve_key

    key = resolve_key(provider) or ""
    assert provider.base_url is not None  # the validator requires it for every non-ollama provider
    env = build_env(config, profile, base_url=provider.base_url, token=key, model=model, small_model=small_model)
    if quirks_for(provider).auth == "x-api-key":  # the header the gateway reads
        env["ANTHROPIC_API_KEY"], env["ANTHROPIC_AUTH_TOKEN"] = key, None
    return env


def _private(profile: Profile, env: EnvMap) -> EnvMap:
    """A local-only profile's sessions get Claude Code's own traffic switched off here too (the
    engine serves only its one provider, whose locality `run` checked: hybridcc.policy)."""
    if profile.privacy == "local":
        from hybridcc.envplan import PRIVACY_SWITCHES

        env.update(PRIVACY_SWITCHES)
    return env


@contextlib.contextmanager
def session(
    config: Config,
    profile: Profile,
    *,
    model: str | None = None,
    small_model: str | None = None,
    report: Callable[[str], None] = lambda _m: None,
) -> Iterator[EnvMap]:
    """The environment for one `claude` session on an engine that bypasses the proxy.

    For ``engine = "ccr"`` it starts (or shares) the provider's claude-code-router, holds a lease on
    it while the block runs, and stops it after the last session (unless a user started it).
    Raises ConfigError for a provider :func:`bypasses_proxy` is False for.
    """
    provider = config.providers[profile.provider]
    if not bypasses_proxy(provider):
        raise ConfigError(f'provider "{provider.name}" is served by hybridcc\'s proxy, not by an engine session')
    if provider.engine == "external":
        yield _private(profile, _direct_env(config, profile, provider, model, small_model))
        return
    from hybridcc.engines import ccr
    from hybridcc.services import leases

    state, what = ccr.start(config, provider, profile=profile, owner="session")
    lease = leases.take(ccr.service_name(provider))
    try:
        if what != "already running":
            report(f"claude-code-router {what} on port {state.port}")
        url = f"http://127.0.0.1:{state.port}"
        yield _private(profile, _ccr_env(config, profile, provider, url, ccr.apikey(provider), model, small_model))
    finally:
        leases.release(lease)
        ccr.release_if_unused(provider)


__all__ = ["MODEL_VARS", "bypasses_proxy", "session"]
