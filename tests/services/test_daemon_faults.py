"""Daemon faults (issue 11, items 4 and 11 to 13): private files, a hung proxy, a replaced token file,
corrupt state records. Every test runs a real proxy daemon; faults are real signals and files."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.proxy_token import ensure_token, read_token, rotate_token
from hybridcc.services import leases
from hybridcc.services import proxy as proxy_svc
from hybridcc.services.state import ServiceState, read_state
from hybridcc.services.watchdog import ProxyWatchdog
from tests.conftest import CliResult
from tests.helpers import wait_for

Cli = Callable[..., CliResult]
MakeConfig = Callable[[str], Path]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _models(state: ServiceState, token: str | None = None) -> int:
    headers = {"x-api-key": token or read_token() or ""}
    return httpx.get(f"http://127.0.0.1:{state.port}/v1/models", headers=headers, timeout=5).status_code


# -- item 4: private directories and files ------------------------------------------------------


def test_state_and_log_files_are_private(proxy_config: MakeConfig) -> None:
    proxy_config("")
    # an older version left them world-readable: they are tightened, not only created right
    paths.log_dir().mkdir(parents=True, mode=0o755)
    paths.log_dir().chmod(0o755)
    old_log = paths.service_log_file("proxy")
    old_log.write_text("from an older version\n")
    old_log.chmod(0o644)
    state = proxy_svc.ensure(load_config(), owner="user")
    lease = leases.take("proxy")
    try:
        assert _models(state) == 200
        wait_for(paths.request_log_file().exists, what="the request log")
        for directory in (paths.state_dir(), paths.log_dir(), paths.leases_dir()):
            assert _mode(directory) == 0o700, directory
        files = [paths.service_state_file("proxy"), paths.service_lock_file("proxy"), paths.token_file(),
                 paths.service_log_file("proxy"), paths.service_log_file("proxy-stdio"),
                 paths.request_log_file(), lease.path]  # fmt: skip
        for path in files:
            assert _mode(path) == 0o600, path
    finally:
        leases.release(lease)
    assert proxy_svc.stop()


# -- item 11: a hung proxy ----------------------------------------------------------------------


def test_watchdog_replaces_a_hung_proxy_and_keeps_its_record(proxy_config: MakeConfig) -> None:
    proxy_config("")
    config = load_config()
    hung = proxy_svc.ensure(config)
    reports: list[str] = []
    dog = ProxyWatchdog(config, hung, interval=0.1, probe_timeout=0.3, report=reports.append)
    os.kill(hung.pid, signal.SIGSTOP)
    dog.start()
    try:
        new = wait_for(
            lambda: (s := read_state("proxy")) and s.pid != hung.pid and proxy_svc.answers(s) and s,
            timeout=20, what="the watchdog to replace the hung proxy",
        )  # fmt: skip
        assert new.port == hung.port  # same port: Claude Code's retry reaches it
        assert _gone(hung.pid)  # the hung process was stopped, not left holding the port
        assert _models(new) == 200
        assert any("stopped answering" in r for r in reports), reports
    finally:
        dog.stop()
        if not _gone(hung.pid):
            os.kill(hung.pid, signal.SIGKILL)
    assert proxy_svc.stop()  # the record was never lost: stop finds and stops the new one
    assert read_state("proxy") is None


def test_start_replaces_a_hung_proxy(cli: Cli, proxy_config: MakeConfig) -> None:
    proxy_config("")
    cli("proxy", "start")
    hung = read_state("proxy")
    assert hung is not None
    os.kill(hung.pid, signal.SIGSTOP)
    r = cli("proxy", "start")
    assert "restarted (it stopped answering)" in r.err, r.err
    new = read_state("proxy")
    assert new is not None and new.pid != hung.pid and new.port == hung.port and _gone(hung.pid)
    cli("proxy", "stop")


def test_an_orphan_without_record_is_found_and_stopped(cli: Cli, proxy_config: MakeConfig) -> None:
    proxy_config("")
    cli("proxy", "start")
    state = read_state("proxy")
    assert state is not None
    paths.service_state_file("proxy").unlink()  # the record is lost while the daemon runs
    r = cli("proxy", "status", "--json")
    assert json.loads(r.out)["pid"] == state.pid
    assert "repaired" in r.err and f"pid {state.pid}" in r.err
    r = cli("proxy", "stop")
    assert "stopped" in r.err
    assert _gone(state.pid)


def test_a_hung_orphan_is_stopped_before_a_new_start(cli: Cli, proxy_config: MakeConfig) -> None:
    """A hung daemon whose record is gone still holds its port; a new start must not fail on it."""
    proxy_config("")
    cli("proxy", "start")
    hung = read_state("proxy")
    assert hung is not None
    os.kill(hung.pid, signal.SIGSTOP)
    paths.service_state_file("proxy").unlink()
    cli("proxy", "start")
    new = read_state("proxy")
    assert new is not None and new.pid != hung.pid and new.port == hung.port and _gone(hung.pid)
    cli("proxy", "stop")


# -- item 12: a replaced or deleted token file ---------------------------------------------------


@pytest.mark.parametrize("how", ["rotated", "deleted"])
def test_token_file_changed_under_a_running_proxy(cli: Cli, proxy_config: MakeConfig, how: str) -> None:
    proxy_config("")
    config = load_config()
    old_token = ensure_token()
    cli("proxy", "start")
    before = read_state("proxy")
    assert before is not None and not proxy_svc.token_mismatch(config)
    if how == "rotated":
        rotate_token()
    else:
        paths.token_file().unlink()
    assert proxy_svc.token_mismatch(config)  # doctor fails on this
    r = cli("proxy", "start")
    assert "restarted (it held an old proxy token)" in r.err, r.err
    after = read_state("proxy")
    assert after is not None and after.pid != before.pid and after.port == before.port
    token = read_token()
    assert token and token != old_token
    assert _models(after, token) == 200  # what `claude` is given now works
    assert not proxy_svc.token_mismatch(config)
    cli("proxy", "stop")


def test_a_session_watchdog_does_not_restart_for_a_token_change(proxy_config: MakeConfig) -> None:
    """The running session holds the old token: only the next start acts on a new token file."""
    proxy_config("")
    config = load_config()
    state = proxy_svc.ensure(config)
    dog = ProxyWatchdog(config, state, interval=0.05)
    dog.start()
    try:
        rotate_token()
        seen = dog.probes
        wait_for(lambda: dog.probes >= seen + 10, what="ten more watchdog probes")
        assert dog.restarts == [] and read_state("proxy") == state
    finally:
        dog.stop()
    assert proxy_svc.stop()


# -- item 13: corrupt state files ----------------------------------------------------------------

CORRUPT: dict[str, Callable[[dict[str, object]], bytes]] = {
    "pid-as-string": lambda d: json.dumps({**d, "pid": str(d["pid"])}).encode(),
    "pid-as-float": lambda d: json.dumps({**d, "pid": float(str(d["pid"]))}).encode(),
    "truncated": lambda d: json.dumps(d).encode()[:40],
    "empty": lambda d: b"",
    "garbled": lambda d: b"\x00{not json at all",
    "invalid-utf8": lambda d: b'{"pid": "\xff\xfe"}',
    "not-an-object": lambda d: b"[1, 2, 3]",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_state_record_finds_the_live_proxy(cli: Cli, proxy_config: MakeConfig, kind: str) -> None:
    proxy_config("")
    cli("proxy", "start")
    path = paths.service_state_file("proxy")
    live = json.loads(path.read_text())
    path.write_bytes(CORRUPT[kind](live))
    r = cli("proxy", "status", "--json")
    assert json.loads(r.out)["status"] == "running" and json.loads(r.out)["pid"] == live["pid"]
    assert "internal error" not in r.err
    repairs = [line for line in r.err.splitlines() if "repaired" in line]
    assert len(repairs) == 1 and "unreadable" in repairs[0], r.err  # one line says what was repaired
    r = cli("proxy", "start")
    assert "already running" in r.err, r.err
    path.write_bytes(CORRUPT[kind](live))
    r = cli("proxy", "stop")
    assert "proxy stopped" in r.err, r.err
    assert _gone(live["pid"])


@pytest.mark.parametrize("kind", ["pid-as-string", "truncated", "empty"])
def test_corrupt_state_record_without_a_proxy_is_removed(cli: Cli, proxy_config: MakeConfig, kind: str) -> None:
    proxy_config("")
    path = paths.service_state_file("proxy")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CORRUPT[kind]({"pid": 123456, "port": 1}))
    r = cli("proxy", "status", code=1)
    assert "internal error" not in r.err and "repaired" in r.err
    assert not path.exists()
    r = cli("proxy", "start")
    assert "proxy started" in r.err, r.err
    cli("proxy", "stop")


def test_invalid_utf8_token_file_is_replaced(cli: Cli, proxy_config: MakeConfig) -> None:
    proxy_config("")
    cli("proxy", "start")
    paths.token_file().write_bytes(b"hcc-\xff\xfe\xfd garbage\n")
    r = cli("proxy", "start")
    assert "internal error" not in r.err, r.err
    assert "repaired" in r.err and "not UTF-8" in r.err and "restarted" in r.err
    state = read_state("proxy")
    token = read_token()
    assert state is not None and token and _models(state, token) == 200
    cli("proxy", "stop")


def test_corrupt_lease_files_are_dropped() -> None:
    directory = paths.leases_dir()
    directory.mkdir(parents=True)
    (directory / "proxy-1.json").write_text(json.dumps({"service": "proxy", "pid": str(os.getpid()),
                                                        "create_time": 1.0, "taken_at": 1.0}))  # fmt: skip
    (directory / "proxy-2.json").write_bytes(b"\xff")
    (directory / "proxy-3.json").write_text("")
    mine = leases.take("proxy")
    assert leases.active("proxy") == [mine]
    assert sorted(p.name for p in directory.iterdir()) == [mine.path.name]


def test_corrupt_ollama_record_is_removed_and_said(capsys: pytest.CaptureFixture[str]) -> None:
    from hybridcc.services import ollama as ollama_svc

    path = paths.service_state_file("ollama")
    path.parent.mkdir(parents=True)
    path.write_text('{"service": "ollama", "pid": "12"}')
    st = ollama_svc.status(load_config())
    assert st.state is None and not st.managed and not path.exists()
    assert "repaired" in capsys.readouterr().err
