"""Building the launch plan for a profile (shared by `env`, `run` and the SDK helper)."""

from __future__ import annotations

from hybridcc.config.load import get_profile
from hybridcc.config.schema import Config
from hybridcc.envplan import LaunchPlan, build_env, proxy_base_url
from hybridcc.providers import key_ready


def proxy_port(config: Config) -> int:
    """The running proxy's port (from its state record), else the configured one."""
    from hybridcc.services.state import read_state

    state = read_state("proxy")
    return state.port if state else config.proxy.port


def direct_anthropic(config: Config, profile_name: str | None) -> bool:
    """True when `claude` should run untouched: the anthropic profile with no key configured.

    The user's own `claude` login then keeps working; `--proxy` asks for the proxy anyway.
    """
    profile = get_profile(config, profile_name)
    provider = config.providers[profile.provider]
    return provider.quirks == "anthropic" and not key_ready(provider)


def plan(
    config: Config,
    profile_name: str | None,
    *,
    token: str,
    port: int | None = None,
    model: str | None = None,
    small_model: str | None = None,
    force_proxy: bool = False,
) -> LaunchPlan:
    profile = get_profile(config, profile_name)
    provider = config.providers[profile.provider]
    if not force_proxy and direct_anthropic(config, profile.name):
        return LaunchPlan(profile, provider, via_proxy=False, env={}, base_url=None)
    base_url = proxy_base_url(config.proxy.host, port if port is not None else proxy_port(config), profile.name)
    env = build_env(config, profile, base_url=base_url, token=token, model=model, small_model=small_model)
    return LaunchPlan(profile, provider, via_proxy=True, env=env, base_url=base_url)
