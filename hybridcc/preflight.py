"""`run`'s pre-flight check: is the provider reachable and does it take the key? (issue 12 item 1)

Before `claude` starts: one TCP connect plus one authenticated model-list request (the cheapest
authenticated call every wire has), well under a second for a healthy provider. A dead endpoint
stops the launch with exit 6, a rejected key with exit 5, each naming the fix — instead of three
minutes of Claude Code retrying. A success is cached per profile for a few minutes (state dir),
keyed by the endpoint and a hash of the key, so a changed key is checked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from typing import Final

import httpx

from hybridcc import paths
from hybridcc.config.schema import Config, Profile
from hybridcc.errors import AuthError, ServiceError

CACHE_SECONDS: Final = 300.0
TIMEOUT: Final = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0)


def _cache_key(url: str, key: str | None) -> str:
    return hashlib.sha256(f"{url}\0{key or ''}".encode()).hexdigest()[:16]


def _cache() -> dict[str, dict[str, float | str]]:
    try:
        data = json.loads((paths.state_dir() / "preflight.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(profile: str, stamp: str) -> None:
    from hybridcc.fsutil import atomic_write

    data = _cache()
    data[profile] = {"key": stamp, "ok_at": time.time()}
    with contextlib.suppress(OSError):  # a cache: failing to write it only costs the next check
        atomic_write(paths.state_dir() / "preflight.json", json.dumps(data), mode=0o600)


def check(config: Config, profile: Profile, key: str | None, *, use_cache: bool = True) -> str:
    """Raises ServiceError (unreachable) or AuthError (key refused); returns what was checked."""
    from hybridcc.providers import upstream_base

    provider = config.providers[profile.provider]
    base = upstream_base(provider, config.ollama)
    if provider.api == "ollama":
        url, headers = base + "/api/version", {}
    elif provider.api == "anthropic":
        from hybridcc.config.quirks import quirks_for
        from hybridcc.proxy.passthrough import auth_header

        url = base + "/v1/models"
        headers = {"anthropic-version": "2023-06-01", **(auth_header(quirks_for(provider).auth, key) if key else {})}
    else:
        url, headers = base + "/models", ({"authorization": f"Bearer {key}"} if key else {})
    stamp = _cache_key(url, key)
    cached = _cache().get(profile.name) if use_cache else None
    if cached and cached.get("key") == stamp and time.time() - float(cached.get("ok_at", 0)) < CACHE_SECONDS:
        return "cached"
    from hybridcc.proxy.redact import strip_userinfo

    shown = strip_userinfo(url)
    try:
        resp = httpx.get(url, headers=headers, timeout=TIMEOUT, follow_redirects=False, trust_env=False)
    except httpx.HTTPError as exc:
        raise ServiceError(
            f"provider {provider.name} at {shown} is unreachable ({type(exc).__name__}: {exc})",
            hint=f"start it, or fix providers.{provider.name}.base_url; `hybridcc doctor --online` checks every "
            "profile; skip this check with --no-preflight",
        ) from exc
    if resp.status_code in (401, 403):
        source = f"${provider.api_key_env}" if provider.api_key_env else "its key"
        raise AuthError(
            f"provider {provider.name} refused the key from {source} (HTTP {resp.status_code})",
            hint=f"check {source}; skip this check with --no-preflight",
        )
    # 404/405/5xx on a model list: the endpoint answered, which is all a launch needs to know.
    _remember(profile.name, stamp)
    return f"HTTP {resp.status_code}"
