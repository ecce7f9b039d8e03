"""Run and supervise LiteLLM proxy instances: start, stop, status.

Each instance is a ``litellm --config FILE --host H --port P`` process in its own session with a
state record ``gateway-N`` (pid + create time, like the proxy's). Healthy means it answered
``GET /health/liveliness`` just now, never only that its pid exists. Several instances share the
config, so with ``router_settings.redis_*`` they share rate-limit counts too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from hybridcc import httpprobe, paths
from hybridcc.config.schema import Config
from hybridcc.errors import AuthError, ConfigError, MissingToolError, ServiceError, UsageError
from hybridcc.fsutil import atomic_write, file_lock
from hybridcc.gateway.litellm_config import DOCUMENTED_DEFAULT_KEY, MASTER_KEY_ENV, OFFLINE_ENV, key_env, referenced_env
from hybridcc.providers import resolve_key
from hybridcc.services.ports import check_port_free
from hybridcc.services.process import create_time, is_same_process, spawn_detached, stop_pid, tail
from hybridcc.services.state import ServiceState, clear_state, load_state, write_state

LITELLM_ENV: Final = "HYBRIDCC_LITELLM"
HEALTH_PATH: Final = "/health/liveliness"
# Measured: one instance needs 38 s to answer on a busy 2-core machine, two at once 77 s.
START_TIMEOUT: Final = 240.0
MAX_INSTANCES: Final = 16
INSTALL_HINT: Final = (
    "install LiteLLM in a venv of its own (`python3 -m venv ~/.litellm && ~/.litellm/bin/pip install "
    "'litellm[proxy]'`, or scripts/ci-gateway), then pass --litellm PATH or set HYBRIDCC_LITELLM"
)

SERVICE_PREFIX = "gateway-"  # service state records gateway-0, gateway-1… (one per instance)


def service_name(index: int) -> str:
    return f"{SERVICE_PREFIX}{index}"


@dataclass(frozen=True)
class Instance:
    index: int
    state: ServiceState
    running: bool  # the recorded process is alive and ours
    healthy: bool  # it answered GET /health/liveliness now
    rss_mb: float | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.state.host in ("0.0.0.0", "") else self.state.host
        return f"http://{host}:{self.state.port}"

    def as_dict(self) -> dict[str, object]:
        return {
            "instance": self.index, "url": self.url, "pid": self.state.pid, "running": self.running,
            "healthy": self.healthy, "rss_mb": self.rss_mb, "config": self.state.extra.get("config"),
            "started_at": self.state.started_at,
        }  # fmt: skip


def find_litellm(explicit: str | None = None) -> str:
    """``--litellm``, then ``$HYBRIDCC_LITELLM``, then ``litellm`` on PATH."""
    for candidate, origin in ((explicit, "--litellm"), (os.environ.get(LITELLM_ENV), f"${LITELLM_ENV}")):
        if candidate:
            if Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
            raise MissingToolError(f"{origin} names {candidate}, which is not an executable", hint=INSTALL_HINT)
    found = shutil.which("litellm")
    if not found:
        raise MissingToolError("litellm is not installed (not on PATH)", hint=INSTALL_HINT)
    return found


def master_key(*, create: bool = True) -> str:
    """``$LITELLM_MASTER_KEY``, else the generated one kept 0600 under the state directory."""
    value = os.environ.get(MASTER_KEY_ENV, "").strip()
    where = f"${MASTER_KEY_ENV}"
    if not value:
        path = paths.gateway_master_key_file()
        try:
            value = path.read_text(encoding="utf-8").strip()
            where = str(path)
        except FileNotFoundError:
            if not create:
                raise AuthError(
                    f"no gateway master key: ${MASTER_KEY_ENV} is not set and hybridcc has not generated one",
                    hint=f"export {MASTER_KEY_ENV}=… (the gateway's master key), or start it with `hybridcc gateway start`",
                ) from None
            value = "sk-" + secrets.token_urlsafe(32)
            atomic_write(path, value + "\n", mode=0o600)
            return value
    if value == DOCUMENTED_DEFAULT_KEY or not value.startswith("sk-") or len(value) < 20:
        raise AuthError(
            f"the gateway master key from {where} is unsafe: LiteLLM's documented example key, or not "
            "an `sk-` key of at least 20 characters",
            hint=f'export {MASTER_KEY_ENV}="sk-$(openssl rand -hex 24)" (or unset it: hybridcc then generates one)',
        )
    return value


def _instance_env(config: Config, config_text: str, base: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ours, the offline switches, the master key, and the keys of
    providers whose key comes from a command (under the name the config file reads)."""
    env = {**base, **OFFLINE_ENV, MASTER_KEY_ENV: master_key()}
    wanted = referenced_env(config_text)
    for provider in config.providers.values():
        var = key_env(provider)
        if var in wanted and not provider.api_key_env and var not in env:
            key = resolve_key(provider)
            if key:
                env[var] = key
    missing = [v for v in wanted if not env.get(v, "").strip()]
    if missing:
        raise AuthError(
            f"the gateway config reads {', '.join(missing)} from the environment, and it is not set",
            hint=f"export {missing[0]}=… before `hybridcc gateway start` (LiteLLM would start, then fail every call)",
        )
    return env


