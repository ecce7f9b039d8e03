"""Recognising our proxy daemon: an authenticated `/health` probe, and a search for a daemon of
ours whose state record was lost or is unreadable (issue 11, items 11 to 13).

`GET /health` without the token answers only ``status``, ``service`` and ``version``; with the
token it adds ``pid``, ``fingerprint`` and ``token_id`` (a hash that names the token without
revealing it). So every probe here sends the token from the token file, and a proxy that answers
but gives no matching ``token_id`` holds another token.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import psutil

from hybridcc import httpprobe
from hybridcc.proxy_token import read_token
from hybridcc.services.process import processes_running
from hybridcc.services.state import ServiceState

SERVICE = "proxy"
MODULE = "hybridcc.proxy"
# The variables that decide where a daemon keeps its state (paths.py): same values, same install.
_INSTALL_VARS = ("HYBRIDCC_HOME", "HOME", "XDG_STATE_HOME")


def connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def auth_headers(token: str | None) -> dict[str, str]:
    return {"x-api-key": token} if token else {}


def probe(host: str, port: int, timeout: float = 1.0, *, token: str | None = None) -> dict[str, Any] | None:
    """GET /health with the token (``token`` or the token file's): the proxy's answer, or None."""
    token = token if token is not None else read_token()
    data = httpprobe.get_json(
        f"http://{connect_host(host)}:{port}/health", timeout=timeout, headers=auth_headers(token)
    )
    return data if isinstance(data, dict) and data.get("service") == "hybridcc-proxy" else None


def holds_token(health: dict[str, Any] | None, token: str | None) -> bool:
    """The answering proxy holds ``token`` (it told us its token id, which only a holder hears)."""
    return health is not None and token is not None and health.get("token_id") == token_id(token)


def same_install(proc: psutil.Process) -> bool:
    """The process keeps its state where we keep ours (same HYBRIDCC_HOME / HOME): ours."""
    try:
        env = proc.environ()
    except (psutil.Error, OSError):
        return False
    return all(env.get(name) == os.environ.get(name) for name in _INSTALL_VARS)


@dataclass(frozen=True)
class Found:
    """A live proxy daemon of ours found without (or despite) its state record."""

    pid: int
    create_time: float
    host: str
    port: int
    cmdline: list[str]
    health: dict[str, Any] | None  # None: it listens but does not answer (hung)

    def as_state(self) -> ServiceState:
        health = self.health or {}
        return ServiceState(
            service=SERVICE, pid=self.pid, create_time=self.create_time, host=self.host, port=self.port,
            version=str(health.get("version", "unknown")), started_at=self.create_time,
            owner="user",  # unknown: "user" is the safe guess, a session's end never stops it
            fingerprint=str(health.get("fingerprint", "")), cmdline=self.cmdline,
        )  # fmt: skip


def _listening(proc: psutil.Process) -> list[tuple[str, int]]:
    try:
        conns = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") else proc.connections()
    except (psutil.Error, OSError):
        return []
    return sorted({(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN and c.laddr})


def find_ours(token: str | None, *, timeout: float = 0.5) -> list[Found]:
    """Our live proxy daemons: ``python -m hybridcc.proxy`` of this user, listening, and either
    answering with our token id or (hung, or holding an old token) started for our install."""
    found: list[Found] = []
    for proc in processes_running(MODULE):
        for ip, port in _listening(proc):
            health = probe(ip, port, timeout=timeout, token=token)
            mine = holds_token(health, token) and health is not None and health.get("pid") == proc.pid
            if not mine and not same_install(proc):
                continue  # another install's proxy (another HYBRIDCC_HOME or user): not ours to touch
            try:
                found.append(Found(proc.pid, proc.create_time(), ip, port, proc.cmdline(), health))
            except psutil.Error:
                continue
            break
    return found


def wait_answer(host: str, port: int, token: str | None, *, timeout: float) -> dict[str, Any] | None:
    """Probe until the proxy answers or ``timeout`` passes (a busy proxy gets a second chance)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        health = probe(host, port, timeout=max(0.2, min(left, 2.0)), token=token)
        if health is not None or time.monotonic() >= deadline:
            return health
