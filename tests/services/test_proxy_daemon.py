"""The proxy daemon as a real detached child process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from hybridcc.config import load_config
from hybridcc.errors import ConfigError
from hybridcc.proxy_token import ensure_token
from hybridcc.services import leases
from hybridcc.services import proxy as proxy_svc
from hybridcc.services.state import ServiceState, read_state, write_state
from hybridcc.services.watchdog import ProxyWatchdog
from tests.conftest import CliResult
from tests.helpers import wait_for

Cli = Callable[..., CliResult]


def _health(port: int) -> dict[str, object]:
    data = httpx.get(f"http://127.0.0.1:{port}/health", headers={"x-api-key": ensure_token()}).json()
    assert isinstance(data, dict)
    return data


def test_start_status_stop(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    r = cli("proxy", "start")
    assert "proxy started" in r.err
    state = read_state("proxy")
    assert state is not None and state.owner == "user" and state.port > 0
    # start returns only once /health answers
    assert _health(state.port)["pid"] == state.pid
    data = json.loads(cli("proxy", "status", "--json").out)
    assert data["status"] == "running" and data["pid"] == state.pid and data["config_current"] is True
    r = cli("proxy", "start")
    assert "already running" in r.err and read_state("proxy").pid == state.pid  # type: ignore[union-attr]
    r = cli("proxy", "stop")
    assert "stopped" in r.err
    assert not psutil.pid_exists(state.pid) or psutil.Process(state.pid).status() == psutil.STATUS_ZOMBIE
    assert read_state("proxy") is None
    r = cli("proxy", "stop")
    assert "not running" in r.err
    cli("proxy", "status", code=1)


def test_restart_keeps_port(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    cli("proxy", "start")
    first = read_state("proxy")
    cli("proxy", "restart")
    second = read_state("proxy")
    assert first and second and second.pid != first.pid and second.port == first.port
    cli("proxy", "stop")


def test_concurrent_starts_yield_one_proxy(hybridcc_exe: list[str], proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    procs = [subprocess.Popen([*hybridcc_exe, "proxy", "start"], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    pids = {o.rsplit("pid ", 1)[1].strip(" )\n") for o in outs}
    assert len(pids) == 1, outs
    assert sum("proxy started" in o for o in outs) == 1
    assert proxy_svc.stop()


def test_port_zero_picks_a_free_port(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    cli("proxy", "start")
    state = read_state("proxy")
    assert state is not None and state.port > 0
    env = json.loads(cli("env", "-f", "json").out)
    assert env["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{state.port}/p/ollama"
    assert proxy_svc.stop()


def test_port_taken_by_another_program(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cli("proxy", "start", "--port", str(port), code=6)
    assert f"port {port}" in r.err and f"pid {os.getpid()}" in r.err and "port = 0" in r.err
    assert read_state("proxy") is None


def _fake_state(pid: int, create_time: float) -> None:
    write_state(ServiceState(service="proxy", pid=pid, create_time=create_time, host="127.0.0.1", port=0,
                             version="0.0.1", started_at=time.time(), owner="user", cmdline=["python", "-m", "hybridcc.proxy"]))  # fmt: skip


def test_stale_state_dead_pid(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    dead = subprocess.Popen(["true"])
    dead.wait()
    _fake_state(dead.pid, time.time() - 5)
    data = json.loads(cli("proxy", "status", "--json", code=1).out)
    assert data["status"] == "stopped"
    cli("proxy", "start")
    state = read_state("proxy")
    assert state is not None and state.pid != dead.pid and proxy_svc.status(load_config()).healthy
    assert proxy_svc.stop()


def test_stale_state_reused_pid_is_not_killed(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    me = psutil.Process()
    _fake_state(me.pid, me.create_time() - 1000)  # our pid, but not the process recorded
    assert json.loads(cli("proxy", "status", "--json", code=1).out)["status"] == "stopped"
    cli("proxy", "start")
    cli("proxy", "stop")
    assert me.is_running()  # the test process itself was never signalled


def test_config_change_reloads_and_key_change_restarts(
    cli: Cli, proxy_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = proxy_config("")
    cli("proxy", "start")
    before = read_state("proxy")
    assert before is not None
    path.write_text('default_profile = "gemini"\n' + path.read_text())
    assert json.loads(cli("proxy", "status", "--json").out)["config_current"] is False
    # A config change is reloaded in the running proxy: no restart, no session cut (issue 11, item 14).
    r = cli("proxy", "start")
    assert "reloaded (config changed)" in r.err, r.err
    after = read_state("proxy")
    assert after is not None and after.pid == before.pid and after.port == before.port
    assert _health(after.port)["default_profile"] == "gemini"
    assert json.loads(cli("proxy", "status", "--json").out)["config_current"] is True
    assert "already running" in cli("proxy", "start").err
    # a key appearing in the caller's environment does restart (the daemon reads keys from its env)
    monkeypatch.setenv("GEMINI_API_KEY", "g-key-123")
    assert "restarted" in cli("proxy", "start").err
    with_key = read_state("proxy")
    assert with_key is not None and with_key.pid != before.pid and with_key.port == before.port
    # ...but a caller without that key (another shell) never restarts a daemon that has it
    monkeypatch.delenv("GEMINI_API_KEY")
    assert "already running" in cli("proxy", "start").err
    assert read_state("proxy") == with_key
    monkeypatch.setenv("GEMINI_API_KEY", "g-key-other")  # a different key does
    assert "restarted" in cli("proxy", "start").err
    assert proxy_svc.stop()


def test_invalid_config_is_refused_by_reload_and_the_proxy_keeps_running(
    cli: Cli, proxy_config: Callable[[str], Path]
) -> None:
    """The daemon re-reads config.toml itself: a config it refuses leaves it on the old one."""
    path = proxy_config("")
    config = load_config()
    state = proxy_svc.ensure(config, owner="user")
    path.write_text('default_profile = "gemini"\n' + path.read_text())
    changed = load_config()
    path.write_text("[proxy\nport = 0\n")  # broken after the caller read it
    with pytest.raises(ConfigError, match="refused the new config"):
        proxy_svc.start(changed, owner="user")
    assert proxy_svc.status(config).healthy and read_state("proxy") == state
    assert proxy_svc.stop()


def test_start_failure_shows_log_tail(
    cli: Cli, proxy_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_config("")
    broken = tmp_path / "broken-python"
    broken.write_text("#!/bin/sh\necho 'boom: cannot import something' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    r = cli("proxy", "start", code=6)
    assert "exited with code 3" in r.err and "boom: cannot import something" in r.err and "proxy.log" in r.err


def test_kill_9_recovery_during_a_lease(proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    config = load_config()
    token = ensure_token()
    state = proxy_svc.ensure(config)
    lease = leases.take("proxy")
    dog = ProxyWatchdog(config, state, interval=0.2)
    dog.start()
    try:
        os.kill(state.pid, signal.SIGKILL)
        t0 = time.monotonic()
        new = wait_for(
            lambda: (cur := read_state("proxy")) and cur.pid != state.pid and proxy_svc.probe(cur.host, cur.port) and cur,
            timeout=5, what="the watchdog to restart the proxy",
        )  # fmt: skip
        elapsed = time.monotonic() - t0
        assert new.port == state.port and elapsed < 2.5, elapsed
        r = httpx.get(f"http://127.0.0.1:{new.port}/v1/models", headers={"x-api-key": token})
        assert r.status_code == 200  # same token
    finally:
        dog.stop()
        leases.release(lease)
        assert proxy_svc.release_if_unused(config)
    assert read_state("proxy") is None


def test_crash_loop_backs_off_and_is_reported(proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    config = load_config()
    state = proxy_svc.ensure(config)
    reports: list[str] = []
    dog = ProxyWatchdog(config, state, interval=0.1, max_restarts=2, window=60, report=reports.append)
    dog.start()
    try:
        for _ in range(3):
            cur = read_state("proxy")
            assert cur is not None
            os.kill(cur.pid, signal.SIGKILL)
            wait_for(
                lambda c=cur: ((nxt := read_state("proxy")) is not None and nxt.pid != c.pid) or dog.gave_up,  # type: ignore[misc]
                timeout=10, what="a restart or giving up",
            )  # fmt: skip
        wait_for(lambda: dog.gave_up, timeout=10, what="the watchdog to give up")
        assert any("crashed 2 times" in r for r in reports), reports
    finally:
        dog.stop()
        proxy_svc.stop()


def test_leases_reaped_and_user_started_never_stopped(proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    config = load_config()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proxy_svc.ensure(config, owner="session")
        leases.take("proxy", holder.pid)
        assert len(leases.active("proxy")) == 1
        assert not proxy_svc.release_if_unused(config)  # a live lease keeps it running
        holder.kill()
        holder.wait()
        assert leases.active("proxy") == []  # reaped: its holder died
        assert proxy_svc.release_if_unused(config) and read_state("proxy") is None
        # started by the user: a session ending never stops it
        proxy_svc.start(config, owner="user")
        proxy_svc.ensure(config, owner="session")
        assert not proxy_svc.release_if_unused(config)
        assert proxy_svc.status(config).healthy
    finally:
        holder.kill()
        holder.wait()
        proxy_svc.stop()


def test_keep_alive_keeps_session_proxy(proxy_config: Callable[[str], Path]) -> None:
    proxy_config("keep_alive = true\n")
    config = load_config()
    proxy_svc.ensure(config, owner="session")
    assert not proxy_svc.release_if_unused(config)
    assert proxy_svc.stop()


def test_logs_command(cli: Cli, proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    cli("proxy", "start")
    r = cli("proxy", "logs", "-n", "5")
    assert "listening on http://127.0.0.1:" in r.out
    assert proxy_svc.stop()


def test_log_follow_survives_rotation(tmp_path: Path) -> None:
    from hybridcc.services.logs import follow_file

    log = tmp_path / "x.log"
    log.write_text("old\n")
    got: list[str] = []

    def reader() -> None:
        for line in follow_file(log, poll=0.02, stop_after=10.0):
            got.append(line)
            if line == "after rotation":
                return

    t = threading.Thread(target=reader)
    t.start()
    me = psutil.Process()
    wait_for(lambda: any(f.path == str(log) for f in me.open_files()), what="the follower to open the log")
    with log.open("a") as fh:
        fh.write("new line\n")
    wait_for(lambda: got == ["new line"], what="the appended line")
    log.rename(tmp_path / "x.log.1")
    log.write_text("after rotation\n")
    t.join(timeout=10)
    assert got == ["new line", "after rotation"]


def test_size_bounded_stdio_log_rotation(tmp_path: Path) -> None:
    from hybridcc.services.process import rotate_if_large

    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "proxy-stdio.log"
    for i in range(5):
        log.write_text(f"gen{i}\n" + "x" * 100)
        rotate_if_large(log, max_bytes=50, backups=3)
    assert not log.exists()
    assert sorted(p.name for p in log.parent.iterdir()) == [
        "proxy-stdio.log.1",
        "proxy-stdio.log.2",
        "proxy-stdio.log.3",
    ]
    assert (log.parent / "proxy-stdio.log.1").read_text().startswith("gen4")
    log.write_text("small")
    rotate_if_large(log, max_bytes=50)
    assert log.read_text() == "small"
