"""Claude Code's `/model` picker lists every profile's models, and picking one reaches its provider (issue 13).

With the real `claude`: 2.1.332 fetches the proxy's GET /v1/models (gateway model discovery) and
caches it in ``~/.claude/cache/gateway-models.json``; 2.1.197 skips discovery while
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` is set and shows the readable tier names and the
one custom row. The last test drives the interactive picker in tmux, as a user would.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hybridcc import paths
from hybridcc.versions import version_tuple
from tests.e2e.conftest import ClaudeRun, ClaudeUnderTest, e2e_config
from tests.e2e.tmux import Tmux, trust
from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    RecordedRequest,
    Reply,
    anthropic_text_stream,
    error_reply,
    openai_json,
    openai_text_stream,
)
from tests.helpers import wait_for, write_script

pytestmark = pytest.mark.e2e
Run = Callable[..., ClaudeRun]
Up = Callable[[Handler], FakeUpstream]
# Measured: 2.1.332 runs discovery with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, 2.1.197 does not.
DISCOVERY_DESPITE_NONESSENTIAL = (2, 1, 332)


def _openai(r: RecordedRequest) -> Reply:
    body = r.json() or {}
    return openai_text_stream(["from fake-openai"]) if body.get("stream") else openai_json("from fake-openai")


def _anthropic(r: RecordedRequest) -> Reply:
    if r.method != "POST" or not r.path.startswith("/v1/messages"):
        return error_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": r.path}})
    return anthropic_text_stream(["from fake-anthropic"], model=(r.json() or {}).get("model", "m"))


def _config(openai_url: str, anthropic_url: str) -> None:
    """The e2e profiles, with fake-anthropic as the default profile: the one custom row (all that
    2.1.197 adds to the tier rows) offers the default profile first."""
    e2e_config(openai_url=openai_url, anthropic_url=anthropic_url)
    path = paths.config_file()
    path.write_text('default_profile = "fake-anthropic"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")


def _main_models(up: FakeUpstream) -> list[str]:
    """The model of each conversation request (background requests carry no tools)."""
    return [str(b.get("model")) for b in up.bodies("/") if isinstance(b, dict) and b.get("tools")]


def _discovers(claude: ClaudeUnderTest) -> bool:
    return version_tuple(claude.version) >= DISCOVERY_DESPITE_NONESSENTIAL


def test_picker_lists_other_profiles_and_a_pick_reaches_its_provider(
    run_claude: Run, upstream: Up, claude_under_test: ClaudeUnderTest, isolated_env: Path
) -> None:
    fo, fa = upstream(_openai), upstream(_anthropic)
    _config(fo.url, fa.url)
    first = run_claude("fake-openai", ["-p", "hi", "--output-format", "json"])
    assert first.code == 0, first.output[-3000:]
    cache = isolated_env / ".claude" / "cache" / "gateway-models.json"
    if _discovers(claude_under_test):
        data = json.loads(cache.read_text(encoding="utf-8"))
        assert data["baseUrl"].endswith("/p/fake-openai")
        rows = {m["id"]: m["display_name"] for m in data["models"]}
        assert rows["anthropic:fake-anthropic/fa-big"] == "fake-anthropic · fa-big"
        assert rows["anthropic:fake-anthropic/fa-small"] == "fake-anthropic · fa-small"
        assert list(rows) == ["anthropic:fake-anthropic/fa-big", "anthropic:fake-anthropic/fa-small"]  # own: tiers
    else:
        assert not cache.exists()  # the custom row and the tier names are what this release shows
    # What the picker sends once a row is picked (and what `--model` takes): another provider.
    picked = run_claude("fake-openai", ["-p", "hi", "--model", "anthropic:fake-anthropic/fa-big", "--output-format", "json"])  # fmt: skip
    assert picked.code == 0, picked.output[-3000:]
    assert json.loads(picked.stdout)["result"] == "from fake-anthropic"
    assert _main_models(fa) == ["fa-big"] and _main_models(fo) == ["fake-big"]


def test_interactive_picker_switches_provider(
    tmux: Tmux, upstream: Up, claude_exe: str, claude_under_test: ClaudeUnderTest, isolated_env: Path, tmp_path: Path
) -> None:
    fo, fa = upstream(_openai), upstream(_anthropic)
    _config(fo.url, fa.url)
    workdir = tmp_path / "work"
    workdir.mkdir()
    trust(isolated_env, workdir)
    exports = "".join(f"export {k}='{v}'\n" for k, v in tmux.env.items())
    script = write_script(tmp_path / "session.sh", f"{exports}cd '{workdir}'\nexec '{sys.executable}' -m hybridcc run "
                          f"--provider fake-openai --claude-path '{claude_exe}'\n")  # fmt: skip
    tmux("new-session", "-d", "-s", "cc", "-x", "200", "-y", "50", str(script))
    tmux.wait("❯")
    if _discovers(claude_under_test):  # the picker reads the list discovery caches at start-up
        cache = isolated_env / ".claude" / "cache" / "gateway-models.json"
        wait_for(cache.exists, timeout=30, what="Claude Code's gateway model cache")
    tmux.keys("/model", literal=True)
    tmux.keys("Enter")
    screen = tmux.wait("fake-anthropic · fa-big", "fake-openai · fake-big")
    print(screen)  # shown if the test fails later
    if _discovers(claude_under_test):
        assert "fake-anthropic · fa-small" in screen  # a row only discovery provides
    # One key at a time, each waited for: keys sent before the list takes input are lost.
    tmux.move_cursor_to("fake-anthropic · fa-big")
    tmux.keys("s")  # this session only: nothing written to the user's settings
    done = tmux.wait("Set model to")  # 2.1.332 names the row's label, 2.1.197 its id
    assert re.search(r"Set model to (fake-anthropic · fa-big|anthropic:fake-anthropic/fa-big)", done), done
    tmux.keys("say hi", literal=True)
    tmux.keys("Enter")
    wait_for(lambda: "fa-big" in _main_models(fa), timeout=60, what="the picked model's request at fake-anthropic")
    tmux.wait("from fake-anthropic")
    assert _main_models(fo) == []  # the conversation went to the picked provider only
