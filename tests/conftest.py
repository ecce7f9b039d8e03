"""Every test runs with its own HOME and HYBRIDCC_HOME and a scrubbed environment."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.fakes.upstream import FakeUpstream, Handler

# Variables from the developer's shell that would change what hybridcc or claude does.
_SCRUB_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "OPENROUTER_", "DEEPSEEK_", "GEMINI_", "OPENAI_", "OLLAMA_", "HYBRIDCC_")
_SCRUB = {
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "API_TIMEOUT_MS",
    "VISUAL",
    "EDITOR",
    "ZDOTDIR",
    "XDG_CONFIG_HOME",
}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith(_SCRUB_PREFIXES) or key in _SCRUB:
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path / "hcc"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    yield home


def _ours() -> set[int]:
    me = psutil.Process()
    return {p.pid for p in me.children(recursive=True)}


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every process a test starts is gone when it ends (detached daemons included)."""
    before = _ours()
    yield
    leftovers = []

    for service in ("proxy", "ollama"):
        from hybridcc.services.state import read_state

        state = read_state(service)  # a corrupt record (some tests write one) reads as None
        if state is not None:
            try:
                proc = psutil.Process(state.pid)
                if abs(proc.create_time() - state.create_time) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE:
                    leftovers.append(f"{service} pid {state.pid}")
                    proc.kill()
            except psutil.Error:
                pass
    for pid in _ours() - before:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                leftovers.append(f"child pid {pid} {proc.cmdline()[:3]}")
                proc.kill()
        except psutil.Error:
            pass
    assert not leftovers, f"processes left behind: {leftovers}"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `hybridcc ARGS…` in-process; stdout and stderr captured separately.

    The exit code is asserted (``code=0`` unless told otherwise; ``code=None`` accepts any), so a
    failing command fails the test where it ran, with its stderr, not later on an output check.
    """
    from hybridcc.cli.main import main

    def run(*args: str, code: int | None = 0) -> CliResult:
        capsys.readouterr()
        got = main(list(args))
        captured = capsys.readouterr()
        result = CliResult(got, captured.out, captured.err)
        if code is not None:
            tail = "\n".join(line.rstrip() for line in captured.out.splitlines()[-20:])
            assert got == code, (
                f"`hybridcc {shlex.join(args)}` exited {got}, expected {code}\n"
                f"--- stderr ---\n{captured.err.rstrip()}\n--- stdout (last 20 lines) ---\n{tail}"
            )
        return result

    return run


@pytest.fixture
def hybridcc_exe() -> list[str]:
    """argv prefix for running hybridcc as a real child process."""
    return [sys.executable, "-m", "hybridcc"]


def write_config(text: str) -> Path:
    from hybridcc import paths

    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def upstream() -> Iterator[Callable[[Handler], FakeUpstream]]:
    """Scripted fake providers on 127.0.0.1 (tests/fakes/upstream.py), shut down after the test."""
    servers: list[FakeUpstream] = []

    def make(handler: Handler) -> FakeUpstream:
        fake = FakeUpstream(handler).__enter__()
        servers.append(fake)
        return fake

    yield make
    for s in servers:
        s.__exit__(None, None, None)
