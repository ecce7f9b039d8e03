"""End-to-end with the real `claude` CLI from npm, at every tested release (installed by .ci/run).

Each test that uses ``claude_exe`` runs once per Claude Code release under test (ids
``claude-2.1.197``, ``claude-2.1.332``…):

- ``HYBRIDCC_TEST_CLAUDE`` unset: the pinned releases (``hybridcc.claude.TESTED_VERSIONS``) from
  ``~/.cache/hybridcc-ci/claude-VERSION`` (where .ci/run installs them).
- ``HYBRIDCC_TEST_CLAUDE=PATH[:PATH…]``: exactly those executables (scripts/e2e-newest passes the
  pinned newest and npm's newest); under CI=true every pinned release must be among them.

Under CI=true a missing release FAILS its tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from hybridcc.claude import TESTED_VERSIONS, claude_version
from tests.conftest import write_config
from tests.e2e.tmux import Tmux
from tests.helpers import IN_CI, require_tool

# Read at import, before the autouse fixture scrubs HYBRIDCC_* and HOME.
_ENV_CLAUDE = os.environ.get("HYBRIDCC_TEST_CLAUDE", "")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybridcc-ci"
KEY = "sk-fake-provider-key-e2e"  # the fake profiles' own key (FAKE_KEY)


@dataclass(frozen=True)
class ClaudeUnderTest:
    version: str
    path: str | None  # None: not installed here
    given: str | None = None  # the HYBRIDCC_TEST_CLAUDE entry that is not an executable


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _version_of(path: str) -> str:
    """npm's package.json beside the binary (instant); ``claude --version`` otherwise."""
    real = Path(path).resolve()
    for parent in list(real.parents)[:3]:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((parent / "package.json").read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("name") == "@anthropic-ai/claude-code":
                return str(data["version"])
    return claude_version(real) or "unknown"


@functools.cache
def releases_under_test() -> tuple[ClaudeUnderTest, ...]:
    given = [p for p in _ENV_CLAUDE.split(os.pathsep) if p]
    found: dict[str, str | None] = {}
    broken: dict[str, str] = {}
    for path in given:
        if _executable(path):
            found.setdefault(_version_of(path), path)
        else:
            label = f"missing-{Path(path).parent.parent.parent.name or 'path'}"
            found.setdefault(label, None)
            broken[label] = path
    if not given:
        for version in TESTED_VERSIONS:
            cached = str(_CACHE / f"claude-{version}" / "node_modules" / ".bin" / "claude")
            found[version] = cached if _executable(cached) else None
        on_path = shutil.which("claude")
        if not IN_CI and not any(found.values()) and on_path:
            found.setdefault(_version_of(on_path), on_path)  # a developer's own claude, better than nothing
    if IN_CI:
        for version in TESTED_VERSIONS:
            found.setdefault(version, None)  # a pinned release CI was not given: its tests fail
    return tuple(ClaudeUnderTest(v, p, broken.get(v)) for v, p in found.items())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "claude_under_test" in metafunc.fixturenames:
        subjects = releases_under_test()
        metafunc.parametrize(
            "claude_under_test", subjects, ids=[f"claude-{s.version}" for s in subjects], indirect=True
        )


@pytest.fixture
def claude_under_test(request: pytest.FixtureRequest) -> ClaudeUnderTest:
    subject: ClaudeUnderTest = request.param
    return subject


@pytest.fixture
def claude_exe(claude_under_test: ClaudeUnderTest) -> str:
    if claude_under_test.path is None:
        v = claude_under_test.version
        msg = (
            f"HYBRIDCC_TEST_CLAUDE names {claude_under_test.given}, which is not an executable"
            if claude_under_test.given
            else f"the real `claude` CLI {v} is required (bash .ci/run installs it into "
            f"~/.cache/hybridcc-ci/claude-{v}; or set HYBRIDCC_TEST_CLAUDE=PATH[:PATH…])"
        )
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return claude_under_test.path


@dataclass
class ClaudeRun:
    code: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def result(self) -> dict[str, Any]:
        results = [e for e in self.events if e.get("type") == "result"]
        assert results, f"no result event; stderr: {self.stderr[-2000:]}"
        return results[-1]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def session_env(claude_exe: str, home: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for `hybridcc run` (the autouse fixture already isolated HOME)."""
    return {
        "PATH": f"{Path(claude_exe).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "HYBRIDCC_HOME": os.environ["HYBRIDCC_HOME"],
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "FAKE_KEY": KEY,
        "NO_COLOR": "1",
        **(extra_env or {}),
    }


def _stop_session(proc: subprocess.Popen[str], env: dict[str, str]) -> None:
    """A session that overran its time: kill hybridcc and everything under it, then its proxy."""
    with contextlib.suppress(psutil.Error):
        tree = psutil.Process(proc.pid).children(recursive=True)
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGKILL)
    proc.kill()
    subprocess.run([sys.executable, "-m", "hybridcc", "proxy", "stop"], env=env, capture_output=True, timeout=60, check=False)  # fmt: skip


@dataclass
class Session:
    """A running `hybridcc run` (see ``start_session``)."""

    proc: subprocess.Popen[str]
    env: dict[str, str]
    started: float

    def finish(self, timeout: float) -> ClaudeRun:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_session(self.proc, self.env)
            out, err = self.proc.communicate(timeout=30)
            pytest.fail(f"`hybridcc run` still running after {timeout:.0f}s (killed); stderr tail: {err[-1500:]!r}")
        events = []
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return ClaudeRun(self.proc.returncode, events, out, err, time.monotonic() - self.started)


StartSession = Callable[..., Session]
Run = Callable[..., ClaudeRun]


@pytest.fixture
def start_session(isolated_env: Path, tmp_path: Path) -> Iterator[StartSession]:
    """``start(profile, args, claude=PATH, hybridcc_args=…, extra_env=…)``: `hybridcc run` started.

    The process tree: hybridcc → proxy daemon and claude. Whatever a test leaves running is
    killed at the end (the test still fails on its own assertions first).
    """
    workdir = tmp_path / "work"
    workdir.mkdir()
    started: list[Session] = []

    def start(
        profile: str,
        args: list[str],
        *,
        claude: str,
        hybridcc_args: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> Session:
        env = session_env(claude, isolated_env, extra_env)
        argv = [sys.executable, "-m", "hybridcc", "run", "--provider", profile, "--claude-path", claude,
                *hybridcc_args, "--", *args]  # fmt: skip
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        session = Session(proc, env, time.monotonic())
        started.append(session)
        return session

    yield start
    for session in started:
        if session.proc.poll() is None:
            _stop_session(session.proc, session.env)
            session.proc.communicate(timeout=30)


@pytest.fixture
def run_claude(claude_exe: str, start_session: StartSession) -> Run:
    """`hybridcc run --provider P [OPTS] -- ARGS` to completion, bounded by ``timeout`` seconds."""

    def run(
        profile: str,
        args: list[str],
        *,
        extra_env: dict[str, str] | None = None,
        hybridcc_args: tuple[str, ...] = (),
        claude: str | None = None,
        timeout: float = 120,
    ) -> ClaudeRun:
        session = start_session(profile, args, claude=claude or claude_exe, hybridcc_args=hybridcc_args,
                                extra_env=extra_env)  # fmt: skip
        return session.finish(timeout)

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


@pytest.fixture
def tmux(tmp_path: Path, claude_exe: str, isolated_env: Path) -> Iterator[Tmux]:
    """An interactive `claude` session's terminal (tests/e2e/tmux.py); stopped with the proxy it used."""
    require_tool("tmux")  # under CI=true a missing tmux fails (.ci/run installs it)
    env = session_env(claude_exe, isolated_env, {"TERM": "xterm-256color"})
    t = Tmux(tmp_path / "tmux.sock", env)
    yield t
    subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True, timeout=30, check=False)
    subprocess.run([sys.executable, "-m", "hybridcc", "proxy", "stop"], env=env, capture_output=True, timeout=60, check=False)  # fmt: skip
