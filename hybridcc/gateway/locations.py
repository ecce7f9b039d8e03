"""Where the gateway's files live, on top of :mod:`hybridcc.paths` (to move there when merged).

Kept in one module so no other gateway module computes a path.
"""

from __future__ import annotations

from pathlib import Path

from hybridcc import paths

SERVICE_PREFIX = "gateway-"  # service state records gateway-0, gateway-1… (one per instance)


def config_file() -> Path:
    """The LiteLLM proxy config `gateway config` writes and `gateway start` reads by default."""
    return paths.config_dir() / "gateway" / "litellm.yaml"


def master_key_file() -> Path:
    """The generated master key (0600) when ``$LITELLM_MASTER_KEY`` is not set."""
    return paths.state_dir() / "gateway" / "master.key"


def key_file(user: str) -> Path:
    """Where `gateway key create --user NAME` keeps the new virtual key (0600)."""
    return paths.state_dir() / "gateway" / "keys" / f"{user}.key"


def service_name(index: int) -> str:
    return f"{SERVICE_PREFIX}{index}"


def log_file(index: int) -> Path:
    return paths.service_log_file(service_name(index))


def lock_file() -> Path:
    return paths.service_lock_file("gateway")
