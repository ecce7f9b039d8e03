"""`hybridcc run -P PROFILE` on an engine that bypasses the proxy (needs the runner hook, issue 18)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.engines import ccr
from hybridcc.services.state import read_state
from tests.conftest import write_config
from tests.e2e.conftest import KEY, ClaudeRun
from tests.e2e.test_claude_e2e import STREAM_ARGS, _openai_agent
from tests.fakes.upstream import FakeUpstream, Handler

pytestmark = pytest.mark.e2e
Up = Callable[[Handler], FakeUpstream]
Run = Callable[..., ClaudeRun]


def test_run_launches_claude_through_claude_code_router(run_claude: Run, ccr_cli: str, upstream: Up) -> None:
    up = upstream(_openai_agent)
    write_config(f"""
[providers.viaccr]
engine = "ccr"
base_url = "{up.url}/v1"
api_key_env = "FAKE_KEY"
[profiles.viaccr]
provider = "viaccr"
model = "fake-big"
small_model = "fake-small"
""")
    res = run_claude("viaccr", ["-p", "Run the marker command with Bash.", *STREAM_ARGS],
                     extra_env={"HYBRIDCC_CCR": ccr_cli})  # fmt: skip
    assert res.code == 0, res.stderr[-2000:]
    assert res.result["result"] == "The command printed: hybridcc-e2e-42"
    assert "claude-code-router started on port" in res.stderr
    posts = [r for r in up.requests if r.method == "POST"]
    assert posts and all(r.path == "/v1/chat/completions" and r.headers["authorization"] == f"Bearer {KEY}"
                         for r in posts)  # fmt: skip
    assert not paths.service_log_file("proxy").exists()  # ccr, not hybridcc's proxy, served the session
    assert read_state(ccr.service_name(load_config().providers["viaccr"])) is None  # stopped after the session
