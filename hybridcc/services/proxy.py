"""The proxy as a supervised daemon: start, stop, status, ensure, reload, restart.

Config changes are applied without cutting anyone: a running proxy whose config fingerprint no
longer matches is asked to re-read config.toml (``POST /_hybridcc/reload``); new requests use the
new config and streams in flight finish on the old one. The process itself is replaced only when
it must change: a new hybridcc version, a new host or configured port, a provider key the caller
holds that the daemon lacks or holds differently (the daemon reads keys from the environment it
was started with; a caller without a key never restarts a daemon that has one), a token that is
no longer the token file's, or a process that stopped answering (issue 11, items 11 to 14).

A process of ours is always stopped (TERM, then KILL) and confirmed gone before its state record
is dropped or a new one is started on its port.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from hybridcc import __version__, httpprobe, paths
from hybridcc.config.load import fingerprint, key_hashes
from hybridcc.config.schema import Config, ProxySettings
from hybridcc.errors import ConfigError, ServiceError
from hybridcc.fsutil import file_lock
from hybridcc.proxy_token import ensure_token, read_token
from hybridcc.services import leases
from hybridcc.services import proxy_probe as find
from hybridcc.services.ports import check_port_free, port_owner_hint
from hybridcc.services.process import create_time, is_gone, is_same_process, spawn_detached, stop_pid, tail
from hybridcc.services.state import ServiceState, clear_state, load_state, report_repair, write_state

SERVICE = "proxy"
START_TIMEOUT = 15.0
RELOAD_PATH = "/_hybridcc/reload"
probe = find.probe  # GET /health with the token: the proxy's answer, or None
_connect_host = find.connect_host  # older names, kept for callers outside services/
_token_id = find.token_id


@dataclass(frozen=True)
class ProxyStatus:
    state: ServiceState | None
    running: bool  # the recorded process is alive and ours
    healthy: bool  # it answered GET /health as our proxy, with our token and its own pid
    health: dict[str, Any] | None
    current: bool  # config_current and keys_current: nothing to reload or restart for
    leases: int
    answering: bool = False  # it answers /health at all (maybe holding another token)
    token_current: bool = False  # it holds the token in the token file
    config_current: bool = False  # same config fingerprint
    keys_current: bool = False  # every provider key the caller holds, the daemon holds too
    repaired: str | None = None  # what was repaired in the state record, if anything

    @property
    def url(self) -> str | None:
        return f"http://{find.connect_host(self.state.host)}:{self.state.port}" if self.state else None


def _daemon_key_hashes(config: Config, state: ServiceState) -> dict[str, str]:
    """Hashes of the provider keys in the daemon's own environment, for the *current* config.

    Read from the process (psutil), so a provider added to the config later is judged by what the
    daemon really holds; the hashes recorded at spawn are the fallback where it cannot be read.
    """
    import psutil

    try:
        return key_hashes(config, psutil.Process(state.pid).environ())
    except (psutil.Error, OSError):
        recorded = state.extra.get("key_hashes", {})
        return recorded if isinstance(recorded, dict) else {}


def _locate(token: str | None) -> tuple[ServiceState | None, str | None]:
    """The record of our running proxy, repairing a lost, stale or unreadable one.

    A record that is missing, unreadable or names a process that is gone is not the last word:
    a live daemon of ours (found by its command line, its port and its answer to our token, or its
    environment when it is hung) is adopted and the repair said in one line.
    """
    state, problem = load_state(SERVICE)
    if state is not None and is_same_process(state):
        return state, None
    ours = find.find_ours(token)
    if not ours:
        if problem is not None:
            clear_state(SERVICE)
            note = f"{problem}; no proxy of ours is running, so it was removed"
            report_repair(note)
            return None, note
        return state, None
    adopted = ours[0].as_state()
    write_state(adopted)
    why = problem or (
        "the proxy state record was missing" if state is None else "the proxy state record named a stopped process"
    )
    note = f"{why}; found the running proxy (pid {adopted.pid}, port {adopted.port}) and recorded it again"
    report_repair(note)
    for extra in ours[1:]:  # more than one daemon of ours: keep the first, stop the others
        stop_pid(extra.pid, extra.create_time, timeout=3)
    return adopted, note


def _status(config: Config, token: str | None, *, timeout: float = 1.0) -> ProxyStatus:
    state, repaired = _locate(token)
    n_leases = len(leases.active(SERVICE))
    if state is None:
        return ProxyStatus(None, False, False, None, False, n_leases, repaired=repaired)
    running = is_same_process(state)
    health = probe(state.host, state.port, timeout=timeout, token=token) if running else None
    token_ok = find.holds_token(health, token)
    healthy = token_ok and health is not None and health.get("pid") == state.pid
    config_ok = state.fingerprint == fingerprint(config)
    theirs = _daemon_key_hashes(config, state) if running else state.extra.get("key_hashes", {})
    keys_ok = all(theirs.get(k) == v for k, v in key_hashes(config).items())
    return ProxyStatus(
        state, running, healthy, health, config_ok and keys_ok, n_leases, answering=health is not None,
        token_current=token_ok, config_current=config_ok, keys_current=keys_ok, repaired=repaired,
    )  # fmt: skip


def status(config: Config) -> ProxyStatus:
    """The proxy's state, probed with the token; a lost or unreadable record is repaired first."""
    state, _ = load_state(SERVICE)
    if state is not None and is_same_process(state):
        return _status(config, read_token())
    with file_lock(paths.service_lock_file(SERVICE)):  # a repair writes the record: one writer
        return _status(config, read_token())


