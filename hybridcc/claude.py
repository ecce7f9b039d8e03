"""Finding the `claude` executable and asking its version."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from hybridcc import paths
from hybridcc.errors import MissingToolError
from hybridcc.versions import version_tuple

# The Claude Code releases the end-to-end tests run against in CI (.ci/run installs both): the
# oldest one hybridcc supports and the newest one it was tested with. scripts/e2e-newest tries
# npm's newest release; README "Claude Code versions" says how a maintainer bumps NEWEST_TESTED.
OLDEST_TESTED: Final = "2.1.197"
NEWEST_TESTED: Final = "2.1.332"
TESTED_VERSIONS: Final = (OLDEST_TESTED, NEWEST_TESTED)
# doctor warns about a claude older than this (the oldest tested release).
TESTED_CLAUDE_VERSION: Final = OLDEST_TESTED
INSTALL_HINT: Final = "install it with `npm install -g @anthropic-ai/claude-code`, or pass --claude-path"


@dataclass(frozen=True)
class ClaudeExe:
    path: Path
    source: str  # which rule found it, for --dry-run and doctor


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_claude(explicit: str | None = None, config_path: str | None = None) -> ClaudeExe:
    """`--claude-path`, HYBRIDCC_CLAUDE, config `claude_path`, PATH, install dirs, the SDK wheel."""
    candidates: list[tuple[str, str | None]] = [
        ("--claude-path", explicit),
        ("HYBRIDCC_CLAUDE", os.environ.get("HYBRIDCC_CLAUDE")),
        ("claude_path in config.toml", config_path),
    ]
    for source, value in candidates:
        if value:
            path = Path(value).expanduser()
            if not _executable(path):
                found = shutil.which(value)
                if found is None:
                    raise MissingToolError(f"claude not found at {value} (from {source})", hint=INSTALL_HINT)
                path = Path(found)
            return ClaudeExe(path, source)
    on_path = shutil.which("claude")
    if on_path:
        return ClaudeExe(Path(on_path), "PATH")
    for path in paths.claude_install_candidates():
        if _executable(path):
            return ClaudeExe(path, "install directory")
    bundled = _sdk_bundled()
    if bundled:
        return ClaudeExe(bundled, "claude-agent-sdk bundled CLI")
    raise MissingToolError("claude (Claude Code) is not installed or not on PATH", hint=INSTALL_HINT)


def _sdk_bundled() -> Path | None:
    try:
        spec = importlib.util.find_spec("claude_agent_sdk")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "_bundled" / "claude"
        if _executable(path):
            return path
    return None


def all_on_path() -> list[Path]:
    """Every `claude` on PATH, first one first (doctor warns when there are several)."""
    seen: list[Path] = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = Path(d) / "claude"
        if d and _executable(p) and p.resolve() not in [s.resolve() for s in seen]:
            seen.append(p)
    return seen


_VERSION = re.compile(r"(\d+\.\d+\.\d+)")


def claude_version(path: Path, timeout: float = 15.0) -> str | None:
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION.search(done.stdout)
    return m.group(1) if m else None


TestedFit = Literal["older", "tested", "newer"]


def tested_fit(version: str) -> TestedFit:
    """Where ``version`` lies against the tested range: older than it, inside it, or newer.

    Newer releases usually work (gateways break on new request fields, not on every release);
    older ones miss fixes hybridcc relies on.
    """
    v = version_tuple(version)
    if v < version_tuple(OLDEST_TESTED):
        return "older"
    if v > version_tuple(NEWEST_TESTED):
        return "newer"
    return "tested"
