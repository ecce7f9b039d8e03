"""The team-gateway tests (issue 18): unit tests run in the default suite; those marked
``gateway`` drive the real LiteLLM and Redis and run with ``pytest -m gateway`` (.ci/gateway).

LiteLLM comes from its own venv (scripts/ci-gateway): ``HYBRIDCC_TEST_LITELLM=/path/to/litellm``,
else ``~/.cache/hybridcc-ci/litellm-*/bin/litellm``. Redis: ``HYBRIDCC_TEST_REDIS`` or
``redis-server`` on PATH. Under CI=true a missing one FAILS the tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import start_session  # noqa: F401 - the fixtures, shared with these tests
from tests.helpers import IN_CI, require_tool, write_script
from tests.proxy.conftest import start_proxy  # noqa: F401

# Read at import, before the autouse fixture scrubs HYBRIDCC_* and HOME.
_ENV_LITELLM = os.environ.get("HYBRIDCC_TEST_LITELLM", "")
_ENV_REDIS = os.environ.get("HYBRIDCC_TEST_REDIS", "")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybridcc-ci"
FAKE_LITELLM = Path(__file__).with_name("fake_litellm.py")

FIGURE = "gateway_figure"  # a user property: measured figures, printed at the end of the run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Read from the reports: under xdist the tests ran in a worker, this runs in the controller.
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])]
    lines = [str(v) for r in reports for k, v in getattr(r, "user_properties", []) if k == FIGURE]
    if lines:
        terminalreporter.section("team gateway: measured")
        for line in dict.fromkeys(lines):
            terminalreporter.write_line(line)


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Report a measured figure (printed in the run's summary)."""
    return lambda text: record_property(FIGURE, text)


def litellm_path() -> str:
    if _ENV_LITELLM:
        return require_tool("litellm", _ENV_LITELLM) if os.access(_ENV_LITELLM, os.X_OK) else _missing(_ENV_LITELLM)
    cached = sorted(_CACHE.glob("litellm-*/bin/litellm"))
    return require_tool("litellm", str(cached[-1]) if cached else None)


def _missing(path: str) -> str:
    msg = f"HYBRIDCC_TEST_LITELLM names {path}, which is not an executable (run scripts/ci-gateway)"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def redis_path() -> str:
    return require_tool("redis-server", _ENV_REDIS or None)


@pytest.fixture
def fake_litellm(tmp_path: Path) -> str:
    """An executable standing in for `litellm` (tests/gateway/fake_litellm.py)."""
    return str(write_script(tmp_path / "bin" / "litellm", f'exec "{sys.executable}" "{FAKE_LITELLM}" "$@"\n'))
