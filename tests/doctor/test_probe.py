"""`doctor --probe`: the tool-call verdict (native | repaired | prose) and the token figures on
both wires, through the real proxy against fake upstreams on loopback (issue 17)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc.doctor.probe import spent, usage_of
from hybridcc.services.state import read_state
from tests.conftest import CliResult, write_config
from tests.fakes.upstream import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    anthropic_text_stream,
    anthropic_tool_stream,
    openai_text_stream,
    openai_tool_stream,
)
from tests.helpers import write_script

Cli = Callable[..., CliResult]
TEXT_CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'  # how Qwen 0.5B writes it
CACHED_USAGE = {"prompt_tokens": 900, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 899}}


@pytest.fixture
def probe(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], tuple[int, dict[str, str]]]:
    """``probe(provider_toml)``: `doctor --json --probe` on a profile ``up``; (exit code, its probe check)."""
    write_script(tmp_path / "bin" / "claude", 'echo "2.1.332 (Claude Code)"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("UP_KEY", "k")

    def run(provider: str) -> tuple[int, dict[str, str]]:
        write_config(f'default_profile = "up"\n[proxy]\nport = 0\n[providers.up]\n{provider}\n'
                     '[profiles.up]\nprovider = "up"\nmodel = "m"\n')  # fmt: skip
        r = cli("doctor", "--json", "--probe", code=None)  # callers assert the code
        checks = {c["id"]: c for c in json.loads(r.out)["checks"]}
        return r.code, checks["probe.up"]

    return run


def _openai(url: str, extra: str = "") -> str:
    return f'api = "openai"\nbase_url = "{url}/v1"\napi_key_env = "UP_KEY"\n{extra}'


def _anthropic(url: str) -> str:
    return f'api = "anthropic"\nbase_url = "{url}"\napi_key_env = "UP_KEY"\nauth = "x-api-key"\n'


@pytest.mark.parametrize(
    ("reply", "extra", "status", "verdict"),
    [
        (lambda r: openai_tool_stream("get_weather", {"city": "Paris"}), "", "ok", "tool calls: native"),
        # A loopback provider gets the repair by default: the text call becomes a real one.
        (lambda r: openai_text_stream([TEXT_CALL]), "", "ok", "tool calls: repaired"),
        (lambda r: openai_text_stream([TEXT_CALL]), "tool_repair = false\n", "fail", "tool calls: prose"),
    ],
    ids=["native", "repaired", "prose-with-repair-off"],
)
def test_tool_call_verdict(
    probe: Any, reply: Callable[[RecordedRequest], Reply], extra: str, status: str, verdict: str
) -> None:
    with FakeUpstream(reply) as up:
        code, check = probe(_openai(up.url, extra))
    assert check["status"] == status and verdict in check["message"], check
    assert (code == 0) == (status == "ok")
    if status == "fail":
        assert "tool_repair = true" in check["fix"]
    assert read_state("proxy") is None


def test_openai_wire_counts_cached_input_tokens(probe: Any) -> None:
    """llama.cpp serves a repeated prompt from its cache: 899 of 900 prompt tokens are cached.
    The figure was "1 in" (Anthropic's input_tokens leaves cache reads out)."""
    with FakeUpstream(lambda r: openai_text_stream([TEXT_CALL], usage=CACHED_USAGE)) as up:
        _, check = probe(_openai(up.url))
    assert "900 in (899 cached) / 7 out tokens" in check["message"], check


def test_anthropic_wire_takes_input_tokens_from_message_start(probe: Any) -> None:
    """/v1/messages servers send input tokens only in message_start (the figure was "? in")."""
    with FakeUpstream(lambda r: anthropic_tool_stream("get_weather", {"city": "Paris"})) as up:
        _, check = probe(_anthropic(up.url))
    assert check["status"] == "ok" and "30 in / 9 out tokens" in check["message"], check
    assert "tool calls: native" in check["message"]


def test_anthropic_wire_text_call_is_repaired(probe: Any) -> None:
    with FakeUpstream(lambda r: anthropic_text_stream([TEXT_CALL], input_tokens=42)) as up:
        _, check = probe(_anthropic(up.url))
    assert check["status"] == "ok" and "tool calls: repaired" in check["message"], check
    assert "42 in /" in check["message"]


def test_usage_merge_and_figures() -> None:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 10}}},
        {"type": "message_delta", "usage": {"output_tokens": 3, "input_tokens": None}},
    ]
    usage = usage_of(events)
    assert usage == {"input_tokens": 5, "cache_read_input_tokens": 10, "output_tokens": 3}
    assert spent(usage) == "15 in (10 cached) / 3 out tokens"
    assert spent({}) == "? in / ? out tokens"
    assert spent({"input_tokens": 7, "output_tokens": 1, "cache_creation_input_tokens": 0}) == "7 in / 1 out tokens"
