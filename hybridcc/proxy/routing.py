"""Which provider and upstream model serve a request (README, "Model routing")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hybridcc.config.quirks import Quirks, quirks_for
from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.providers import upstream_base

_ALIASES = {"haiku": "small", "sonnet": "main", "opus": "big"}
_FAMILY = re.compile(r"(haiku|sonnet|opus)")


@dataclass(frozen=True, slots=True)
class Route:
    profile: Profile
    provider: Provider
    quirks: Quirks
    base_url: str
    requested: str
    model: str  # the name sent upstream

    @property
    def output_cap(self) -> int | None:
        """The lowest of the provider's cap and, on the profile's own provider, the profile's."""
        caps = [self.provider.max_output_tokens]
        if self.provider.name == self.profile.provider:
            caps.append(self.profile.max_output_tokens)
        known = [c for c in caps if c]
        return min(known) if known else None


def _slot(profile: Profile, slot: str) -> str:
    return {"small": profile.small, "big": profile.big}.get(slot, profile.model)


def slot_of(profile: Profile, requested: str) -> str | None:
    """The slot (small, main, big) a requested name maps to, as :func:`upstream_model` maps it;
    None for a name the profile does not know (it is served by the main model)."""
    lowered = requested.lower()
    if requested == profile.model or lowered == "sonnet":
        return "main"
    if requested == profile.small or lowered == "haiku":
        return "small"
    if requested == profile.big or lowered == "opus":
        return "big"
    m = _FAMILY.search(lowered) if lowered.startswith("claude") else None
    return _ALIASES[m.group(1)] if m else None


def is_switch(config: Config, profile: Profile, requested: str) -> bool:
    """``provider/model`` naming a configured provider and not a model of the profile (OpenRouter's
    ``qwen/qwen3-coder`` is a model name): Claude Code's ``/model`` switch, never rerouted by rules."""
    head, sep, rest = requested.partition("/")
    return bool(sep and rest) and head in config.providers and requested not in profile.models()


def upstream_model(config: Config, profile: Profile, requested: str) -> tuple[Provider, str]:
    provider = config.providers[profile.provider]
    if requested in profile.models():
        return provider, requested
    head, sep, rest = requested.partition("/")
    if sep and rest and head in config.providers:
        # `/model openrouter/google/gemini-2.5-pro` inside Claude Code switches provider mid-session.
        return config.providers[head], rest
    lowered = requested.lower()
    if lowered in _ALIASES:
        return provider, _slot(profile, _ALIASES[lowered])
    if lowered.startswith("claude"):
        if provider.quirks == "anthropic":
            return provider, requested  # Anthropic itself knows every Claude name
        m = _FAMILY.search(lowered)
        return provider, _slot(profile, _ALIASES[m.group(1)] if m else "main")
    return provider, profile.model


def resolve(config: Config, profile: Profile, requested: str) -> Route:
    provider, model = upstream_model(config, profile, requested)
    return Route(
        profile=profile,
        provider=provider,
        quirks=quirks_for(provider),
        base_url=upstream_base(provider, config.ollama),
        requested=requested,
        model=model,
    )


def route_key(route: Route) -> str:
    return f"{route.provider.name}/{route.model}"


def target(config: Config, profile: Profile, entry: str, requested: str) -> Route:
    """A fallback or rule target: a profile maps the request the way that profile would (slots,
    aliases); a ``provider/model`` entry sends that model to that provider."""
    other = config.profiles.get(entry)
    if other is not None:
        return resolve(config, other, requested)
    head, _, model = entry.partition("/")
    provider = config.providers[head]
    return Route(profile=profile, provider=provider, quirks=quirks_for(provider),
                 base_url=upstream_base(provider, config.ollama), requested=requested, model=model)  # fmt: skip


def chain(config: Config, profile: Profile, requested: str, *, first: str | None = None) -> list[Route]:
    """The primary route (or ``first``, a matched scenario rule's target), then the profile's
    primary and fallback entries (issue 16), duplicates dropped."""
    routes = [target(config, profile, first, requested)] if first else []
    for route in [
        resolve(config, profile, requested),
        *(target(config, profile, e, requested) for e in profile.fallback),
    ]:
        if route_key(route) not in {route_key(r) for r in routes}:
            routes.append(route)
    return routes


def supports_server_tools(route: Route) -> bool:
    """Anthropic's server tools (web search, web fetch) run only on Anthropic's own API."""
    return route.provider.api == "anthropic" and route.provider.quirks == "anthropic"


def is_local(route: Route) -> bool:
    """Loopback, or a host the user declared private with ``[providers.X] local = true``."""
    from urllib.parse import urlsplit

    host = urlsplit(route.base_url).hostname or ""
    return route.provider.local or host in ("localhost", "::1") or host.startswith("127.")