def token_mismatch(config: Config) -> bool:
    """True when our running proxy answers but holds another token than the token file's.

    `claude` is given the file's token, so every request would get 401 (a replaced or deleted
    token file). The next `run`, `env` or `proxy start` restarts it; doctor fails on it.
    """
    st = status(config)
    return st.running and st.answering and not st.token_current


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _check_port(host: str, port: int) -> None:
    check_port_free(
        host, port, hint="pass --port N, or set `port = 0` under [proxy] in config.toml for a free port chosen at start"
    )


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
        health = probe(host, port, timeout=0.5)  # the file's token, read again: the daemon may create it
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
        cmdline=psutil.Process(proc.pid).cmdline(),
        extra={"key_hashes": key_hashes(config), "config_host": config.proxy.host, "config_port": config.proxy.port},
    )  # fmt: skip
    write_state(state)
    return state


def _stop_ours(state: ServiceState, *, timeout: float) -> None:
    """Stop our process and drop its record, only once it is gone (its port is then free)."""
    stop_pid(state.pid, state.create_time, timeout=timeout)
    if not is_gone(state.pid, state.create_time):
        raise ServiceError(
            f"could not stop the proxy (pid {state.pid}); its state record is kept",
            hint=f"stop it by hand (`kill -9 {state.pid}`), then run the command again",
        )
    clear_state(SERVICE)


def reload(config: Config, state: ServiceState, token: str | None) -> ServiceState | None:
    """Ask the running proxy to re-read config.toml; the updated record, or None to restart instead.

    None when the proxy cannot reload (no answer, an older proxy without the endpoint) or read
    another config than ours (its HYBRIDCC_CONFIG differs): a restart with our environment fixes
    that. A config the proxy refuses is a ConfigError and the running proxy is left as it is.
    """
    url = f"http://{find.connect_host(state.host)}:{state.port}{RELOAD_PATH}"
    res = httpprobe.request("POST", url, timeout=10.0, headers=find.auth_headers(token))
    if res is None or res.status in (404, 405):
        return None
    try:
        data = res.json()
    except ValueError:
        data = None
    if res.status == 400:
        error = data.get("error") if isinstance(data, dict) else None
        message = str(error.get("message")) if isinstance(error, dict) else res.body.decode("utf-8", "replace")[:200]
        raise ConfigError(
            f"the running proxy refused the new config: {message}",
            hint="fix config.toml (`hybridcc config validate` lists the problems); the proxy keeps the old config",
        )
    if res.status != 200 or not isinstance(data, dict) or data.get("fingerprint") != fingerprint(config):
        return None
    new = replace(state, fingerprint=str(data["fingerprint"]))
    write_state(new)
    return new


def _restart_reason(config: Config, st: ProxyStatus, state: ServiceState) -> str | None:
    """Why the process itself must be replaced, or None when a reload (or nothing) will do."""
    if not st.answering:
        return "it stopped answering"
    if not st.token_current:
        return "it held an old proxy token"
    if state.version != __version__:
        return "new hybridcc version"
    was_host = state.extra.get("config_host", state.host)
    was_port = state.extra.get("config_port", config.proxy.port)
    if config.proxy.host != was_host or config.proxy.port not in (0, was_port, state.port):
        return "host or port changed"
    if not st.keys_current:
        return "config or keys changed"  # the daemon's environment lacks a key the caller holds
    return None


def start(
    config: Config, *, port: int | None = None, owner: str = "user", allow_remote: bool = False
) -> tuple[ServiceState, str]:
    """Start the daemon (or reuse, reload or replace a running one); returns (state, what happened).

    Under a file lock, so two terminals starting at once yield exactly one proxy.
    """
    token = ensure_token()
    with file_lock(paths.service_lock_file(SERVICE)):
        return _start_locked(config, token, port=port, owner=owner, allow_remote=allow_remote)


