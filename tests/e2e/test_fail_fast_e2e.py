"""Fail fast with the cause, with the real `claude` (issue 12, item 1).

A dead endpoint or a rejected key must end `hybridcc run` within seconds with the cause on screen,
not after Claude Code's ~3 minutes of retries: the pre-flight stops the launch (exit 6 / 5), and
without it the proxy answers in a form Claude Code shows and does not retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hybridcc.errors import ExitCode
from tests.e2e.conftest import KEY, ClaudeRun, StartSession, e2e_config, releases_under_test
from tests.fakes.upstream import FakeUpstream, Handler, RecordedRequest, Reply, error_reply
from tests.helpers import IN_CI, free_port, write_script

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
# A pre-flight that works ends the launch in about a second; Claude Code's own retries take minutes.
FAST = 10.0
# Killed after this, so a run that hangs today costs half a minute, not three.
BOUND = 40.0


def _rejects_key(_r: RecordedRequest) -> Reply:
    """Every request refused the way OpenAI refuses a wrong key (quoting part of it back)."""
    message = "Incorrect API key provided: sk-fake-****-e2e. You can find your API key at example.invalid."
    return error_reply(401, {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}})


@pytest.fixture
def newest_claude() -> str:
    """The newest release under test, once: the pre-flight does not depend on claude's version."""
    from hybridcc.versions import version_tuple

    present = [s for s in releases_under_test() if s.path]
    if not present:
        msg = "the real `claude` CLI is required (bash .ci/run installs it; or set HYBRIDCC_TEST_CLAUDE)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    newest = max(present, key=lambda s: version_tuple(s.version))
    assert newest.path
    return newest.path


def _recording_wrapper(tmp_path: Path, claude: str) -> tuple[str, Path]:
    """A `claude` that notes it was launched, then runs the real one."""
    marker = tmp_path / "claude-launched"
    wrapper = write_script(tmp_path / "bin" / "claude", f'touch "{marker}"\nexec "{claude}" "$@"\n')
    return str(wrapper), marker


def test_preflight_dead_endpoint_exits_6_fast(start_session: StartSession, newest_claude: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    e2e_config(openai_url=f"http://127.0.0.1:{port}")
    wrapper, launched = _recording_wrapper(tmp_path, newest_claude)
    res = start_session("fake-openai", ["-p", "hello"], claude=wrapper).finish(BOUND)
    assert res.code == ExitCode.SERVICE, (res.code, res.output[-1500:])
    assert res.seconds < FAST, f"took {res.seconds:.1f}s"
    assert not launched.exists(), "claude was launched against a dead provider"
    assert f"127.0.0.1:{port}" in res.stderr, res.stderr
    assert re.search(r"refused|not answering|cannot connect|could not connect|unreachable|down", res.stderr, re.I)


def test_preflight_rejected_key_exits_5_fast(
    start_session: StartSession, newest_claude: str, upstream: Up, tmp_path: Path
) -> None:
    up = upstream(_rejects_key)
    e2e_config(openai_url=up.url)
    wrapper, launched = _recording_wrapper(tmp_path, newest_claude)
    res = start_session("fake-openai", ["-p", "hello"], claude=wrapper).finish(BOUND)
    assert res.code == ExitCode.AUTH, (res.code, res.output[-1500:])
    assert res.seconds < FAST, f"took {res.seconds:.1f}s"
    assert not launched.exists(), "claude was launched with a key the provider rejects"
    assert up.requests, "the pre-flight never asked the provider"
    assert "FAKE_KEY" in res.stderr, res.stderr  # the fix: the variable holding the rejected key
    assert re.search(r"401|reject|invalid|unauthori", res.stderr, re.I), res.stderr
    assert KEY not in res.output


def test_rejected_key_without_preflight_ends_fast_with_the_cause(
    run_claude: Run, claude_exe: str, upstream: Up, tmp_path: Path
) -> None:
    """The real `claude -p` session against a 401 upstream: the proxy's message, within seconds."""
    up = upstream(_rejects_key)
    e2e_config(openai_url=up.url)
    wrapper, launched = _recording_wrapper(tmp_path, claude_exe)
    res = run_claude("fake-openai", ["-p", "hello"], claude=wrapper, hybridcc_args=("--no-preflight",), timeout=BOUND)
    assert launched.exists(), f"claude did not start (is --no-preflight an option of `run`?): {res.output[-800:]}"
    assert "unknown option" not in res.output, f"`--no-preflight` reached claude: {res.output[-500:]}"
    assert any(r.method == "POST" for r in up.requests), "claude's request never reached the provider"
    assert res.code != 0, res.output
    assert res.seconds < 15, f"took {res.seconds:.1f}s (Claude Code retried?)"
    assert "FAKE_KEY" in res.output, f"the proxy's message (naming FAKE_KEY) is not on screen: {res.output[-1500:]}"
    assert KEY not in res.output
