"""Each doctor check in its OK, WARN and FAIL states, with fakes on loopback and in HOME."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc import paths
from hybridcc.services import proxy as proxy_svc
from hybridcc.services.state import read_state, write_state
from tests.conftest import CliResult, write_config
from tests.fakes.upstream import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    error_reply,
    openai_text_stream,
    openai_tool_stream,
)
from tests.helpers import free_port, wait_for, write_script
from tests.services.conftest import install_fake_ollama

Cli = Callable[..., CliResult]


def fake_claude(directory: Path, version: str = "2.1.197") -> Path:
    return write_script(directory / "claude", f'echo "{version} (Claude Code)"\n')


@pytest.fixture
def doctor(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, dict[str, dict[str, str]]]]:
    """Run `hybridcc doctor --json …`; returns (exit code, checks by id). A current claude is on PATH."""
    fake_claude(tmp_path / "claude-bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'claude-bin'}{os.pathsep}/usr/bin:/bin")

    def run(*args: str) -> tuple[int, dict[str, dict[str, str]]]:
        r = cli("doctor", "--json", *args, code=None)  # callers assert the code
        data = json.loads(r.out)
        assert set(data) == {"ok", "checks"} and isinstance(data["ok"], bool)
        for c in data["checks"]:
            assert set(c) == {"id", "area", "status", "message", "fix"} and c["status"] in ("ok", "warn", "fail")
        assert data["ok"] == (r.code == 0)
        return r.code, {c["id"]: c for c in data["checks"]}

    return run


def _cfg(extra: str = "", default: str = "up", base: str = "http://127.0.0.1:9/v1") -> Path:
    return write_config(f'default_profile = "{default}"\n[proxy]\nport = 0\n[providers.up]\napi = "openai"\nbase_url = "{base}"\napi_key_env = "UP_KEY"\n'
                        f'[profiles.up]\nprovider = "up"\nmodel = "up-main"\nsmall_model = "up-small"\n{extra}')  # fmt: skip


# -- config ------------------------------------------------------------------------------------------


def test_config_states(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    code, checks = doctor()
    assert checks["config.file"]["status"] == "ok" and "built-in defaults" in checks["config.file"]["message"]
    _cfg()
    code, checks = doctor()
    assert code == 0 and checks["config.file"]["status"] == "ok" and "is valid" in checks["config.file"]["message"]
    assert checks["config.default_profile"]["status"] == "ok"
    write_config("[proxy\n")
    code, checks = doctor()
    assert (
        code == 1 and checks["config.file"]["status"] == "fail" and "invalid TOML" in checks["config.file"]["message"]
    )


def test_inline_key_permissions_and_fix(doctor: Any, cli: Cli) -> None:
    path = write_config('[providers.openrouter]\napi_key = "sk-or-v1-inline-secret-9999"\n')
    path.chmod(0o600)
    _, checks = doctor("-P", "openrouter")
    assert checks["config.permissions"]["status"] == "warn"
    path.chmod(0o644)
    code, checks = doctor("-P", "openrouter")
    assert (
        code == 1
        and checks["config.permissions"]["status"] == "fail"
        and "chmod 600" in checks["config.permissions"]["fix"]
    )
    assert "sk-or-v1-inline-secret-9999" not in json.dumps(checks)
    assert checks["profile.openrouter.key"]["message"].endswith("sk-or-…9999")
    r = cli("doctor", "-P", "openrouter", "--fix", "--yes")
    assert "chmod 600" in r.err and (path.stat().st_mode & 0o777) == 0o600


# -- claude ------------------------------------------------------------------------------------------


def test_claude_states(doctor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    _cfg()
    _, checks = doctor()
    assert checks["claude.found"]["status"] == "ok" and "2.1.197" in checks["claude.found"]["message"]
    assert "claude.duplicates" not in checks
    fake_claude(tmp_path / "old-bin", "2.0.14")
    monkeypatch.setenv("PATH", f"{tmp_path / 'old-bin'}{os.pathsep}{tmp_path / 'claude-bin'}{os.pathsep}/usr/bin:/bin")
    _, checks = doctor()
    assert checks["claude.found"]["status"] == "warn" and "older than 2.1.197" in checks["claude.found"]["message"]
    assert (
        checks["claude.duplicates"]["status"] == "warn"
        and str(tmp_path / "old-bin" / "claude") in checks["claude.duplicates"]["message"]
    )
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)  # dev installs the SDK and its bundled CLI
    code, checks = doctor()
    assert code == 1 and checks["claude.found"]["status"] == "fail" and "npm install" in checks["claude.found"]["fix"]


def test_settings_and_shell_env(doctor: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    _cfg()
    _, checks = doctor()
    assert checks["claude.settings"]["status"] == "ok" and "claude.shell_env" not in checks
    (isolated_env / ".claude").mkdir()
    (isolated_env / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:3456", "ANTHROPIC_MODEL": "x"}})
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "b")
    code, checks = doctor()
    msg = checks["claude.settings"]["message"]
    assert (
        checks["claude.settings"]["status"] == "warn"
        and "settings.json: env.ANTHROPIC_BASE_URL" in msg
        and "env.ANTHROPIC_MODEL" in msg
    )
    assert checks["claude.shell_env"]["status"] == "warn"
    assert code == 0  # warnings do not fail
    (isolated_env / ".claude" / "settings.json").write_text("{broken")
    _, checks = doctor()
    assert (
        checks["claude.settings.invalid"]["status"] == "warn"
        and "not valid JSON" in checks["claude.settings.invalid"]["message"]
    )


# -- profiles ----------------------------------------------------------------------------------------


def test_profile_key_states(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _cfg()
    code, checks = doctor()
    assert (
        code == 1 and checks["profile.up.key"]["status"] == "fail" and "UP_KEY" in checks["profile.up.key"]["message"]
    )
    monkeypatch.setenv("UP_KEY", "sk-up-0123456789abcdef")
    code, checks = doctor()
    assert code == 0 and checks["profile.up.key"]["status"] == "ok" and "$UP_KEY" in checks["profile.up.key"]["message"]
    assert "0123456789abcdef" not in checks["profile.up.key"]["message"]
    _cfg(base="http://")
    _, checks = doctor()
    assert checks["profile.up.base_url"]["status"] == "fail"


def test_all_profiles(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _cfg()
    _, checks = doctor("--all")
    assert {"profile.gemini.key", "profile.deepseek.key", "profile.up.key", "profile.ollama.key"} <= set(checks)


def test_online_states(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UP_KEY", "good")

    def handle(r: RecordedRequest) -> Reply:
        if r.headers.get("authorization") != "Bearer good":
            return error_reply(401, {"error": {"message": "bad key"}})
        return Reply(
            headers={"content-type": "application/json"},
            body=json.dumps({"data": [{"id": "up-main"}, {"id": "up-small"}]}).encode(),
        )

    with FakeUpstream(handle) as up:
        _cfg(base=f"{up.url}/v1")
        code, checks = doctor("--online")
        assert (
            code == 0
            and checks["profile.up.online"]["status"] == "ok"
            and checks["profile.up.online.models"]["status"] == "ok"
        )
        assert "/v1/models" in [r.path for r in up.requests]  # (and the window probe, GET /props)
        _cfg(base=f"{up.url}/v1").write_text(
            _cfg(base=f"{up.url}/v1").read_text().replace('model = "up-main"', 'model = "ghost"')
        )
        _, checks = doctor("--online")
        assert (
            checks["profile.up.online.models"]["status"] == "warn"
            and "ghost" in checks["profile.up.online.models"]["message"]
        )
        monkeypatch.setenv("UP_KEY", "bad")
        code, checks = doctor("--online")
        assert (
            code == 1
            and checks["profile.up.online"]["status"] == "fail"
            and "rejected the key" in checks["profile.up.online"]["message"]
        )
    _cfg(base=f"http://127.0.0.1:{free_port()}/v1")
    code, checks = doctor("--online")
    assert checks["profile.up.online"]["status"] == "fail" and "unreachable" in checks["profile.up.online"]["message"]


def test_online_timeout_does_not_hang(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        _cfg(base=f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        t0 = time.monotonic()
        _, checks = doctor("--online", "--timeout", "1")
        assert time.monotonic() - t0 < 8
        assert (
            checks["profile.up.online"]["status"] == "fail"
            and "did not answer within 1s" in checks["profile.up.online"]["message"]
        )
    finally:
        silent.close()


# -- proxy -------------------------------------------------------------------------------------------


def test_proxy_states(doctor: Any, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    _cfg()
    _, checks = doctor()
    assert checks["proxy.running"]["status"] == "ok" and "not running" in checks["proxy.running"]["message"]
    assert checks["proxy.logs"]["status"] == "ok" and checks["proxy.token"]["status"] == "warn"
    cli("proxy", "start")
    try:
        _, checks = doctor()
        assert checks["proxy.running"]["status"] == "ok" and "healthy" in checks["proxy.running"]["message"]
        assert checks["proxy.version"]["status"] == "ok" and checks["proxy.config"]["status"] == "ok"
        assert checks["proxy.token"]["status"] == "ok"
        state = read_state("proxy")
        assert state is not None
        from dataclasses import replace

        write_state(replace(state, version="0.0.1"))
        monkeypatch.setenv("UP_KEY", "changed")
        _, checks = doctor()
        assert checks["proxy.version"]["status"] == "warn" and checks["proxy.config"]["status"] == "warn"
        paths.token_file().chmod(0o644)
        code, checks = doctor()
        assert code == 1 and checks["proxy.token"]["status"] == "fail"
    finally:
        proxy_svc.stop()


def test_proxy_unhealthy_stale_and_port_taken(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    from hybridcc.services.state import ServiceState

    monkeypatch.setenv("UP_KEY", "k")
    _cfg()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = psutil.Process(sleeper.pid)
        write_state(
            ServiceState(
                "proxy",
                sleeper.pid,
                proc.create_time(),
                "127.0.0.1",
                free_port(),
                "0.1.0",
                time.time(),
                "user",
                cmdline=proc.cmdline(),
            )
        )
        code, checks = doctor()
        assert (
            code == 1
            and checks["proxy.running"]["status"] == "fail"
            and "does not answer" in checks["proxy.running"]["message"]
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    _, checks = doctor()
    assert checks["proxy.running"]["status"] == "warn" and "stale" in checks["proxy.running"]["message"]
    paths.service_state_file("proxy").unlink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        write_config(
            f'default_profile = "up"\n[proxy]\nport = {port}\n[providers.up]\napi = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n[profiles.up]\nprovider = "up"\nmodel = "m"\n'
        )
        code, checks = doctor()
        assert (
            code == 1
            and checks["proxy.port"]["status"] == "fail"
            and f"pid {os.getpid()}" in checks["proxy.port"]["message"]
        )


# -- ollama ------------------------------------------------------------------------------------------


def _ollama_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: list[dict[str, Any]], catalog: dict[str, Any] | None = None,
                version: str = "0.14.2", context: int = 65536, model: str = "qwen3-coder:30b") -> str:  # fmt: skip
    install_fake_ollama(tmp_path / "ollama-bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'ollama-bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_OLLAMA_MODELS", json.dumps(models))
    monkeypatch.setenv("FAKE_OLLAMA_CATALOG", json.dumps(catalog or {}))
    monkeypatch.setenv("FAKE_OLLAMA_VERSION", version)
    port = free_port()
    write_config(
        f'[proxy]\nport = 0\n[ollama]\nhost = "127.0.0.1:{port}"\ncontext_length = {context}\n[profiles.ollama]\nmodel = "{model}"\n'
    )
    return f"http://127.0.0.1:{port}"


GOOD = {"name": "qwen3-coder:30b", "capabilities": ["completion", "tools"], "context_length": 262144}


def test_ollama_missing_binary(doctor: Any) -> None:
    write_config(f'[ollama]\nhost = "127.0.0.1:{free_port()}"\n')
    code, checks = doctor("-P", "ollama")
    assert code == 1 and checks["ollama.binary"]["status"] == "fail" and checks["ollama.server"]["status"] == "fail"


def test_ollama_not_running_fix_starts_it(
    doctor: Any, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ollama_env(tmp_path, monkeypatch, [GOOD])
    _, checks = doctor("-P", "ollama")
    assert checks["ollama.binary"]["status"] == "ok" and checks["ollama.server"]["status"] == "warn"
    r = cli("doctor", "-P", "ollama", "--fix", "--yes", "--json")
    try:
        assert "ollama started" in r.err
        checks = {c["id"]: c for c in json.loads(r.out)["checks"]}
        assert checks["ollama.server"]["status"] == "ok" and "started by hybridcc" in checks["ollama.server"]["message"]
        assert checks["ollama.version"]["status"] == "ok" and checks["ollama.context"]["status"] == "ok"
        assert checks["ollama.model.qwen3-coder:30b"]["status"] == "ok"
    finally:
        cli("ollama", "stop")


def test_ollama_model_states(doctor: Any, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"name": "tiny:1b", "capabilities": ["completion", "tools"], "context_length": 4096}
    notools = {"name": "gemma:2b", "capabilities": ["completion"], "context_length": 8192}
    _ollama_env(tmp_path, monkeypatch, [small, notools], catalog={"qwen3-coder:30b": {"capabilities": ["completion", "tools"], "context_length": 262144}},
                version="0.13.1", context=8192)  # fmt: skip
    cli("ollama", "start")
    try:
        _, checks = doctor("-P", "ollama")
        assert checks["ollama.version"]["status"] == "warn" and "translated" in checks["ollama.version"]["message"]
        assert checks["ollama.context"]["status"] == "fail" and "8192" in checks["ollama.context"]["message"]
        assert (
            checks["ollama.model.qwen3-coder:30b"]["status"] == "warn"
            and "not pulled" in checks["ollama.model.qwen3-coder:30b"]["message"]
        )
        r = cli("doctor", "-P", "ollama", "--fix", "--yes", code=1)  # the 8192 context is not its to fix
        assert "pulled qwen3-coder:30b" in r.err
        _, checks = doctor("-P", "ollama")
        assert checks["ollama.model.qwen3-coder:30b"]["status"] == "ok"
        text = paths.config_file().read_text()
        paths.config_file().write_text(
            text.replace('model = "qwen3-coder:30b"', 'model = "gemma:2b"\nsmall_model = "tiny:1b"')
        )
        code, checks = doctor("-P", "ollama")
        assert code == 1
        assert (
            checks["ollama.model.gemma:2b"]["status"] == "fail"
            and "tools" in checks["ollama.model.gemma:2b"]["message"]
        )
        assert (
            checks["ollama.model.tiny:1b.context"]["status"] == "fail"
            and "4096" in checks["ollama.model.tiny:1b.context"]["message"]
        )
    finally:
        cli("ollama", "stop")


def test_ollama_unmanaged_context_unknown(doctor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _ollama_env(tmp_path, monkeypatch, [GOOD])
    own = subprocess.Popen([str(tmp_path / "ollama-bin" / "ollama"), "serve"], env={**os.environ, "OLLAMA_HOST": url.split("//")[1]},
                           stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        from hybridcc.services.ollama import server_version

        wait_for(lambda: server_version(url) is not None, what="the user's own ollama to answer")
        _, checks = doctor("-P", "ollama")
        assert (
            checks["ollama.server"]["status"] == "ok"
            and "not started by hybridcc" in checks["ollama.server"]["message"]
        )
        assert (
            checks["ollama.context"]["status"] == "warn"
            and "OLLAMA_CONTEXT_LENGTH=65536" in checks["ollama.context"]["fix"]
        )
    finally:
        own.terminate()
        own.wait(timeout=10)


# -- probe -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        (lambda r: openai_tool_stream("get_weather", {"city": "Paris"}), "ok", "well-formed tool call"),
        (lambda r: openai_text_stream(["It is sunny in Paris."]), "fail", "answered in prose"),
        (lambda r: error_reply(401, {"error": {"message": "invalid api key"}}), "fail", "HTTP 401"),
    ],
)
def test_probe(
    doctor: Any, monkeypatch: pytest.MonkeyPatch, reply: Callable[[RecordedRequest], Reply], status: str, words: str
) -> None:
    monkeypatch.setenv("UP_KEY", "k")
    with FakeUpstream(reply) as up:
        _cfg(base=f"{up.url}/v1")
        code, checks = doctor("--probe")
        probe = checks["probe.up"]
        assert probe["status"] == status and words in probe["message"], probe
        assert (code == 0) == (status == "ok")
        sent = up.requests[-1].json()
        assert sent["tools"][0]["function"]["name"] == "get_weather"
    if status == "ok":
        assert "first token after" in probe["message"] and "tokens" in probe["message"]
    assert read_state("proxy") is None  # the proxy doctor started for the probe is gone


def test_table_output_and_exit_code(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_claude(tmp_path / "claude-bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'claude-bin'}{os.pathsep}/usr/bin:/bin")
    write_config(f'[ollama]\nhost = "127.0.0.1:{free_port()}"\n')
    r = cli("doctor", code=1)
    assert "FAIL" in r.out and "ollama.binary" in r.out and "[ollama]" in r.out  # brackets survive rendering
    assert "failures — problems found" in r.out


def test_init_fix_creates_config(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_claude(tmp_path / "claude-bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'claude-bin'}{os.pathsep}/usr/bin:/bin")
    assert not paths.config_file().exists()
    r = cli("doctor", "--fix", "--yes")
    assert "wrote config.toml" in r.err and paths.config_file().exists()


def test_no_check_hangs_on_a_silent_ollama(doctor: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        write_config(f'[ollama]\nhost = "127.0.0.1:{silent.getsockname()[1]}"\n')
        t0 = time.monotonic()
        _, checks = doctor("-P", "ollama")
        assert time.monotonic() - t0 < 10
        assert checks["ollama.server"]["status"] == "fail"
    finally:
        silent.close()
