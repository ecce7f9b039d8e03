"""Spawning detached services, recognising them (pid + create time), and stopping them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from hybridcc.fsutil import open_private_append
from hybridcc.services.state import ServiceState

LOG_ROTATE_BYTES = 10 * 1024 * 1024


def rotate_if_large(path: Path, max_bytes: int = LOG_ROTATE_BYTES, backups: int = 3) -> None:
    """Size-bounded logs for files a child writes through its stdout/stderr."""
    try:
        if path.stat().st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    for i in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{i + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))


def spawn_detached(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (survives the terminal closing), output to ``log_path`` (0600)."""
    rotate_if_large(log_path)
    fd = open_private_append(log_path)
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_same_process(state: ServiceState) -> bool:
    """The recorded process is alive and is still the one we started (not a reused pid)."""
    try:
        proc = psutil.Process(state.pid)
        if abs(proc.create_time() - state.create_time) > 0.5:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return not state.cmdline or proc.cmdline() == state.cmdline
    except psutil.Error:
        return False


def is_gone(pid: int, expected_create_time: float | None) -> bool:
    """The process is dead, a zombie, or its pid now belongs to another process."""
    try:
        proc = psutil.Process(pid)
        if expected_create_time is not None and abs(proc.create_time() - expected_create_time) > 0.5:
            return True
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def stop_pid(pid: int, expected_create_time: float | None, *, timeout: float = 10.0) -> bool:
    """SIGTERM (and SIGCONT: a stopped process acts on it), wait, SIGKILL after ``timeout``, reap.

    False when it was not running (or its pid belongs to another process now). Returns once the
    process is gone (its port is then free) or SIGKILL did not end it within 5 s (see is_gone).
    """
    try:
        proc = psutil.Process(pid)
        if expected_create_time is not None and abs(proc.create_time() - expected_create_time) > 0.5:
            return False
    except psutil.Error:
        return False
    try:
        proc.send_signal(signal.SIGTERM)
        # A SIGSTOPped process keeps SIGTERM pending until it runs again: wake it so a hung
        # proxy shuts down gracefully when it can, and SIGKILL below ends it when it cannot.
        proc.send_signal(signal.SIGCONT)
    except psutil.NoSuchProcess:
        _reap(pid)
        return True
    except psutil.Error:
        pass
    try:
        proc.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        try:
            proc.kill()
            proc.wait(timeout=5)
        except psutil.Error:
            pass
    except psutil.Error:
        pass
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status so no zombie is left behind."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def processes_running(module: str) -> list[psutil.Process]:
    """Live processes of this user started as ``python -m MODULE`` (daemons we may have lost track of)."""
    found: list[psutil.Process] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    for proc in psutil.process_iter(["pid", "cmdline", "uids", "status"]):
        try:
            cmdline = proc.info.get("cmdline") or []
            if "-m" not in cmdline or module not in cmdline or proc.info.get("status") == psutil.STATUS_ZOMBIE:
                continue
            uids = proc.info.get("uids")
            if uid is not None and uids is not None and uids.real != uid:
                continue
            found.append(proc)
        except psutil.Error:
            continue
    return found


def tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]
