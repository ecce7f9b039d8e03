"""Reading and following service logs (rotation-aware)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from hybridcc.services.process import tail


def last_lines(path: Path, n: int) -> list[str]:
    return tail(path, n) if n > 0 else []


def follow_file(path: Path, *, poll: float = 0.25, stop_after: float | None = None) -> Iterator[str]:
    """Yield lines appended to ``path``; reopens it when it is rotated or replaced."""
    started = time.monotonic()
    fh = None
    inode = None
    position = path.stat().st_size if path.exists() else 0
    buf = ""
    while stop_after is None or time.monotonic() - started < stop_after:
        if fh is None:
            try:
                fh = path.open("r", encoding="utf-8", errors="replace")
                inode = os.fstat(fh.fileno()).st_ino
                fh.seek(position)
            except OSError:
                time.sleep(poll)
                continue
        chunk = fh.read()
        if chunk:
            buf += chunk
            *complete, buf = buf.split("\n")
            yield from complete
            continue
        try:
            if path.stat().st_ino != inode or path.stat().st_size < fh.tell():
                fh.close()
                fh, position = None, 0  # rotated: start the new file from its beginning
                continue
        except OSError:
            pass
        time.sleep(poll)
    if fh is not None:
        fh.close()
