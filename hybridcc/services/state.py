"""Service state records (JSON under the state dir, written atomically under a file lock).

A record that cannot be read as one (truncated, empty, garbled, a pid written as a string) is
"unknown", never a crash: :func:`load_state` says what is wrong with it, the caller looks for
its live service another way and :func:`report_repair` tells the user in one line (issue 11).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
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


# The type each field must have on disk; bool is excluded where an int is wanted (True is an int).
_TYPES: dict[str, tuple[type, ...]] = {
    "service": (str,), "pid": (int,), "create_time": (int, float), "host": (str,), "port": (int,),
    "version": (str,), "started_at": (int, float), "owner": (str,), "fingerprint": (str,),
    "cmdline": (list,), "extra": (dict,),
}  # fmt: skip


def parse_state(raw: bytes) -> ServiceState:
    """A record from its file's bytes; ValueError naming the first problem."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except ValueError:
        raise ValueError("it is empty" if not raw.strip() else "it is not valid JSON (truncated or garbled)") from None
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    known = {f.name for f in fields(ServiceState)}
    for name in known:
        if name not in data:
            if name in ("fingerprint", "cmdline", "extra"):
                continue
            raise ValueError(f"it has no {name}")
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, _TYPES[name]):
            shown = json.dumps(value)[:40]
            raise ValueError(f"its {name} is {type(value).__name__} {shown}, not {_TYPES[name][0].__name__}")
    if data["pid"] <= 0 or not 0 <= data["port"] <= 65535:
        raise ValueError(f"its pid {data['pid']} or port {data['port']} is out of range")
    if not all(isinstance(part, str) for part in data.get("cmdline", [])):
        raise ValueError("its cmdline is not a list of strings")
    return ServiceState(**{k: v for k, v in data.items() if k in known})


def load_state(service: str) -> tuple[ServiceState | None, str | None]:
    """(record, None); (None, None) when there is none; (None, problem) when it is unreadable."""
    path = paths.service_state_file(service)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"{path} cannot be read ({exc.strerror})"
    try:
        return parse_state(raw), None
    except ValueError as exc:
        return None, f"{path} was unreadable: {exc}"


def read_state(service: str) -> ServiceState | None:
    """The record, or None when there is none or it is unreadable (see :func:`load_state`)."""
    return load_state(service)[0]


def write_state(state: ServiceState) -> None:
    atomic_write(paths.service_state_file(state.service), json.dumps(asdict(state), indent=2), mode=0o600)


def clear_state(service: str) -> None:
    paths.service_state_file(service).unlink(missing_ok=True)


def report_repair(message: str) -> None:
    """One line on stderr saying what was repaired, then the command goes on.

    A repair is not an error (nothing for the error root to catch) and happens deep in a service
    call that returns its own result, so it is said here, once, where it happens.
    """
    print(f"hybridcc: repaired: {message}", file=sys.stderr)
