"""Sensitivity and complexity (issue 16; the design's ``selectProvider(complexity, sensitive)``).

A session is *local-only* when its profile says ``privacy = "local"``, when `run` gets
``--sensitive`` / ``--local-only``, when the repository it runs in has a ``.hybridcc.toml`` with
``sensitive = true`` (looked up from the working directory to the filesystem root), or when the
working directory (or a folder above it) matches a glob of ``[policy] sensitive_paths`` in the
user's config. The proxy
then refuses, with a clear error and nothing sent, any route, fallback or ``/model`` switch to a
provider that is not local. The restriction rides in the session's base URL (``/p/NAME~local``),
so it holds for every request of that session whatever the profile says.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Final, Literal

from hybridcc.config.schema import Config, Profile
from hybridcc.errors import ConfigError, NotFoundError

Complexity = Literal["simple", "medium", "complex"]
COMPLEXITIES: Final = ("simple", "medium", "complex")
LOCAL_SUFFIX: Final = "~local"  # appended to the profile in the base URL of a local-only session
PROJECT_FILE: Final = ".hybridcc.toml"


def sensitive_glob(cwd: Path, patterns: tuple[str, ...]) -> str | None:
    """The first of ``patterns`` (``[policy] sensitive_paths``, ``~`` expanded) that ``cwd`` or a
    folder above it matches: a matching folder is sensitive with everything below it."""
    folders = [str(f) for f in [cwd, *cwd.parents]]
    for pattern in patterns:
        glob = str(Path(pattern).expanduser()).rstrip("/") or "/"
        glob = glob.removesuffix("/**")  # "DIR/**" means DIR and below: the parents walk does that
        if any(fnmatchcase(f, glob) for f in folders):
            return pattern
    return None


def project_sensitive(cwd: Path, *, config: Config | None = None) -> Path | None:
    """What marks ``cwd``'s project sensitive, if anything: the ``.hybridcc.toml`` saying so, or the
    user's config file when one of its ``[policy] sensitive_paths`` matches (config loaded if None)."""
    for folder in [cwd, *cwd.parents]:
        marker = folder / PROJECT_FILE
        if marker.is_file():
            try:
                data = tomllib.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{marker}: {exc}", hint="fix the file (it holds `sensitive = true`)") from exc
            if data.get("sensitive") is True:
                return marker
            break  # the repository's own file said no; the user's globs may still say yes
    if config is None:
        from hybridcc.config import load_config

        config = load_config()
    if config.sensitive_paths and sensitive_glob(cwd.resolve(), config.sensitive_paths) is not None:
        from hybridcc import paths

        return Path(config.source) if config.source else paths.config_file()
    return None


def is_local_profile(config: Config, profile: Profile) -> bool:
    from urllib.parse import urlsplit

    from hybridcc.providers import upstream_base

    provider = config.providers[profile.provider]
    host = urlsplit(upstream_base(provider, config.ollama)).hostname or ""
    return provider.api == "ollama" or provider.local or host in ("localhost", "::1") or host.startswith("127.")


def _preferred_order(config: Config) -> list[Profile]:
    """The default profile, then the ones the user configured (their file's order), then built-ins."""
    from hybridcc.config.load import read_user_data

    try:
        user, _ = read_user_data()
    except ConfigError:
        user = {}
    mine = [n for n in (user.get("profiles") or {}) if n in config.profiles]
    names = dict.fromkeys([config.default_profile, *mine, *config.profiles])
    return [config.profiles[n] for n in names if n in config.profiles]


def select_provider(complexity: Complexity = "medium", sensitive: bool = False, *, config: Config) -> tuple[str, str]:
    """(profile, model). ``[policy]`` in config maps tiers (and ``sensitive``) to profiles; sensitive
    work stays on a local profile whatever the tier. Without a mapping, the design's defaults: complex → the anthropic profile's big model when it exists, medium → the
    default profile, simple → the default profile's small model."""
    tier = "sensitive" if sensitive else complexity
    chosen = config.policy.get(tier)
    if chosen is not None:  # [policy] in config.toml decides first
        prof = config.profiles[chosen]
        if sensitive and not is_local_profile(config, prof):
            raise ConfigError(f"policy.sensitive names profile {chosen}, which is not local",
                              hint="name a local profile, or declare its host private: [providers.X] local = true")  # fmt: skip
        return prof.name, prof.model
    if sensitive:
        for prof in _preferred_order(config):
            if is_local_profile(config, prof):
                return prof.name, prof.model
        raise NotFoundError("sensitive work needs a local profile and none is configured",
                            hint="add one: `hybridcc profile add local --api openai --base-url http://127.0.0.1:8080/v1 …`")  # fmt: skip
    default = config.profiles[config.default_profile]
    if complexity == "complex" and "anthropic" in config.profiles:
        strong = config.profiles["anthropic"]
        return strong.name, strong.big
    if complexity == "simple":
        return default.name, default.small
    return default.name, default.model
