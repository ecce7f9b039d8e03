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


def _parse(raw: bytes) -> Lease:
    """A lease from its file; ValueError when it is not one (truncated, a pid as a string, …)."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or set(data) != {"service", "pid", "create_time", "taken_at"}:
        raise ValueError("not a lease")
    if not isinstance(data["service"], str) or type(data["pid"]) is not int or data["pid"] <= 0:
        raise ValueError("not a lease")
    times = (data["create_time"], data["taken_at"])
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
        raise ValueError("not a lease")
    return Lease(data["service"], data["pid"], float(data["create_time"]), float(data["taken_at"]))


def take(service: str, pid: int | None = None) -> Lease:
    pid = pid or os.getpid()
    lease = Lease(service, pid, create_time(pid) or time.time(), time.time())
    atomic_write(lease.path, json.dumps(asdict(lease)), mode=0o600)
    return lease


def release(lease: Lease) -> None:
    lease.path.unlink(missing_ok=True)


def active(service: str) -> list[Lease]:
    """Leases on ``service`` whose holder is still alive; dead holders' and unreadable leases are removed."""
    out: list[Lease] = []
    directory = paths.leases_dir()
    if not directory.is_dir():
        return out
    for path in directory.glob(f"{service}-*.json"):
        try:
            lease = _parse(path.read_bytes())
        except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            path.unlink(missing_ok=True)
            continue
        ct = create_time(lease.pid)
        if ct is None or abs(ct - lease.create_time) > 0.5:
            path.unlink(missing_ok=True)  # holder died (or its pid was reused)
            continue
        out.append(lease)
    return out
