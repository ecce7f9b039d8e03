"""The proxy as a supervised daemon: start, stop, status, ensure, adopt, restart on config change.

Config changes: a running proxy whose config fingerprint no longer matches, or that lacks a
provider key the caller holds (or holds a different one), is restarted on the same port by the
next command that needs it (`run`, `env`, `proxy start`); uvicorn's graceful shutdown lets
requests in flight finish first. A caller without a key never restarts a daemon that has one.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from hybridcc import __version__, httpprobe, paths
from hybridcc.config.load import fingerprint, key_hashes
from hybridcc.config.schema import Config
from hybridcc.errors import ServiceError
from hybridcc.fsutil import file_lock
from hybridcc.services import leases
from hybridcc.services.ports import port_owner_hint
from hybridcc.services.process import create_time, is_same_process, spawn_detached, stop_pid, tail
from hybridcc.services.state import ServiceState, clear_state, read_state, write_state
from hybridcc.token import ensure_token

SERVICE = "proxy"
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class ProxyStatus:
    state: ServiceState | None
    running: bool  # the recorded process is alive and ours
    healthy: bool  # it answered GET /health as our proxy
    health: dict[str, Any] | None
    current: bool  # same config fingerprint, and every key the caller holds is the daemon's too
    leases: int

    @property
    def url(self) -> str | None:
        return f"http://{_connect_host(self.state.host)}:{self.state.port}" if self.state else None


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def probe(host: str, port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """GET /health: the proxy's own answer, or None."""
    data = httpprobe.get_json(f"http://{_connect_host(host)}:{port}/health", timeout=timeout)
    return data if isinstance(data, dict) and data.get("service") == "hybridcc-proxy" else None


