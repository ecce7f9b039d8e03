"""A developer's profile that points at the team gateway (`hybridcc profile add NAME --gateway URL`).

The gateway speaks Anthropic's ``/v1/messages``, so the profile is a passthrough one. Each extra
URL becomes a companion provider and profile ``NAME-2``, ``NAME-3``… with the same models, listed
in ``fallback``: the proxy's fallback chain (issue 16) moves a request to the next gateway when
one does not answer, keeping the slot mapping (a haiku request stays on the small model).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit

from hybridcc import httpprobe, paths
from hybridcc.config.edit import config_table, load_doc, save_text
from hybridcc.config.schema import Config
from hybridcc.errors import ConfigError, UsageError


def companion_names(name: str, count: int) -> list[str]:
    return [f"{name}-{i}" for i in range(2, count + 1)]


def companions_of(config: Config, name: str) -> list[str]:
    """The companion profiles `add_gateway_profile` made for NAME (removed with it)."""
    profile = config.profiles.get(name)
    if profile is None:
        return []
    return [e for e in profile.fallback if re.fullmatch(rf"{re.escape(name)}-\d+", e) and e in config.profiles]


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--gateway {url}: not an http(s) URL", hint="e.g. --gateway https://llm.example.com")
    if parts.username or parts.password:
        raise UsageError("--gateway: a URL with a user or password in it would store a secret in config.toml",
                         hint="put the key in an environment variable and pass --api-key-env VAR")  # fmt: skip
    # The gateway's /v1/messages sits at its root; a pasted …/v1 would double it.
    return url.rstrip("/").removesuffix("/v1")


def gateway_models(url: str, api_key_env: str | None, *, timeout: float = 5.0) -> list[str]:
    """The model names the gateway serves (``GET /v1/models`` with the team key), or []."""
    key = os.environ.get(api_key_env or "", "").strip()
    headers = {"authorization": f"Bearer {key}"} if key else {}
    data = httpprobe.get_json(url + "/v1/models", timeout=timeout, headers=headers)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    return [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id")]


def add_gateway_profile(
    name: str,
    urls: Sequence[str],
    *,
    api_key_env: str | None,
    model: str,
    small_model: str | None = None,
    big_model: str | None = None,
    context_window: int | None = None,
    force: bool = False,
    path: Path | None = None,
) -> tuple[Path, list[str]]:
    """Write ``[providers.NAME]``/``[profiles.NAME]`` (and companions for extra URLs) in one save.

    Returns the file and the companion profile names (the fallback chain)."""
    if not urls:
        raise UsageError("--gateway: at least one URL")
    path = path or paths.config_file()
    doc = load_doc(path)
    providers, profiles = config_table(doc, "providers"), config_table(doc, "profiles")
    companions = companion_names(name, len(urls))
    names = [name, *companions]
    taken = [n for n in names if n in providers or n in profiles]
    if taken and not force:
        raise ConfigError(
            f'a profile or provider named "{taken[0]}" is already in {path}',
            hint="choose another name, or pass --force to replace it",
        )
    for profile_name, url in zip(names, urls, strict=True):
        prov = tomlkit.table()
        prov.add("api", "anthropic")
        prov.add("base_url", check_url(url))
        if api_key_env:
            prov.add("api_key_env", api_key_env)
        # LiteLLM takes its keys as `Authorization: Bearer` (x-api-key only on some routes).
        prov.add("auth", "bearer")
        prof = tomlkit.table()
        prof.add("provider", profile_name)
        prof.add("model", model)
        for key, val in (("small_model", small_model), ("big_model", big_model), ("context_window", context_window)):
            if val is not None:
                prof.add(key, val)
        if profile_name == name and companions:
            prof.add("fallback", companions)
        providers[profile_name] = prov
        profiles[profile_name] = prof
    save_text(path, tomlkit.dumps(doc))
    return path, companions