def probe(url: str, *, timeout: float = 2.0) -> bool:
    res = httpprobe.get(url + HEALTH_PATH, timeout=timeout)
    return res is not None and res.status == 200


def _rss_mb(pid: int) -> float | None:
    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:
        return None
    return round(total / 1e6, 1)


def _records() -> list[tuple[int, ServiceState]]:
    out = []
    for index in range(MAX_INSTANCES):
        state, _problem = load_state(service_name(index))
        if state is not None:
            out.append((index, state))
    return out


def status(*, timeout: float = 2.0) -> list[Instance]:
    """Every recorded instance, probed now."""
    out = []
    for index, state in _records():
        running = is_same_process(state)
        url = Instance(index, state, running, False).url
        healthy = running and probe(url, timeout=timeout)
        out.append(Instance(index, state, running, healthy, _rss_mb(state.pid) if running else None))
    return out


def _stop_one(index: int, state: ServiceState, timeout: float) -> bool:
    stopped = False
    if is_same_process(state):
        try:
            children = psutil.Process(state.pid).children(recursive=True)
        except psutil.Error:
            children = []
        stopped = stop_pid(state.pid, state.create_time, timeout=timeout)
        for child in children:  # a worker left behind would keep the port
            stop_pid(child.pid, None, timeout=2)
    clear_state(service_name(index))
    return stopped


def stop(*, timeout: float = 10.0) -> list[int]:
    """Stop every recorded instance (TERM, wait, KILL); the indexes that were running."""
    with file_lock(paths.service_lock_file("gateway")):
        return [index for index, state in _records() if _stop_one(index, state, timeout)]


@dataclass(frozen=True)
class _Spawned:
    index: int
    state: ServiceState
    log: Path


def _spawn(index: int, argv: list[str], env: dict[str, str], host: str, port: int, config_path: Path) -> _Spawned:
    log = paths.service_log_file(service_name(index))
    proc = spawn_detached(argv, env=env, log_path=log)
    # No cmdline in the record: read now it may still be ours (before exec) or a wrapper's
    # (a shell script that execs python); pid + create time identify the process.
    state = ServiceState(
        service=service_name(index), pid=proc.pid, create_time=create_time(proc.pid) or time.time(),
        host=host, port=port, version="", started_at=time.time(), owner="user",
        extra={"config": str(config_path), "litellm": argv[0]},
    )  # fmt: skip
    write_state(state)
    return _Spawned(index, state, log)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    check_port_free(host, port, hint="pass --port N (instance i gets N+i), or --port 0 for free ports")


def start(
    *,
    config: Config,
    config_path: Path,
    instances: int = 1,
    host: str = "127.0.0.1",
    port: int = 4000,
    litellm: str | None = None,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> list[Instance]:
    """Start ``instances`` LiteLLM processes on ports ``port``, ``port+1``… (0: free ports) and
    wait until each answers its health probe. Running healthy instances are kept, not restarted."""
    if not 1 <= instances <= MAX_INSTANCES:
        raise UsageError(f"--instances {instances}: expected 1 to {MAX_INSTANCES}")
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the gateway config {config_path} ({exc.strerror or exc})",
            hint="write it with `hybridcc gateway config`, or pass --config PATH",
        ) from exc
    exe = find_litellm(litellm)
    child_env = _instance_env(config, text, os.environ if env is None else env)
    with file_lock(paths.service_lock_file("gateway")):
        current = {i.index: i for i in status()}
        spawned: list[_Spawned] = []
        try:
            for index in range(instances):
                have = current.get(index)
                if have is not None and have.healthy:
                    continue
                if have is not None:
                    _stop_one(index, have.state, 5)
                p = _free_port(host) if port == 0 else port + index
                _check_port(host, p)
                argv = [exe, "--config", str(config_path), "--host", host, "--port", str(p), "--num_workers", "1"]
                spawned.append(_spawn(index, argv, child_env, host, p, config_path))
            _wait_healthy(spawned, timeout)
        except BaseException:
            for s in spawned:
                _stop_one(s.index, s.state, 5)
            raise
    return [i for i in status() if i.index < instances]


def _wait_healthy(spawned: list[_Spawned], timeout: float) -> None:
    """All at once: LiteLLM's start-up is slow (imports), so the instances start in parallel."""
    deadline = time.monotonic() + timeout
    waiting = list(spawned)
    while waiting:
        for s in list(waiting):
            inst = Instance(s.index, s.state, True, False)
            if probe(inst.url, timeout=1.0):
                waiting.remove(s)
            elif not is_same_process(s.state):
                raise ServiceError(
                    f"LiteLLM instance {s.index} exited during start-up; last log lines: " + " | ".join(tail(s.log, 8)),
                    hint=f"see {s.log}; check the config with `litellm --config FILE` by hand",
                )
        if waiting and time.monotonic() > deadline:
            s = waiting[0]
            raise ServiceError(
                f"LiteLLM instance {s.index} did not answer {HEALTH_PATH} within {timeout:.0f}s; "
                "last log lines: " + " | ".join(tail(s.log, 8)),
                hint=f"see {s.log}; a slow machine may need --timeout {int(timeout * 2)}",
            )
        if waiting:
            time.sleep(0.2)
