"""`doctor --online` fails a context window too small for Claude Code's prompt (issue 17): the
window a local llama.cpp server reports in /props, or the profile's own context_window."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, write_config
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply
from tests.helpers import write_script

Cli = Callable[..., CliResult]


def _llama(n_ctx: int) -> Callable[[RecordedRequest], Reply]:
    """A llama-server's two GET answers: /props (its window) and /v1/models."""

    def handle(r: RecordedRequest) -> Reply:
        if r.path == "/props":
            data: object = {"default_generation_settings": {"n_ctx": n_ctx}}
        else:
            data = {"object": "list", "data": [{"id": "local"}]}
        return Reply(headers={"content-type": "application/json"}, body=json.dumps(data).encode())

    return handle


@pytest.fixture
def window_check(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, str]]:
    write_script(tmp_path / "bin" / "claude", 'echo "2.1.332 (Claude Code)"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin")

    def run(config: str) -> dict[str, str]:
        write_config(config)
        checks = {c["id"]: c for c in json.loads(cli("doctor", "--json", "--online", code=None).out)["checks"]}
        return checks["profile.up.window"]

    return run


def _config(url: str, profile_extra: str = "") -> str:
    return (f'default_profile = "up"\n[providers.up]\napi = "openai"\nbase_url = "{url}/v1"\n'
            f'[profiles.up]\nprovider = "up"\nmodel = "local"\n{profile_extra}')  # fmt: skip


@pytest.mark.parametrize(("n_ctx", "status"), [(8192, "fail"), (32768, "ok")])
def test_llamacpp_window_from_props(window_check: Callable[[str], dict[str, str]], n_ctx: int, status: str) -> None:
    with FakeUpstream(_llama(n_ctx)) as up:
        check = window_check(_config(up.url))
        assert any(r.path == "/props" for r in up.requests)
    assert check["status"] == status and f"{n_ctx} tokens (llama.cpp /props)" in check["message"], check
    if status == "fail":
        assert "smaller than Claude Code's prompt" in check["message"] and "-c 32768" in check["fix"], check


def test_profile_window_too_small(window_check: Callable[[str], dict[str, str]]) -> None:
    with FakeUpstream(_llama(65536)) as up:
        check = window_check(_config(up.url, "context_window = 4096\n"))
    assert check["status"] == "fail" and "4096 tokens (profile)" in check["message"], check
    assert "profiles.up.context_window" in check["fix"]
