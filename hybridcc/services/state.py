"""Service state records (JSON under the state dir, written atomically under a file lock)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from hybridcc import paths
from hybridcc.fsutil import atomic_write


@dataclass(frozen=True)
class ServiceState:
    service: str  # "proxy" | "ollama"
    pid: int
    create_time: float  # psutil's process create time: guards against pid reuse
    host: str
    port: int
    version: str
    started_at: float
    owner: str  # "user" (explicit start: never stopped by a session) | "session"
    fingerprint: str = ""
    cmdline: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def read_state(service: str) -> ServiceState | None:
    try:
        data = json.loads(paths.service_state_file(service).read_text(encoding="utf-8"))
        return ServiceState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: ServiceState) -> None:
    atomic_write(paths.service_state_file(state.service), json.dumps(asdict(state), indent=2), mode=0o600)


def clear_state(service: str) -> None:
    paths.service_state_file(service).unlink(missing_ok=True)