def _token_id(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()[:12]


def status(config: Config) -> ProxyStatus:
    state = read_state(SERVICE)
    n_leases = len(leases.active(SERVICE))
    if state is None:
        return ProxyStatus(None, False, False, None, False, n_leases)
    running = is_same_process(state)
    health = probe(state.host, state.port) if running else None
    healthy = bool(health and health.get("pid") == state.pid)
    theirs = state.extra.get("key_hashes", {})
    current = state.fingerprint == fingerprint(config) and all(
        theirs.get(k) == v for k, v in key_hashes(config).items()
    )
    return ProxyStatus(state, running, healthy, health, current, n_leases)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ServiceError(
                f"port {port} on {host} is in use{port_owner_hint(port) or ' by another program'}",
                hint="pass --port N, or set `port = 0` under [proxy] in config.toml for a free port chosen at start",
            ) from exc


def _adopt(config: Config, host: str, port: int, token: str) -> ServiceState | None:
    """A healthy proxy of ours on the port but no state record (state dir wiped): adopt it."""
    health = probe(host, port)
    if not health or health.get("token_id") != _token_id(token):
        return None
    pid = int(health.get("pid", 0))
    ct = create_time(pid)
    if ct is None:
        return None
    import psutil

    state = ServiceState(
        service=SERVICE, pid=pid, create_time=ct, host=host, port=port, version=str(health.get("version")),
        started_at=time.time() - float(health.get("uptime_s", 0)), owner="user",
        fingerprint=str(health.get("fingerprint", "")), cmdline=psutil.Process(pid).cmdline(),
    )  # fmt: skip
    write_state(state)
    return state


def _spawn(config: Config, host: str, port: int, owner: str, *, allow_remote: bool = False) -> ServiceState:
    argv = [sys.executable, "-m", "hybridcc.proxy", "--host", host, "--port", str(port)]
    if allow_remote:
        argv.append("--allow-remote")
    log_path = paths.service_log_file("proxy-stdio")
    proc = spawn_detached(argv, env=os.environ, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT
    health = None
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            break
        health = probe(host, port, timeout=0.5)
        if health and health.get("pid") == proc.pid:
            break
        time.sleep(0.03)
    if not (health and health.get("pid") == proc.pid):
        if proc.poll() is None:
            stop_pid(proc.pid, None, timeout=3)
        else:
            proc.wait()
        lines = tail(paths.service_log_file("proxy"), 10) + tail(log_path, 10)
        why = (
            f"exited with code {proc.returncode}"
            if proc.returncode is not None
            else f"no healthy answer within {START_TIMEOUT:.0f}s"
        )
        raise ServiceError(
            f"the proxy did not start on {host}:{port} ({why})" + ("\n  " + "\n  ".join(lines[-12:]) if lines else ""),
            hint=f"see {paths.service_log_file('proxy')}; `hybridcc doctor` checks the whole path",
        )
    import psutil

    state = ServiceState(
        service=SERVICE, pid=proc.pid, create_time=create_time(proc.pid) or time.time(), host=host, port=port,
        version=__version__, started_at=time.time(), owner=owner, fingerprint=fingerprint(config),
        cmdline=psutil.Process(proc.pid).cmdline(), extra={"key_hashes": key_hashes(config)},
    )  # fmt: skip
    write_state(state)
    return state


def start(
    config: Config, *, port: int | None = None, owner: str = "user", allow_remote: bool = False
) -> tuple[ServiceState, str]:
    """Start the daemon (or reuse a healthy one); returns (state, what happened).

    Under a file lock, so two terminals starting at once yield exactly one proxy.
    """
    ensure_token()
    with file_lock(paths.service_lock_file(SERVICE)):
        return _start_locked(config, port=port, owner=owner, allow_remote=allow_remote)


def _start_locked(
    config: Config, *, port: int | None, owner: str, allow_remote: bool = False
) -> tuple[ServiceState, str]:
    host = config.proxy.host
    st = status(config)
    state = st.state
    if state is not None and st.healthy:
        if port not in (None, 0, state.port):
            raise ServiceError(
                f"the proxy is already running on port {state.port}",
                hint="stop it first (`hybridcc proxy stop`), or use `hybridcc proxy restart --port N`",
            )
        if st.current and state.version == __version__:
            if owner == "user" and state.owner != "user":
                state = _replace(state, owner="user")  # an explicit start keeps it past the last session
                write_state(state)
            return state, "already running"
        # Config, key values or hybridcc itself changed since it started: restart on the same port.
        stop_pid(state.pid, state.create_time)
        clear_state(SERVICE)
        new = _spawn(
            config, host, state.port, "user" if "user" in (owner, state.owner) else owner, allow_remote=allow_remote
        )
        return new, "restarted (config or keys changed)" if not st.current else "restarted (new hybridcc version)"
    if state is not None:
        if st.running:
            stop_pid(state.pid, state.create_time, timeout=3)  # alive but not answering: replace it
        clear_state(SERVICE)  # stale: dead pid, reused pid, or unhealthy
        wanted = port if port is not None else state.port if config.proxy.port == 0 else config.proxy.port
    else:
        wanted = port if port is not None else config.proxy.port
    token = ensure_token()
    if wanted:
        adopted = _adopt(config, host, wanted, token)
        if adopted is not None:
            if adopted.fingerprint == fingerprint(config) and not key_hashes(config):
                return adopted, "adopted a running proxy"
            stop_pid(adopted.pid, adopted.create_time)
            clear_state(SERVICE)
        _check_port(host, wanted)
    else:
        wanted = _free_port(host)
    return _spawn(config, host, wanted, owner, allow_remote=allow_remote), "started"


def _replace(state: ServiceState, **changes: Any) -> ServiceState:
    from dataclasses import replace

    return replace(state, **changes)


def stop(config: Config | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the daemon: SIGTERM, wait, SIGKILL, reap, remove state. False if it was not running."""
    with file_lock(paths.service_lock_file(SERVICE)):
        state = read_state(SERVICE)
        if state is None:
            return False
        stopped = is_same_process(state) and stop_pid(state.pid, state.create_time, timeout=timeout)
        clear_state(SERVICE)
        return stopped


def ensure(config: Config, *, owner: str = "session") -> ServiceState:
    """A healthy, current proxy (started for sessions if none runs)."""
    state, _ = start(config, owner=owner)
    return state


def release_if_unused(config: Config) -> bool:
    """Stop a session-started proxy once no lease is left on it (unless keep_alive). True if stopped."""
    with file_lock(paths.service_lock_file(SERVICE)):
        state = read_state(SERVICE)
        if state is None or state.owner != "session" or config.proxy.keep_alive:
            return False
        if leases.active(SERVICE):
            return False
        if is_same_process(state):
            stop_pid(state.pid, state.create_time)
        clear_state(SERVICE)
        return True


def restart_on(config: Config, state: ServiceState) -> ServiceState:
    """Bring a crashed proxy back on the same port (same token: it lives in the state dir)."""
    with file_lock(paths.service_lock_file(SERVICE)):
        current = read_state(SERVICE)
        if current is not None and current.pid != state.pid and is_same_process(current):
            return current  # someone else already brought it back
        clear_state(SERVICE)
        return _spawn(config, state.host, state.port, state.owner)
