"""Fixtures for the engine tests: the real claude-code-router 2.0.0 (scripts/ci-ccr installs it),
and the real `claude` fixtures of tests/e2e (one test per Claude Code release under test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures and the parametrizing hook, shared
    claude_exe,
    claude_under_test,
    pytest_generate_tests,
    run_claude,
    start_session,
)
from tests.helpers import IN_CI

# Read at import, before the autouse fixture scrubs HYBRIDCC_* and HOME.
_ENV_CCR = os.environ.get("HYBRIDCC_TEST_CCR", "")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybridcc-ci"
DEFAULT_CCR = _CACHE / "ccr" / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"


@pytest.fixture
def ccr_cli(monkeypatch: pytest.MonkeyPatch) -> str:
    """claude-code-router's dist/cli.js, handed to hybridcc as HYBRIDCC_CCR; under CI=true missing FAILS."""
    path = _ENV_CCR or str(DEFAULT_CCR)
    if not Path(path).is_file():
        msg = (f"claude-code-router 2.0.0 is required at {path} "
               "(run `eval \"$(scripts/ci-ccr)\"`, or set HYBRIDCC_TEST_CCR to its dist/cli.js)")  # fmt: skip
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    monkeypatch.setenv("HYBRIDCC_CCR", path)
    return path
