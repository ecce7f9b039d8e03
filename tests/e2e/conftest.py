"""End-to-end with the real `claude` CLI from npm (installed by .ci/run into a cache).

Under CI=true a missing `claude` FAILS these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hybridcc.claude import TESTED_CLAUDE_VERSION
from tests.conftest import write_config
from tests.helpers import IN_CI

# Read before the autouse fixture scrubs HYBRIDCC_* and HOME.
_ENV_CLAUDE = os.environ.get("HYBRIDCC_TEST_CLAUDE")
_CACHE_CLAUDE = (
    Path.home() / ".cache" / "hybridcc-ci" / f"claude-{TESTED_CLAUDE_VERSION}" / "node_modules" / ".bin" / "claude"
)


def _claude_path() -> str | None:
    import shutil

    for candidate in (_ENV_CLAUDE, str(_CACHE_CLAUDE)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("claude")


@pytest.fixture
def claude_exe() -> str:
    path = _claude_path()
    if path is None:
        msg = "the real `claude` CLI is required (bash .ci/run installs it; or set HYBRIDCC_TEST_CLAUDE)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@dataclass
class ClaudeRun:
    code: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        results = [e for e in self.events if e.get("type") == "result"]
        assert results, f"no result event; stderr: {self.stderr[-2000:]}"
        return results[-1]


@pytest.fixture
def run_claude(claude_exe: str, isolated_env: Path, tmp_path: Path) -> Callable[..., ClaudeRun]:
    """`hybridcc run --provider P -- ARGS` as a real process tree: hybridcc → proxy daemon → claude."""
    workdir = tmp_path / "work"
    workdir.mkdir()

    def run(
        profile: str, args: list[str], *, extra_env: dict[str, str] | None = None, timeout: float = 120
    ) -> ClaudeRun:
        env = {
            "PATH": f"{Path(claude_exe).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(isolated_env),
            "HYBRIDCC_HOME": os.environ["HYBRIDCC_HOME"],
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "FAKE_KEY": "sk-fake-provider-key-e2e",
            "NO_COLOR": "1",
            **(extra_env or {}),
        }
        done = subprocess.run([sys.executable, "-m", "hybridcc", "run", "--provider", profile, "--claude-path", claude_exe, "--", *args],
                              env=env, cwd=workdir, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
        events = []
        for line in done.stdout.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return ClaudeRun(done.returncode, events, done.stdout, done.stderr)

    return run


def e2e_config(openai_url: str = "http://127.0.0.1:9", anthropic_url: str = "http://127.0.0.1:9") -> None:
    write_config(f"""
[proxy]
port = 0
[providers.fake-openai]
api = "openai"
base_url = "{openai_url}/v1"
api_key_env = "FAKE_KEY"
[providers.fake-anthropic]
api = "anthropic"
base_url = "{anthropic_url}"
api_key_env = "FAKE_KEY"
auth = "x-api-key"
[profiles.fake-openai]
provider = "fake-openai"
model = "fake-big"
small_model = "fake-small"
[profiles.fake-anthropic]
provider = "fake-anthropic"
model = "fa-big"
small_model = "fa-small"
""")
