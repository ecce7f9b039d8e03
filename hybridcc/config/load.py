"""Read config.toml (or none), merge it over the built-ins, validate, and look things up."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridcc import paths
from hybridcc.config.builtin import merge
from hybridcc.config.schema import Config, Profile
from hybridcc.config.validate import validate
from hybridcc.errors import ConfigError, NotFoundError, did_you_mean

_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_user_data(path: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The user's TOML as a dict, or ``{}`` when there is no file (built-in defaults apply)."""
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if os.environ.get("HYBRIDCC_CONFIG"):
            raise ConfigError(
                f"{path}: config file not found (HYBRIDCC_CONFIG points at it)",
                hint="create it with `hybridcc init`, or unset HYBRIDCC_CONFIG",
            ) from None
        return {}, None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file", hint="point at a .toml file") from None
    except PermissionError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror})",
            hint=f"fix its permissions: chmod 600 {path}",
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})", hint="save it as UTF-8") from exc
    try:
        return tomllib.loads(text), path
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _POS.search(msg)
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        reason = _POS.sub("", msg).strip()
        raise ConfigError(
            f"{where}: invalid TOML: {reason}",
            hint="fix that line (`hybridcc config edit`), or restore the backup config.toml.bak",
        ) from exc


def check_data(data: dict[str, Any], source: str | None) -> tuple[Config | None, list[str]]:
    return validate(merge(data), source=source)


def load_config(path: Path | None = None) -> Config:
    """The effective configuration: built-ins overlaid with the user's file, validated."""
    data, found = read_user_data(path)
    source = str(found) if found else None
    config, problems = check_data(data, source)
    if config is None:
        where = source or "built-in defaults"
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(
            f"{where}: {problems[0]}{extra}",
            hint="run `hybridcc config validate` to list every problem, then `hybridcc config edit`",
        )
    return config


def fingerprint(config: Config) -> str:
    """Changes when anything in the config the proxy depends on changes."""
    h = hashlib.sha256(
        repr((config.default_profile, config.providers, config.profiles, config.proxy, config.ollama)).encode()
    )
    return h.hexdigest()[:16]


def key_hashes(config: Config, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A short hash of each provider key found in ``env`` (never the key): the proxy daemon reads
    keys from the environment it was started with, so a caller holding a key the daemon lacks,
    or a different one, means the daemon must be restarted with the caller's environment."""
    environ = os.environ if env is None else env
    out: dict[str, str] = {}
    for provider in config.providers.values():
        var = provider.api_key_env
        if var and environ.get(var, "").strip():
            out[var] = hashlib.sha256(environ[var].strip().encode()).hexdigest()[:16]
    return out


def get_profile(config: Config, name: str | None) -> Profile:
    name = name or config.default_profile
    try:
        return config.profiles[name]
    except KeyError:
        raise NotFoundError(
            f'no profile named "{name}"{did_you_mean(name, sorted(config.profiles))}'
            f" (known: {', '.join(sorted(config.profiles))})",
            hint="list them with `hybridcc profile list`, or add one with `hybridcc profile add`",
        ) from None
