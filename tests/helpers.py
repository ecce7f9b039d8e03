"""Helpers shared by tests: required external tools, free ports, process hygiene."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path; under CI=true a missing tool FAILS the test (never a hidden skip)."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true but is not installed (.ci/run installs it)")
    pytest.skip(f"{name} not installed (install it to run this test; CI requires it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_script(path: Path, body: str) -> Path:
    """An executable shell script at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def wait_for(condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout`` s.

    Tests wait for a condition, never for a fixed time: a busy CI machine only makes them slower.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout}s waiting for {what or getattr(condition, '__name__', 'a condition')}"
            )
        time.sleep(interval)
