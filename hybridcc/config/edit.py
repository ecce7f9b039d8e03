"""Edits to the user's config.toml that keep their comments and key order.

tomli-w writes from a plain dict and would drop every comment, so edits of a file the user
also edits by hand go through tomlkit's round-trip document instead. Every edit is validated
before it is written, written atomically, and the previous file kept as config.toml.bak.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from hybridcc import paths
from hybridcc.config.builtin import BUILTIN
from hybridcc.config.load import check_data, read_user_data
from hybridcc.errors import ConfigError, NotFoundError
from hybridcc.fsutil import BackupError, atomic_write

# errno → (what went wrong, how to fix it); {dir} is the config file's directory.
_DENIED = "make {dir} and the file writable by you (`chmod u+w`), or point HYBRIDCC_CONFIG elsewhere"
_WRITE_FAILURES: dict[int, tuple[str, str]] = {
    errno.EROFS: ("its file system is read-only", "remount it read-write, or point HYBRIDCC_CONFIG elsewhere"),
    errno.EACCES: ("permission denied", _DENIED),
    errno.EPERM: ("permission denied", _DENIED),
    errno.ENOSPC: ("the disk is full", "free some space on the disk holding {dir}, then run the command again"),
    errno.EDQUOT: ("the disk quota is used up", "free some space under your quota, then run the command again"),
    errno.EFBIG: (
        "the file is larger than this system allows (ulimit -f)",
        "raise the limit (`ulimit -f unlimited`), then run the command again",
    ),
}


def write_error(path: Path, exc: OSError) -> ConfigError:
    """A failed write of ``path`` as one line naming the cause and the fix (the old file is intact:
    the new text goes to a temp file first). Mentions the backup only when one exists."""
    if isinstance(exc, BackupError):
        bak = paths.backup_file(path)
        return ConfigError(
            f"could not keep the backup {bak} ({exc.strerror or exc}), so {path} was not changed",
            hint=f"remove or fix {bak} (it must be a writable file), then run the command again",
        )
    default = (exc.strerror or str(exc), "check {dir}, then run the command again")
    cause, fix = _WRITE_FAILURES.get(exc.errno or 0, default)
    return ConfigError(f"could not write {path}: {cause}; the file was not changed", hint=fix.format(dir=path.parent))


def write_config_text(path: Path, data: str | bytes, *, mode: int | None = None, backup: bool = False) -> None:
    """``atomic_write`` for config files: an OSError becomes a ConfigError naming cause and fix."""
    try:
        atomic_write(path, data, mode=mode, backup=backup)
    except OSError as exc:
        raise write_error(path, exc) from exc


def load_doc(path: Path) -> tomlkit.TOMLDocument:
    read_user_data(path)  # raises a precise ConfigError on a broken file
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = tomlkit.document()
        doc.add("schema_version", 1)
        return doc


def has_inline_key(data: dict[str, Any]) -> bool:
    providers = data.get("providers", {})
    return isinstance(providers, dict) and any(isinstance(t, dict) and "api_key" in t for t in providers.values())


def save_text(path: Path, text: str) -> None:
    """Validate TOML text as a config and write it atomically with a backup."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - tomlkit output always parses
        raise ConfigError(f"{path}: refusing to write invalid TOML ({exc})") from exc
    config, problems = check_data(data, str(path))
    if config is None:
        raise ConfigError(f"{path}: refusing to write an invalid config: {problems[0]}")
    mode = 0o600 if (has_inline_key(data) or not path.exists()) else None
    write_config_text(path, text, mode=mode, backup=True)


def config_table(doc: tomlkit.TOMLDocument, key: str) -> Table:
    if key not in doc:
        doc.add(key, tomlkit.table(is_super_table=True))
    item = doc[key]
    if not isinstance(item, Table):
        raise ConfigError(f"{key}: expected a table in config.toml", hint="run `hybridcc config edit` to fix it")
    return item


def add_profile(
    name: str,
    *,
    base_url: str,
    api: str,
    model: str,
    small_model: str | None = None,
    big_model: str | None = None,
    api_key_env: str | None = None,
    api_key_cmd: str | None = None,
    api_key: str | None = None,
    quirks: str | None = None,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
    force: bool = False,
    path: Path | None = None,
) -> Path:
    """Create ``[providers.NAME]`` and ``[profiles.NAME]`` in the user's file."""
    path = path or paths.config_file()
    doc = load_doc(path)
    providers = config_table(doc, "providers")
    profiles = config_table(doc, "profiles")
    if not force and (name in providers or name in profiles):
        raise ConfigError(
            f'a profile or provider named "{name}" is already in {path}',
            hint="choose another name, or pass --force to replace it",
        )
    prov = tomlkit.table()
    prov.add("api", api)
    prov.add("base_url", base_url)
    for key, value in (
        ("api_key_env", api_key_env), ("api_key_cmd", api_key_cmd), ("api_key", api_key), ("quirks", quirks),
    ):  # fmt: skip
        if value:
            prov.add(key, value)
    prof = tomlkit.table()
    prof.add("provider", name)
    prof.add("model", model)
    for key, val in (
        ("small_model", small_model), ("big_model", big_model),
        ("context_window", context_window), ("max_output_tokens", max_output_tokens),
    ):  # fmt: skip
        if val is not None:
            prof.add(key, val)
    providers[name] = prov
    profiles[name] = prof
    save_text(path, tomlkit.dumps(doc))
    return path


def remove_profile(name: str, *, path: Path | None = None) -> Path:
    """Remove ``[profiles.NAME]``, and its provider when no other profile uses it."""
    path = path or paths.config_file()
    doc = load_doc(path)
    profiles = doc.get("profiles")
    if not isinstance(profiles, Table) or name not in profiles:
        if name in BUILTIN["profiles"]:
            raise NotFoundError(
                f'"{name}" is a built-in profile and cannot be removed',
                hint=f"ignore it, or override its keys under [profiles.{name}]",
            )
        raise NotFoundError(f'no profile named "{name}" in {path}', hint="see `hybridcc profile list`")
    entry = profiles[name]
    provider = str(entry.get("provider", "")) if isinstance(entry, Table) else ""
    del profiles[name]
    providers = doc.get("providers")
    still_used = any(isinstance(t, Table) and t.get("provider") == provider for t in profiles.values())
    if (
        isinstance(providers, Table)
        and provider in providers
        and not still_used
        and provider not in BUILTIN["providers"]
    ):
        del providers[provider]
    if doc.get("default_profile") == name:
        del doc["default_profile"]
    save_text(path, tomlkit.dumps(doc))
    return path


def set_default(name: str, *, path: Path | None = None) -> Path:
    path = path or paths.config_file()
    doc = load_doc(path)
    doc["default_profile"] = name
    save_text(path, tomlkit.dumps(doc))
    return path
