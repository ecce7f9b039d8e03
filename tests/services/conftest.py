"""Fixtures for supervision tests: a fake `ollama` on a temporary PATH, and process hygiene.

Every proxy config uses port 0 (the daemon picks a free port, recorded in its state), and each
fixture stops in its finalizer what the test may have started, even when the test failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hybridcc.services import ollama as ollama_svc
from hybridcc.services import proxy as proxy_svc
from tests.conftest import write_config
from tests.helpers import free_port, write_script

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "ollama_fake.py"


def install_fake_ollama(bin_dir: Path) -> Path:
    return write_script(bin_dir / "ollama", f'exec "{sys.executable}" "{FAKE}" "$@"\n')


@pytest.fixture
def fake_ollama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Put a fake `ollama` first on PATH and point hybridcc at a free port; returns its URL.

    Ollama's URL must be known before it starts (hybridcc passes it as OLLAMA_HOST), so this is the
    one place a port is chosen in advance.
    """

    def setup(*, models: list[dict[str, Any]] | None = None, catalog: dict[str, Any] | None = None,
              version: str = "0.14.2", config_extra: str = "", **env: str) -> str:  # fmt: skip
        install_fake_ollama(tmp_path / "bin")
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_OLLAMA_VERSION", version)
        monkeypatch.setenv("FAKE_OLLAMA_MODELS", json.dumps(models or []))
        monkeypatch.setenv("FAKE_OLLAMA_CATALOG", json.dumps(catalog or {}))
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        port = free_port()
        write_config(f'[ollama]\nhost = "127.0.0.1:{port}"\ncontext_length = 65536\n{config_extra}')
        return f"http://127.0.0.1:{port}"

    yield setup
    _stop_services()


@pytest.fixture
def proxy_config() -> Iterator[Callable[[str], Path]]:
    """Write a config whose proxy takes any free port (``port = 0``); stops the proxy afterwards."""

    def make(extra: str = "") -> Path:
        return write_config(f"[proxy]\nport = 0\n{extra}")

    yield make
    _stop_services()


def _stop_services() -> None:
    """Stop whatever the test started (a no-op when it stopped it itself)."""
    import signal

    from hybridcc.config import load_config
    from hybridcc.services.state import read_state

    state = read_state("proxy")
    if state is not None:  # a test that SIGSTOPped it must not leave it stopped (SIGTERM would wait)
        with contextlib.suppress(OSError):
            os.kill(state.pid, signal.SIGCONT)
    try:
        proxy_svc.stop(timeout=3)
    finally:
        with contextlib.suppress(Exception):  # a test may have broken the config on purpose
            ollama_svc.stop(load_config())
