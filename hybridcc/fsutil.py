"""Safe file writes: temp file in the same folder, fsync, replace; backups; 0600 for secrets."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hybridcc import paths


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None, backup: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; keep the old file as ``<name>.bak`` if asked.

    ``mode`` (e.g. 0o600) is set on the temp file before it becomes visible, so a secret is
    never readable by others even for an instant.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    if mode is None and path.exists():
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
            shutil.copy2(path, bak)
            if mode is not None:
                os.chmod(bak, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the ``with`` block; released if we die."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
