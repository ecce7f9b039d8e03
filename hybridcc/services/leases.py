"""Leases: which running `hybridcc run` sessions use a service. A lease whose pid is gone is reaped."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hybridcc import paths
from hybridcc.fsutil import atomic_write
from hybridcc.services.process import create_time


@dataclass(frozen=True)
class Lease:
    service: str
    pid: int
    create_time: float
    taken_at: float

    @property
    def path(self) -> Path:
        return paths.leases_dir() / f"{self.service}-{self.pid}.json"


def take(service: str, pid: int | None = None) -> Lease:
    pid = pid or os.getpid()
    lease = Lease(service, pid, create_time(pid) or time.time(), time.time())
    atomic_write(lease.path, json.dumps(asdict(lease)), mode=0o600)
    return lease


def release(lease: Lease) -> None:
    lease.path.unlink(missing_ok=True)


def active(service: str) -> list[Lease]:
    """Leases on ``service`` whose holder is still alive; dead holders' leases are removed."""
    out: list[Lease] = []
    directory = paths.leases_dir()
    if not directory.is_dir():
        return out
    for path in directory.glob(f"{service}-*.json"):
        try:
            lease = Lease(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        ct = create_time(lease.pid)
        if ct is None or abs(ct - lease.create_time) > 0.5:
            path.unlink(missing_ok=True)  # holder died (or its pid was reused)
            continue
        out.append(lease)
    return out
