"""Fixtures for supervision tests: a fake `ollama` on a temporary PATH, and process hygiene."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.helpers import free_port, write_script

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "ollama_fake.py"


def install_fake_ollama(bin_dir: Path) -> Path:
    return write_script(bin_dir / "ollama", f'exec "{sys.executable}" "{FAKE}" "$@"\n')


@pytest.fixture
def fake_ollama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Put a fake `ollama` first on PATH and point hybridcc at a free port; returns its URL."""

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

    return setup


@pytest.fixture
def proxy_config(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    def make(extra: str = "") -> Path:
        return write_config(f"[proxy]\nport = {free_port()}\n{extra}")

    return make
