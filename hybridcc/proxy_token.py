"""The per-install proxy token: the only credential `claude` is ever given."""

from __future__ import annotations

import os
import secrets

from hybridcc import paths
from hybridcc.fsutil import atomic_write, file_lock

PREFIX = "hcc-"


def _valid(value: str) -> bool:
    # It travels in an HTTP header: printable ASCII without spaces.
    return value.isascii() and value.isprintable() and " " not in value


def _read() -> tuple[str | None, str | None]:
    """(token, None); (None, None) when there is no token file; (None, problem) when it is unusable."""
    path = paths.token_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"the proxy token file {path} cannot be read ({exc.strerror})"
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, f"the proxy token file {path} was not UTF-8 text"
    if not value:
        return None, f"the proxy token file {path} was empty"
    if not _valid(value):
        return None, f"the proxy token file {path} did not hold a token"
    return value, None


def read_token() -> str | None:
    """The token, or None when there is none yet or the file is unusable (never raises)."""
    return _read()[0]


def ensure_token() -> str:
    """Read the token, creating it (random, 0600) on first use; concurrent callers agree.

    An unusable token file (not UTF-8, empty, garbled) is replaced by a new token, said in one
    line; a running proxy that holds the old one is then restarted by whoever starts it next.
    """
    token = read_token()
    if token:
        return token
    from hybridcc.services.state import report_repair

    with file_lock(paths.state_dir() / "token.lock"):
        token, problem = _read()
        if not token:
            token = PREFIX + secrets.token_urlsafe(32)
            atomic_write(paths.token_file(), token + "\n", mode=0o600)
            if problem:
                report_repair(f"{problem}; wrote a new token (sessions started before get 401 until restarted)")
    path = paths.token_file()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return token


def rotate_token() -> str:
    with file_lock(paths.state_dir() / "token.lock"):
        token = PREFIX + secrets.token_urlsafe(32)
        atomic_write(paths.token_file(), token + "\n", mode=0o600)
    return token
