"""The per-install proxy token: the only credential `claude` is ever given."""

from __future__ import annotations

import os
import secrets

from hybridcc import paths
from hybridcc.fsutil import atomic_write, file_lock

PREFIX = "hcc-"


def read_token() -> str | None:
    try:
        value = paths.token_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def ensure_token() -> str:
    """Read the token, creating it (random, 0600) on first use; concurrent callers agree."""
    token = read_token()
    if token:
        return token
    with file_lock(paths.state_dir() / "token.lock"):
        token = read_token()
        if not token:
            token = PREFIX + secrets.token_urlsafe(32)
            atomic_write(paths.token_file(), token + "\n", mode=0o600)
    path = paths.token_file()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return token


def rotate_token() -> str:
    with file_lock(paths.state_dir() / "token.lock"):
        token = PREFIX + secrets.token_urlsafe(32)
        atomic_write(paths.token_file(), token + "\n", mode=0o600)
    return token