def _start_locked(
    config: Config, token: str, *, port: int | None, owner: str, allow_remote: bool = False
) -> tuple[ServiceState, str]:
    host = config.proxy.host
    st = _status(config, token)
    if st.running and not st.answering:
        st = _status(config, token, timeout=3.0)  # busy rather than hung? a second, longer look
    state = st.state
    if state is not None and st.running:
        if port not in (None, 0, state.port) and st.healthy:
            raise ServiceError(
                f"the proxy is already running on port {state.port}",
                hint="stop it first (`hybridcc proxy stop`), or use `hybridcc proxy restart --port N`",
            )
        new_owner = "user" if "user" in (owner, state.owner) else owner
        why = _restart_reason(config, st, state)
        what = "already running"
        if why is None and not st.config_current:
            reloaded = reload(config, state, token)
            what = "reloaded (config changed)"
            if reloaded is None:
                why = "config or keys changed"
            else:
                state = reloaded
        if why is None:
            if new_owner != state.owner:
                state = replace(state, owner=new_owner)  # an explicit start keeps it past the last session
                write_state(state)
            return state, what
        # Replace the process: on the same port, unless a new port is asked for or configured.
        _stop_ours(state, timeout=10.0 if st.answering else 3.0)
        wanted = port or (config.proxy.port if why == "host or port changed" and config.proxy.port else state.port)
        if wanted != state.port or host != state.host:
            _check_port(host, wanted)
        return _spawn(config, host, wanted, new_owner, allow_remote=allow_remote), f"restarted ({why})"
    if state is not None:
        clear_state(SERVICE)  # stale: its process is gone (or the pid was reused) and no daemon of ours runs
        wanted = port if port is not None else state.port if config.proxy.port == 0 else config.proxy.port
    else:
        wanted = port if port is not None else config.proxy.port
    what = "started"
    if wanted and port is None and wanted == ProxySettings().port and not _port_free(host, wanted):
        # The default port taken by another program (or another user's hybridcc) must not be a dead
        # end (issue 12 item 3): use a free one, record it in the state (clients read it from there),
        # and say so in one line. A port the user chose, or passed, still fails with the owner named.
        owner_hint = port_owner_hint(wanted) or " by another program"
        what = f"started on a free port: {wanted} is in use{owner_hint} (set `port` under [proxy] to choose one)"
        wanted = _free_port(host)
    elif wanted:
        _check_port(host, wanted)
    else:
        wanted = _free_port(host)
    return _spawn(config, host, wanted, owner, allow_remote=allow_remote), what


def stop(config: Config | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the daemon: SIGTERM, wait, SIGKILL, reap, remove state. False if it was not running."""
    with file_lock(paths.service_lock_file(SERVICE)):
        state, _ = _locate(read_token())
        if state is None:
            return False
        if not is_same_process(state):
            clear_state(SERVICE)
            return False
        _stop_ours(state, timeout=timeout)
        return True


def ensure(config: Config, *, owner: str = "session") -> ServiceState:
    """A healthy, current proxy (started for sessions if none runs)."""
    state, _ = start(config, owner=owner)
    return state


def release_if_unused(config: Config) -> bool:
    """Stop a session-started proxy once no lease is left on it (unless keep_alive). True if stopped."""
    with file_lock(paths.service_lock_file(SERVICE)):
        state, _ = _locate(read_token())
        if state is None or state.owner != "session" or config.proxy.keep_alive:
            return False
        if leases.active(SERVICE):
            return False
        if is_same_process(state):
            _stop_ours(state, timeout=10.0)
        else:
            clear_state(SERVICE)
        return True


def answers(state: ServiceState, timeout: float = 1.0) -> bool:
    """The process answers `/health` as our proxy (with any token: the watchdog's session holds the
    token it was started with, and a token change is for the next `run` to act on, not this one)."""
    health = probe(state.host, state.port, timeout=timeout)
    return health is not None and health.get("pid", state.pid) == state.pid


def restart_on(config: Config, state: ServiceState) -> ServiceState:
    """Bring a crashed or hung proxy back on the same port (same token: it lives in the state dir).

    A hung process of ours still holds the port: it is stopped (TERM, then KILL) first, and its
    record is kept until it is gone, so `proxy stop` and `status` can always see it.
    """
    with file_lock(paths.service_lock_file(SERVICE)):
        current, _ = load_state(SERVICE)
        if current is not None and current.pid != state.pid and is_same_process(current):
            return current  # someone else already brought it back
        for old in (current, state):
            if old is not None and is_same_process(old):
                _stop_ours(old, timeout=3.0)
        for orphan in find.find_ours(read_token()):  # a daemon of ours that lost its record
            if orphan.port == state.port:
                stop_pid(orphan.pid, orphan.create_time, timeout=3.0)
        try:
            return _spawn(config, state.host, state.port, state.owner)
        except ServiceError:
            clear_state(SERVICE)  # the recorded process is gone: nothing of ours holds the port
            raise
