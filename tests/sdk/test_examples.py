"""Every example in examples/ runs, against fake providers on 127.0.0.1 (issue 15).

The examples name real profiles (openrouter, deepseek, llamacpp); the test's config points those
providers at fakes, so each example runs as a user would run it: a real process, the real SDK and
its bundled CLI, the real proxy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IN_CI, require_tool
from tests.sdk.conftest import EXAMPLES, World
from tests.sdk.fake_model import prompts


def test_hybrid_query_example(world: World) -> None:
    out = world.run("hybrid_query.py")
    assert "answer: [openrouter] the tool said: hello from bash" in out
    # 1000 in + 100 out per call, priced at OpenRouter's qwen3-coder prices, not Sonnet's.
    cost_line = next(line for line in out.splitlines() if line.startswith("cost:"))
    ours, claude = (float(part.split("$")[1].split()[0].rstrip(")")) for part in cost_line.split("(", 1))
    assert 0 < ours < claude, cost_line
    assert all(b.get("model") == "qwen/qwen3-coder" for b in world.openrouter.bodies() if b.get("tools"))


def test_fork_example_two_branches_on_two_providers(world: World) -> None:
    out = world.run("fork_two_providers.py")
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    original = lines["original"]
    a_id, a_text = lines["branch A"].split(" ", 1)
    b_id, b_text = lines["branch B"].split(" ", 1)
    assert len({original, a_id, b_id}) == 3
    base = "We need a cache for API responses. Name the options."
    assert a_text == f"[deepseek deepseek-chat] I have seen: {base} | Branch A: go with LRU."
    assert b_text == f"[openrouter qwen/qwen3-coder] I have seen: {base} | Branch B: go with a TTL."
    transcripts = list((Path(os.environ["HOME"]) / ".claude" / "projects").glob(f"*/{original}.jsonl"))
    assert transcripts and "go with" not in transcripts[0].read_text()  # the original is intact


def test_checkpoint_example_forgets_the_later_turn(world: World) -> None:
    out = world.run("checkpoint_resume.py")
    assert "from the checkpoint: [deepseek deepseek-chat] I have seen: My name is Ada. | What is my name?" in out
    last = world.deepseek.bodies()[-1]
    assert prompts(last) == ["My name is Ada.", "What is my name?"]  # "call me Bob" never reached it


def test_mcp_tool_example(world: World) -> None:
    out = world.run("mcp_tool.py")
    assert "answer: [openrouter] the tool said: 42" in out


def test_permission_callback_example_denies(world: World) -> None:
    out = world.run("permission_callback.py")
    assert "denied: Bash touch created-by-the-model" in out
    assert "answer: [openrouter] the tool said: Error: this program only allows read-only commands" in out
    assert not (world.workdir / "created-by-the-model").exists()


def test_sensitive_project_example(world: World) -> None:
    out = world.run("sensitive_project.py")
    assert "complex work goes to: ('anthropic', 'claude-opus-4-7')" in out
    assert "sensitive work goes to: ('llamacpp', 'qwen-local')" in out
    assert "answer: [llamacpp qwen-local] I have seen: Summarise this project." in out
    assert "refused: profile openrouter is not local" in out and "marks this project sensitive" in out
    assert not world.openrouter.requests and not world.deepseek.requests  # nothing left the machine


# Read at import, before the autouse fixture scrubs HYBRIDCC_*: the node_modules holding
# @anthropic-ai/claude-agent-sdk (scripts/ci-ts-sdk installs it and prints this path).
_TS_SDK = os.environ.get("HYBRIDCC_TEST_TS_SDK", "")


def _ts_sdk() -> Path:
    found = Path(_TS_SDK) if _TS_SDK else None
    if found is not None and (found / "@anthropic-ai" / "claude-agent-sdk" / "package.json").is_file():
        return found
    why = f"HYBRIDCC_TEST_TS_SDK={_TS_SDK} holds no @anthropic-ai/claude-agent-sdk" if _TS_SDK else (
        "the TypeScript Agent SDK is required: HYBRIDCC_TEST_TS_SDK=$(scripts/ci-ts-sdk)")  # fmt: skip
    if IN_CI:
        pytest.fail(why)
    pytest.skip(why)


def test_typescript_example_through_the_proxy(world: World, tmp_path: Path) -> None:
    node = require_tool("node")
    modules = _ts_sdk()
    # As in a user's project: the script beside a node_modules holding the SDK.
    script = world.workdir / "hybrid_query.mjs"
    shutil.copy(EXAMPLES / "hybrid_query.mjs", script)
    (world.workdir / "node_modules").symlink_to(modules)
    env = {**os.environ, "OPENROUTER_API_KEY": "sk-fake-openrouter-SECRET",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    try:
        proc = subprocess.run([node, str(script)], cwd=world.workdir, env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
    finally:
        subprocess.run([sys.executable, "-m", "hybridcc", "proxy", "stop"], env=env, capture_output=True,
                       timeout=60, check=False)  # fmt: skip  # --lease left it up for the (gone) node process
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "answer: [openrouter] the tool said: hello from typescript" in proc.stdout
    assert "unrecognized_model" not in proc.stderr
    assert all(b.get("model") == "qwen/qwen3-coder" for b in world.openrouter.bodies() if b.get("tools"))
