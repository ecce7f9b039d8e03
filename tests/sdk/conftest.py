"""A world of fake providers for Agent SDK tests and the examples (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes.upstream import FakeUpstream, Handler
from tests.sdk.fake_model import anthropic_model, openai_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The cloud fakes sit on an address hybridcc does not take for local (an IPv4-mapped loopback):
# still this machine, but priced and policed as remote, as the real providers would be.
CLOUD_HOST = "[::ffff:127.0.0.1]"
KEYS = {"DEEPSEEK_API_KEY": "sk-fake-deepseek-SECRET", "OPENROUTER_API_KEY": "sk-fake-openrouter-SECRET"}


class World:
    """Fake deepseek (Anthropic wire), openrouter (OpenAI wire) and a local llama.cpp."""

    def __init__(self, upstream: Callable[[Handler], FakeUpstream], tmp_path: Path, *, cloud_host: str) -> None:
        self.deepseek = upstream(anthropic_model("deepseek"))
        self.openrouter = upstream(openai_model("openrouter"))
        self.local = upstream(anthropic_model("llamacpp"))
        write_config(f"""
default_profile = "deepseek"
[proxy]
port = 0
[providers.deepseek]
base_url = "http://{cloud_host}:{self.deepseek.port}"
[providers.openrouter]
base_url = "http://{cloud_host}:{self.openrouter.port}/v1"
[providers.llamacpp]
base_url = "{self.local.url}"
[profiles.llamacpp]
model = "qwen-local"
""")
        self.workdir = tmp_path / "work"
        self.workdir.mkdir()

    def run(self, name: str, timeout: float = 120) -> str:
        env = {**os.environ, **KEYS}
        proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=self.workdir, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
        assert "unrecognized_model" not in proc.stderr  # the SDK helpers filter that noise
        return proc.stdout

    def bodies(self) -> list[dict[str, object]]:
        fakes = (self.deepseek, self.openrouter, self.local)
        return [b for f in fakes for b in f.bodies() if isinstance(b, dict) and b.get("tools")]


@pytest.fixture
def world(upstream: Callable[[Handler], FakeUpstream], tmp_path: Path) -> World:
    return World(upstream, tmp_path, cloud_host=CLOUD_HOST)
