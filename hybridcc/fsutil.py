"""Safe file writes: temp file in the same folder, fsync, replace; backups; 0600 for secrets.

Everything under the state and log directories is private (directories 0700, files 0600): they
hold pids, ports, request metadata and the proxy token (issue 11, item 4).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hybridcc import paths

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) 0700, and tighten it when it exists looser."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o077:
        with contextlib.suppress(PermissionError):  # not ours to change: leave it rather than fail
            os.chmod(path, PRIVATE_DIR_MODE)
    return path


def _private_root(path: Path) -> Path | None:
    """The state or log directory ``path`` lies in, if any."""
    target = path.absolute()
    for directory in (paths.state_dir(), paths.log_dir()):
        if target.is_relative_to(directory.absolute()):
            return directory
    return None


def is_private_location(path: Path) -> bool:
    return _private_root(path) is not None


def make_parent(path: Path) -> None:
    """Create the parent directory of ``path``: private under state/logs, ordinary elsewhere."""
    root = _private_root(path)
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    private_dir(root)
    private_dir(path.parent)


def tighten(fd: int) -> None:
    """0600 for a regular file opened on ``fd`` (a log an older version created 0644).

    Only regular files: a log pointed at a device (``/dev/full``, ``/dev/null``) is left alone.
    """
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, PRIVATE_FILE_MODE)


def open_private_append(path: Path) -> int:
    """A file descriptor appending to ``path`` (a log), created 0600 in a private directory."""
    make_parent(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    tighten(fd)
    return fd


class BackupError(OSError):
    """The backup copy could not be written (the original file is untouched)."""


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None, backup: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; keep the old file as ``<name>.bak`` if asked.

    ``mode`` (e.g. 0o600) is set on the temp file before it becomes visible, so a secret is
    never readable by others even for an instant. Files under state/logs are always 0600.
    """
    make_parent(path)
    raw = data.encode() if isinstance(data, str) else data
    if mode is None and is_private_location(path):
        mode = PRIVATE_FILE_MODE
    elif mode is None and path.exists():
        mode = path.stat().st_mode & 0o777
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        if backup and path.exists():
            bak = paths.backup_file(path)
            try:
                shutil.copyfile(path, bak)  # not copy2: onto a directory it would copy *into* it
                shutil.copystat(path, bak)
                if mode is not None:
                    os.chmod(bak, mode)
            except OSError as exc:
                raise BackupError(exc.errno, exc.strerror, str(bak)) from exc
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the ``with`` block; released if we die.

    Not re-entrant: flock locks belong to an open file, so taking it twice in one process blocks.
    """
    import fcntl

    make_parent(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def mask_secret(value: str | None) -> str:
    """``sk-or-v1-abcdef…a1b2`` → ``sk-or-…a1b2``: enough to recognise, never enough to use."""
    if not value:
        return "(empty)"
    if len(value) <= 8:
        return "…" * 1 + value[-2:] if len(value) > 4 else "****"
    head = value[:6]
    return f"{head}…{value[-4:]}"
