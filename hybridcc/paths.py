"""Every file and directory location hybridcc uses. Nothing else in the code computes a path.

Locations follow platformdirs for the app name ``hybridcc``. ``HYBRIDCC_HOME=DIR`` puts all of
them under DIR (tests and portable installs); ``HYBRIDCC_CONFIG=FILE`` overrides only the config
file. Each function reads the environment when called, so a changed environment takes effect.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "hybridcc"


def _home() -> Path | None:
    value = os.environ.get("HYBRIDCC_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    return home if home else Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    override = os.environ.get("HYBRIDCC_CONFIG")
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.toml"


def backup_file(path: Path) -> Path:
    """Where the previous version of a file we overwrite is kept."""
    return path.with_name(path.name + ".bak")


def state_dir() -> Path:
    home = _home()
    return home / "state" if home else Path(platformdirs.user_state_dir(APP_NAME))


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def token_file() -> Path:
    """The per-install proxy token (0600): the only credential `claude` ever holds."""
    return state_dir() / "proxy.token"


def service_state_file(service: str) -> Path:
    return state_dir() / f"{service}.json"


def service_lock_file(service: str) -> Path:
    return state_dir() / f"{service}.lock"


def leases_dir() -> Path:
    return state_dir() / "leases"


def service_log_file(service: str) -> Path:
    return log_dir() / f"{service}.log"


def gateway_config_file() -> Path:
    """The LiteLLM proxy config `gateway config` writes and `gateway start` reads by default."""
    return config_dir() / "gateway" / "litellm.yaml"


def gateway_master_key_file() -> Path:
    """The generated gateway master key (0600) when ``$LITELLM_MASTER_KEY`` is not set."""
    return state_dir() / "gateway" / "master.key"


def gateway_key_file(user: str) -> Path:
    """Where `gateway key create --user NAME` keeps the new virtual key (0600)."""
    return state_dir() / "gateway" / "keys" / f"{user}.key"


def request_log_file() -> Path:
    """One JSON line per proxied request (token counts, latency); never holds a secret."""
    return log_dir() / "requests.jsonl"


def usage_db_file() -> Path:
    return data_dir() / "usage.sqlite3"


def all_locations() -> dict[str, Path]:
    return {
        "config": config_file(),
        "state": state_dir(),
        "logs": log_dir(),
        "data": data_dir(),
        "token": token_file(),
    }


def shell_rc_file(shell: str) -> Path:
    """The file `hybridcc alias --install` edits for ``shell``."""
    home = Path.home()
    if shell == "zsh":
        return Path(os.environ.get("ZDOTDIR") or home) / ".zshrc"
    if shell == "fish":
        xdg = os.environ.get("XDG_CONFIG_HOME")
        return (Path(xdg) if xdg else home / ".config") / "fish" / "conf.d" / "hybridcc.fish"
    return home / ".bashrc"


def claude_install_candidates() -> list[Path]:
    """Where the Claude Code installers put `claude` when it is not on PATH."""
    home = Path.home()
    return [home / ".claude" / "local" / "claude", home / ".local" / "bin" / "claude"]


def claude_projects_dir() -> Path:
    """Where Claude Code keeps session transcripts (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``)."""
    root = os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(root).expanduser() if root else Path.home() / ".claude") / "projects"


def claude_settings_files(cwd: Path) -> list[Path]:
    """Settings files whose ``env`` block overrides a launcher's environment (user, project)."""
    config_home = (
        Path(os.environ["CLAUDE_CONFIG_DIR"]) if os.environ.get("CLAUDE_CONFIG_DIR") else Path.home() / ".claude"
    )
    return [
        config_home / "settings.json",
        cwd / ".claude" / "settings.json",
        cwd / ".claude" / "settings.local.json",
    ]
