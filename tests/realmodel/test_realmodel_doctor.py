"""`hybridcc doctor` against the real llama-server and model (issue 17): the probe's tool-call
verdict with the repair on (the default for a local server) and off, its token figures, and the
window check failing the 8k window that is too small for Claude Code's full prompt."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.realmodel.conftest import MAIN_CTX, PROFILES, LlamaServer, realmodel_config

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]
Cli = Callable[..., CliResult]


@pytest.fixture
def doctor(cli: Cli, claude_exe: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, dict[str, str]]]:
    monkeypatch.setenv("PATH", f"{Path(claude_exe).parent}{os.pathsep}/usr/bin:/bin")

    def run(*args: str) -> dict[str, dict[str, str]]:
        r = cli("doctor", "--json", *args, code=None)  # the verdict is what these tests read
        return {c["id"]: c for c in json.loads(r.out)["checks"]}

    return run


@pytest.mark.parametrize(("repair", "status", "verdict"), [(None, "ok", "repaired"), (False, "fail", "prose")])
@pytest.mark.parametrize("profile", PROFILES)
def test_probe_verdict(
    profile: str,
    repair: bool | None,
    status: str,
    verdict: str,
    llama: LlamaServer,
    doctor: Callable[..., dict[str, dict[str, str]]],
) -> None:
    realmodel_config(llama, tool_repair=repair)
    check = doctor("--probe", "--provider", profile, "--timeout", "120")[f"probe.{profile}"]
    assert check["status"] == status and f"tool calls: {verdict}" in check["message"], check
    found = re.search(r"(\d+) in( \(\d+ cached\))? / (\d+) out tokens", check["message"])
    assert found and int(found.group(1)) > 1 and int(found.group(3)) > 0, check  # never "1 in" or "? in"


def test_online_fails_a_window_too_small_for_claude_code(
    llama: LlamaServer, doctor: Callable[..., dict[str, dict[str, str]]]
) -> None:
    realmodel_config(llama)
    check = doctor("--online", "--provider", "local-openai")["profile.local-openai.window"]
    assert check["status"] == "fail" and f"{MAIN_CTX} tokens (llama.cpp /props)" in check["message"], check
    assert "-c 32768" in check["fix"]
